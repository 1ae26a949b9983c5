"""Test session setup for every package: real mirror data, an isolated cache."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parent
MIRROR = ROOT.parent / "shared" / "data"
CACHE_PREFIX = "linernotes-test-cache-"


def pytest_configure(config):
    if "LINERNOTES_DATA_MIRROR" not in os.environ and MIRROR.is_dir():
        os.environ["LINERNOTES_DATA_MIRROR"] = str(MIRROR)
    os.environ["LINERNOTES_CACHE_DIR"] = tempfile.mkdtemp(prefix=CACHE_PREFIX)
    os.environ.pop("LINERNOTES_LOAD_PLUGINS", None)
    os.environ.pop("LINERNOTES_CONFIG_DIR", None)
    os.environ["HF_HUB_OFFLINE"] = "1"


def pytest_unconfigure(config):
    """Remove the session's cache (up to 1 GB: the converted model, fitted state)."""
    cache = os.environ.get("LINERNOTES_CACHE_DIR", "")
    if Path(cache).name.startswith(CACHE_PREFIX):
        shutil.rmtree(cache, ignore_errors=True)


@pytest.fixture(scope="session")
def pipeline():
    """The default pipeline with the template generator on the mirror's Last.fm data, built once."""
    if not (Path(os.environ.get("LINERNOTES_DATA_MIRROR", "")) / "hetrec2011-lastfm-2k").is_dir():
        pytest.skip("needs LINERNOTES_DATA_MIRROR with hetrec2011-lastfm-2k")
    import linernotes

    return linernotes.build_pipeline(["generator=template"], progress=False)
