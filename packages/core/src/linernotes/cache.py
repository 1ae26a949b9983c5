"""Fitted state on disk: what a component computes in ``fit`` is computed once per catalog
version and parameters, then loaded.

An entry lives in ``<cache dir>/fitted/<kind>-<digest>.bin`` (the cache dir is
``$LINERNOTES_CACHE_DIR`` or the platform's user cache). The digest covers the
kind, the catalog's name and version, the parameters and the caller's format
``version``, so a change to any of them fits afresh; the old entry is simply
never read again. Deleting the folder clears the cache. Only catalogs with a
version (a prepared bundle, or a holdout view of one) are cached.

An entry is the state pickled (protocol 5) with its large arrays stored after it,
page aligned, and memory-mapped copy-on-write when loaded: a 150 MB matrix costs
nothing until its pages are read, and it may still be modified in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .catalog import Catalog

T = TypeVar("T")

FOLDER = "fitted"
INLINE_BYTES = 1 << 16
"""Arrays smaller than this stay inside the pickle; larger ones are memory-mapped."""
_ALIGN = 4096


def cached(kind: str, catalog: Catalog, params: dict, fit: Callable[[], T], version: int = 1) -> T:
    """``fit()``'s result, stored on disk the first time and loaded afterwards.

    ``kind`` names what is fitted ("colisten", "ease"); ``params`` are every
    parameter the result depends on (JSON-able); bump ``version`` when the code
    changes what ``fit`` returns. Without a catalog version, ``fit()`` runs every time.
    """
    if not catalog.version:
        return fit()
    path = entry_path(kind, catalog, params, version)
    if path.is_file():
        try:
            return load(path)
        except Exception:  # a damaged or foreign file is refitted, never trusted
            pass
    state = fit()
    save(state, path)
    return state


def entry_path(kind: str, catalog: Catalog, params: dict, version: int = 1) -> Path:
    """Where ``cached`` keeps this entry."""
    from .datasets import cache_dir

    key = json.dumps(
        [kind, catalog.name, catalog.version, params, version], sort_keys=True, default=str
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / FOLDER / f"{kind}-{digest}.bin"


def save(state, path: Path) -> None:
    """Write ``state`` to ``path`` atomically (see the module docstring for the layout)."""
    buffers: list[pickle.PickleBuffer] = []

    def out_of_band(buffer: pickle.PickleBuffer) -> bool:
        if buffer.raw().nbytes < INLINE_BYTES:
            return True  # in-band
        buffers.append(buffer)
        return False

    body = pickle.dumps(state, protocol=5, buffer_callback=out_of_band)
    spans, offset = [], 0
    for buffer in buffers:
        size = buffer.raw().nbytes
        spans.append((offset, size))
        offset += -(-size // _ALIGN) * _ALIGN
    head = pickle.dumps((body, spans), protocol=5)
    start = -(-(8 + len(head)) // _ALIGN) * _ALIGN
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for buffer, (at, _) in zip(buffers, spans, strict=True):
            f.seek(start + at)
            f.write(buffer.raw())
        f.truncate(start + offset)
    tmp.replace(path)


def load(path: Path):
    """Read an entry that :func:`save` wrote; its large arrays are memory-mapped."""
    import numpy as np

    with path.open("rb") as f:
        size = int.from_bytes(f.read(8), "little")
        body, spans = pickle.loads(f.read(size))
    start = -(-(8 + size) // _ALIGN) * _ALIGN
    data = np.memmap(path, mode="c", offset=start) if spans else None
    return pickle.loads(body, buffers=[data[at : at + n] for at, n in spans])
