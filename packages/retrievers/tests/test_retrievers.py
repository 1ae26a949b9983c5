import pytest
from linernotes import Context, Listener, Request
from linernotes.testing import RetrieverContract
from linernotes_retrievers import CoListening, Popular


class TestCoListeningContract(RetrieverContract):
    @pytest.fixture(params=["count", "log", "bm25"])
    def component(self, request):
        return CoListening(weighting=request.param, neighbours=10)


class TestPopularContract(RetrieverContract):
    @pytest.fixture
    def component(self):
        return Popular()


def genre_of(catalog, item_id):
    return catalog.item(item_id).name.split(" Artist")[0]


@pytest.fixture(scope="module")
def colisten(tmp_path_factory):
    from linernotes.testing import tiny_catalog

    catalog = tiny_catalog(tmp_path_factory.mktemp("tiny"))
    retriever = CoListening(neighbours=10)
    retriever.fit(catalog)
    return retriever, catalog


def test_colistening_finds_the_listeners_own_genre(colisten):
    retriever, catalog = colisten
    hits = total = 0
    for lid in catalog.listener_ids:
        history = catalog.history(lid)
        genres = [genre_of(catalog, i) for i in history]
        main = max(set(genres), key=genres.count)
        [cands] = retriever.retrieve([Request(Listener(lid, history))], 3)
        hits += sum(genre_of(catalog, c.item_id) == main for c in cands)
        total += len(cands)
    assert total and hits / total > 0.8


def test_the_similarity_is_sparse_and_pruned(colisten):
    retriever, catalog = colisten
    sim = retriever.similarity
    assert sim.shape == (len(catalog.item_ids),) * 2
    assert (sim.getnnz(axis=1) <= 10).all()
    assert sim.diagonal().sum() == 0


def test_a_seed_steers_a_cold_start(colisten):
    retriever, catalog = colisten
    seed = catalog.item_ids[0]
    [cands] = retriever.retrieve([Request(Listener(), Context(seed=seed))], 5)
    assert cands and seed not in {c.item_id for c in cands}
    assert all(genre_of(catalog, c.item_id) == genre_of(catalog, seed) for c in cands[:3])


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="weighting must be one of count, log, bm25"):
        CoListening(weighting="tfidf")
    with pytest.raises(ValueError, match="neighbours"):
        CoListening(neighbours=0)


def test_popular_skips_what_the_listener_plays(colisten):
    _, catalog = colisten
    popular = Popular()
    popular.fit(catalog)
    top = popular.order[0][0]
    [cands] = popular.retrieve([Request(Listener("x", {top: 1.0}))], 5)
    assert top not in {c.item_id for c in cands} and len(cands) == 5
    scores = [c.score for c in cands]
    assert scores == sorted(scores, reverse=True) and scores[0] <= 1.0
