import pytest
from linernotes import Candidate, Listener, Request
from linernotes.testing import RankerContract, tiny_catalog
from linernotes_rankers import PopularityCoListening


class TestPopularityCoListeningContract(RankerContract):
    @pytest.fixture(params=[0.0, 0.1, 1.0])
    def component(self, request):
        return PopularityCoListening(popularity_weight=request.param)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


def ranked_ids(ranker, cands):
    return [c.item_id for c in ranker.rank([Request(Listener("x"))], [cands])[0]]


def test_weight_zero_orders_by_evidence_and_one_by_popularity(catalog):
    by_pop = sorted(catalog.item_ids, key=lambda i: -catalog.item(i).listeners)
    least, most = by_pop[-1], by_pop[0]
    cands = [Candidate(least, 2.0, {"colisten": 2.0}), Candidate(most, 1.0, {"colisten": 1.0})]
    evidence, popularity = PopularityCoListening(0.0), PopularityCoListening(1.0)
    for r in (evidence, popularity):
        r.fit(catalog)
    assert ranked_ids(evidence, cands) == [least, most]
    assert ranked_ids(popularity, cands) == [most, least]


def test_only_named_sources_count_as_evidence(catalog):
    a, b = catalog.item_ids[:2]
    cands = [Candidate(a, 1.0, {"popular": 1.0}), Candidate(b, 0.1, {"colisten": 0.1})]
    ranker = PopularityCoListening(0.0, sources=["colisten"])
    ranker.fit(catalog)
    ranked = ranker.rank([Request(Listener("x"))], [cands])[0]
    assert [c.item_id for c in ranked] == [b, a]
    assert ranked[0].score == pytest.approx(1.0) and ranked[1].score == 0.0
    assert ranked[0].sources == {"colisten": 0.1}


def test_weight_out_of_range_is_refused():
    with pytest.raises(ValueError, match="popularity_weight must be in"):
        PopularityCoListening(1.5)
