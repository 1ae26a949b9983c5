"""Re-rankers: MMR diversity and the blocklist, alone and in the pipeline."""

import os
from pathlib import Path

import pytest
from linernotes import Candidate, Listener, Request
from linernotes.testing import RankerContract, tiny_catalog
from linernotes_rankers import MMR, Blocklist


class TestMMRContract(RankerContract):
    @pytest.fixture(params=[0.0, 0.5, 1.0])
    def component(self, request):
        return MMR(trade_off=request.param, depth=8)


class TestBlocklistContract(RankerContract):
    @pytest.fixture
    def component(self):
        return Blocklist(items=[], tags=[])


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


def by_genre(catalog, genre):
    return [i for i in catalog.item_ids if catalog.item(i).name.lower().startswith(genre)]


def test_mmr_trades_relevance_for_variety(catalog):
    rock, jazz = by_genre(catalog, "rock"), by_genre(catalog, "jazz")
    cands = [Candidate(i, 1.0 - n / 100) for n, i in enumerate(rock[:4] + jazz[:1])]
    req = [Request(Listener("x"))]
    same = MMR(trade_off=1.0)
    diverse = MMR(trade_off=0.3)
    for r in (same, diverse):
        r.fit(catalog)
    assert [c.item_id for c in same.rank(req, [cands])[0]] == [c.item_id for c in cands]
    order = [c.item_id for c in diverse.rank(req, [cands])[0]]
    assert order[0] == rock[0] and order[1] == jazz[0]


def test_mmr_only_reorders_the_top_depth(catalog):
    items = catalog.item_ids[:10]
    cands = [Candidate(i, 1.0 - n / 100) for n, i in enumerate(items)]
    mmr = MMR(trade_off=0.0, depth=3)
    mmr.fit(catalog)
    ranked = mmr.rank([Request(Listener("x"))], [cands])[0]
    assert [c.item_id for c in ranked[3:]] == items[3:]


def test_blocklist_drops_items_by_id_name_and_tag(catalog):
    jazz = by_genre(catalog, "jazz")
    rock = by_genre(catalog, "rock")
    name = catalog.item(rock[0]).name
    blocklist = Blocklist(items=[rock[1], name], tags=["JAZZ"])
    blocklist.fit(catalog)
    cands = [Candidate(i, 1.0) for i in catalog.item_ids]
    kept = {c.item_id for c in blocklist.rank([Request(Listener("x"))], [cands])[0]}
    tagged = set(catalog.item_tags.filter(catalog.item_tags["tag"] == "jazz")["item_id"])
    assert tagged and not kept & tagged and tagged <= set(jazz)
    assert rock[0] not in kept and rock[1] not in kept and rock[2] in kept


def test_mmr_refuses_a_trade_off_outside_0_1():
    with pytest.raises(ValueError, match="trade_off must be in"):
        MMR(trade_off=1.5)


@pytest.mark.slow
def test_the_pipeline_applies_rerankers_after_the_ranker():
    """A blocklist drops the first pick, then MMR (keeping the order) runs."""
    from linernotes import build_pipeline

    mirror = Path(os.environ.get("LINERNOTES_DATA_MIRROR", ""))
    if not (mirror / "hetrec2011-lastfm-2k").is_dir():
        pytest.skip("needs LINERNOTES_DATA_MIRROR with hetrec2011-lastfm-2k")

    fast = ["generator=template", "ranker=popcolisten"]
    top = [p.item.name for p in build_pipeline(fast, progress=False).recommend(listener="2").picks]
    blocked = build_pipeline(
        [*fast, "rerankers=[blocklist,mmr]", f"rerankers.blocklist.params.items=['{top[0]}']",
         "rerankers.mmr.params.trade_off=1.0"],
        progress=False,
    )  # fmt: skip
    result = blocked.recommend(listener="2")
    names = [p.item.name for p in result.picks]
    assert top[0] not in names and names[0] == top[1]
    assert result.trace.components["rerankers"] == {"blocklist": "blocklist", "mmr": "mmr"}
