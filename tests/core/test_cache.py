"""The fitted-state cache: reused for the same catalog version and parameters, refitted
otherwise, and a warm pipeline that behaves exactly like a cold one."""

import numpy as np
import pytest
import scipy.sparse as sp
from linernotes import build_pipeline
from linernotes.cache import cached, entry_path
from linernotes.catalog import Catalog
from linernotes.split import holdout_split
from linernotes.testing import tiny_catalog


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    return tmp_path


def versioned(catalog, version):
    return Catalog.from_tables(catalog.tables, "tiny", version)


class Counting:
    """A fit function that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"calls": self.calls, "weights": np.arange(100_000, dtype=np.float32)}


def test_an_entry_is_reused_for_the_same_catalog_version_and_parameters(tiny, cache):
    fit = Counting()
    first = cached("thing", versioned(tiny, "v1"), {"k": 3}, fit)
    second = cached("thing", versioned(tiny, "v1"), {"k": 3}, fit)
    assert fit.calls == 1
    assert second["calls"] == 1
    assert np.array_equal(first["weights"], second["weights"])


@pytest.mark.parametrize(
    "change",
    [
        {"version": "v2"},  # the catalog changed
        {"params": {"k": 4}},
        {"kind": "other"},
        {"code": 2},  # the component's code changed what fit returns
    ],
)
def test_an_entry_is_refitted_when_an_input_changes(tiny, cache, change):
    fit = Counting()
    cached("thing", versioned(tiny, "v1"), {"k": 3}, fit)
    again = cached(
        change.get("kind", "thing"),
        versioned(tiny, change.get("version", "v1")),
        change.get("params", {"k": 3}),
        fit,
        version=change.get("code", 1),
    )
    assert fit.calls == 2 and again["calls"] == 2


def test_a_catalog_without_a_version_is_never_cached(tiny, cache):
    fit = Counting()
    cached("thing", tiny, {}, fit)
    cached("thing", tiny, {}, fit)
    assert fit.calls == 2
    assert not (cache / "fitted").exists()


def test_a_damaged_entry_is_refitted(tiny, cache):
    fit = Counting()
    catalog = versioned(tiny, "v1")
    cached("thing", catalog, {}, fit)
    entry_path("thing", catalog, {}).write_bytes(b"not an entry")
    assert cached("thing", catalog, {}, fit)["calls"] == 2
    assert cached("thing", catalog, {}, fit)["calls"] == 2  # and stored again


def test_large_arrays_are_memory_mapped_and_writable_in_memory_only(tiny, cache):
    catalog = versioned(tiny, "v1")
    matrix = sp.random(300, 400, density=0.2, format="csr", random_state=0)
    state = {"dense": np.ones((200, 200)), "sparse": matrix, "small": np.arange(3)}
    cached("thing", catalog, {}, lambda: state)
    loaded = cached("thing", catalog, {}, lambda: None)
    assert memory_mapped(loaded["dense"])
    assert (loaded["sparse"] != matrix).nnz == 0
    assert loaded["small"].tolist() == [0, 1, 2]
    loaded["dense"][0, 0] = 5.0  # copy-on-write: the entry on disk is unchanged
    assert cached("thing", catalog, {}, lambda: None)["dense"][0, 0] == 1.0


def memory_mapped(array) -> bool:
    while array is not None and not isinstance(array, np.memmap):
        array = array.base
    return array is not None


def test_holdout_views_are_versioned_by_everything_that_decides_them(tiny):
    catalog = versioned(tiny, "v1")
    views = {
        holdout_split(catalog, seed=0, fraction=0.2).train.version,
        holdout_split(catalog, seed=1, fraction=0.2).train.version,
        holdout_split(catalog, seed=0, fraction=0.1).train.version,
        holdout_split(catalog, seed=0, fraction=0.2, min_items=3).train.version,
    }
    assert len(views) == 4 and all(v.startswith("v1-") for v in views)
    assert holdout_split(tiny).train.version == ""  # nothing to key a cache by


def test_a_warm_pipeline_picks_and_writes_exactly_like_a_cold_one(hetrec_mirror):
    overrides = ["generator=template", "k=5"]
    cold = build_pipeline(overrides, progress=False)  # fits and stores every component
    entries = set((hetrec_mirror.cache / "fitted").glob("*.bin"))
    assert entries
    warm = build_pipeline(overrides, progress=False)  # loads them
    assert set((hetrec_mirror.cache / "fitted").glob("*.bin")) == entries  # nothing refitted
    listeners = [i for i in cold.catalog.listener_ids if cold.catalog.history(i)][:4]
    requests = [{"listener": i} for i in listeners] + [{"listener": listeners[0], "mood": "calm"}]
    for request in requests:
        a, b = cold.recommend(**request), warm.recommend(**request)
        assert a.picks and a.story is not None
        assert (a.picks, a.story, a.facts) == (b.picks, b.story, b.facts)
