"""LightGBM models, imported lightly and predicted through native code.

:func:`predictor` compiles a model's trees to a shared library with tl2cgen (through
treelite), which predicts the same scores as LightGBM several times faster. The library
is built once, which takes seconds and needs a C compiler (gcc or clang), and kept in
``<cache dir>/compiled/`` under a digest of the model's text, tl2cgen's version and
:data:`PARAMS`, so a refitted model is compiled afresh. Where no compiler is found or
compiling fails, LightGBM predicts, with a warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

FOLDER = "compiled"
COMPILERS = ("gcc", "clang")
PARAMS = {"parallel_comp": 4, "quantize": 1}
"""tl2cgen's code generation: sources compiled in 4 parts, and each feature value mapped to
its place among the model's thresholds once per row, so the trees compare integers (the
same branches, 1.7x faster on the blend's features: BENCHMARKS.md, "Retrieval and
ranking throughput")."""


def lightgbm():
    """``lightgbm``, imported without its optional scikit-learn and pandas layers (seconds of
    imports that a ranker of numpy arrays never uses), unless they are loaded already."""
    if "lightgbm" in sys.modules:
        return sys.modules["lightgbm"]
    absent = [m for m in ("sklearn", "pandas") if m not in sys.modules]
    sys.modules.update(dict.fromkeys(absent))  # None: "not installed" to lightgbm's compat
    try:
        import lightgbm
    finally:
        for m in absent:
            del sys.modules[m]
    return lightgbm


def predictor(model: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a float64 feature matrix to the scores of the LightGBM ``model``
    (its text): the compiled library's where it can be built, else LightGBM's own."""
    library = compiled(model)
    if library is None:
        return lightgbm().Booster(model_str=model).predict
    import tl2cgen

    native = tl2cgen.Predictor(str(library), verbose=False)
    one_at_a_time = threading.Lock()  # tl2cgen: "called by only one thread at a time"

    def predict(x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        matrix = tl2cgen.DMatrix(np.ascontiguousarray(x, dtype=np.float64))
        with one_at_a_time:  # e.g. the server's batch worker and its fallback lane
            return native.predict(matrix).reshape(len(x))

    return predict


def compiled(model: str) -> Path | None:
    """The shared library of ``model``'s trees (compiled on the first call, written
    atomically), or None where no C compiler is found or compiling fails."""
    from linernotes.datasets import cache_dir

    version = importlib.metadata.version("tl2cgen")  # a new tl2cgen compiles again
    key = f"{version}\n{sorted(PARAMS.items())}\n{model}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    library = cache_dir() / FOLDER / f"lightgbm-{digest}.so"
    if library.is_file():
        return library
    toolchain = next((c for c in COMPILERS if shutil.which(c)), None)
    if toolchain is None:
        warnings.warn(
            "no C compiler (gcc or clang) found: LightGBM predicts, several times slower",
            stacklevel=3,
        )
        return None
    import tl2cgen
    import treelite
    from rich.console import Console

    library.parent.mkdir(parents=True, exist_ok=True)
    partial = library.with_name(f"{library.stem}.{os.getpid()}.partial.so")
    trees = treelite.frontend.from_lightgbm(lightgbm().Booster(model_str=model))
    status = Console(stderr=True).status("compiling the blend's trees to native code (once)...")
    with status, contextlib.redirect_stdout(io.StringIO()):  # tl2cgen prints its log
        try:
            tl2cgen.export_lib(trees, toolchain=toolchain, libpath=str(partial), params=PARAMS)
        except Exception as e:  # a broken toolchain: predict with LightGBM instead
            partial.unlink(missing_ok=True)
            warnings.warn(f"compiling the trees failed, LightGBM predicts: {e}", stacklevel=3)
            return None
    partial.replace(library)
    return library
