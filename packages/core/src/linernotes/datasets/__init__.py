"""Datasets: where raw files come from, and the content-keyed cache of prepared catalogs.

Raw files come from ``$LINERNOTES_DATA_MIRROR/<dataset>/`` when that variable
is set (a mirror is trusted as it is: its structure is checked, not checksums),
else they are downloaded once from the official source into the user cache
(``$LINERNOTES_CACHE_DIR`` or the platform's cache folder). A prepared bundle
is cached under a key made of the adapter version and the sources' contents,
so a different mirror never reuses a stale bundle.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

from ..errors import DataError

MIRROR_ENV = "LINERNOTES_DATA_MIRROR"
CACHE_ENV = "LINERNOTES_CACHE_DIR"


def cache_dir() -> Path:
    """The root of linernotes' cache (downloads, prepared catalogs, models)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("linernotes"))


def locate(name: str, url: str, required: tuple[str, ...], progress: bool = True) -> Path:
    """The folder of dataset ``name``'s raw files: from the mirror, else downloaded from ``url``.

    ``required`` are file names the folder must hold; a zip download is extracted.
    """
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        folder = Path(mirror) / name
        if not folder.is_dir():
            raise DataError(f"{MIRROR_ENV}={mirror} has no folder '{name}'")
    else:
        folder = cache_dir() / "raw" / name
        if not (folder / ".complete").exists():
            _download_into(url, folder, progress)
    folder = _find_root(folder, required)
    missing = [f for f in required if not (folder / f).is_file()]
    if missing:
        raise DataError(f"{folder}: dataset '{name}' lacks {', '.join(missing)}")
    return folder


def _find_root(folder: Path, required: tuple[str, ...]) -> Path:
    """The folder itself or the one subfolder (as in a zip) that holds the first required file."""
    if not required or (folder / required[0]).is_file():
        return folder
    hits = sorted(p.parent for p in folder.rglob(required[0]))
    return hits[0] if hits else folder


def _download_into(url: str, folder: Path, progress: bool) -> None:
    import httpx
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    target = partial / url.rstrip("/").rsplit("/", 1)[-1]
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            response.raise_for_status()
            total = int(response.headers.get("content-length", 0)) or None
            columns = (*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn())
            with (
                Progress(*columns, disable=not progress, transient=True) as bar,
                open(target, "wb") as out,
            ):
                task = bar.add_task(f"downloading {target.name}", total=total)
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    bar.advance(task, len(chunk))
    except httpx.HTTPError as e:
        shutil.rmtree(partial, ignore_errors=True)
        raise DataError(
            f"could not download {url}: {e}; set {MIRROR_ENV} to a folder holding a copy"
        ) from e
    if zipfile.is_zipfile(target):
        try:
            with zipfile.ZipFile(target) as z:
                z.extractall(partial)
        except (zipfile.BadZipFile, OSError) as e:
            shutil.rmtree(partial, ignore_errors=True)
            raise DataError(f"could not unpack {url}: {e}") from e
        target.unlink()
    (partial / ".complete").write_text(url)
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)


def content_key(version: str, sources: dict[str, Path], params: dict | None = None) -> str:
    """A short hash of the adapter version and parameters and every source file's bytes."""
    h = hashlib.sha256(version.encode())
    h.update(json.dumps(params or {}, sort_keys=True, default=str).encode())
    for name in sorted(sources):
        for path in sorted(p for p in sources[name].rglob("*") if p.is_file()):
            if path.name.startswith("."):
                continue
            h.update(f"{name}/{path.relative_to(sources[name])}".encode())
            with open(path, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
    return h.hexdigest()[:16]


def prepare(dataset, force: bool = False, progress: bool = True) -> Path:
    """The prepared bundle folder of ``dataset``, building it when its cache key is new."""
    sources = dataset.fetch(progress=progress)
    key = content_key(dataset.version, sources, vars(dataset))
    out = cache_dir() / "catalogs" / dataset.name / key
    if (out / "manifest.json").is_file() and not force:
        return out
    tmp = out.with_name(f"{key}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    started = time.perf_counter()
    try:
        from rich.console import Console

        status = Console(stderr=True).status(f"preparing the {dataset.name} catalog")
        with status if progress else contextlib.nullcontext():
            dataset.build(sources, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest = {
        "dataset": dataset.name,
        "version": dataset.version,
        "key": key,
        "sources": {k: str(v) for k, v in sources.items()},
        "built_seconds": round(time.perf_counter() - started, 2),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def load_catalog(node, force: bool = False, progress: bool = True):
    """The catalog of a ``dataset`` config node, prepared (and cached) first."""
    from ..catalog import Catalog
    from ..registry import get_registry

    return Catalog(prepare(get_registry().create_from("dataset", node), force, progress))
