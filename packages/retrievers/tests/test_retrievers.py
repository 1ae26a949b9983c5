import linernotes_retrievers
import numpy as np
import pytest
from linernotes import Context, Listener, Request
from linernotes.catalog import Catalog
from linernotes.testing import RetrieverContract
from linernotes_retrievers import (
    CoListening,
    ContextRetriever,
    EmbeddingRetriever,
    Popular,
    Social,
    TagRetriever,
)


class TestCoListeningContract(RetrieverContract):
    @pytest.fixture(params=["count", "log", "bm25", "tfidf"])
    def component(self, request):
        return CoListening(weighting=request.param, neighbours=10)


class TestPopularContract(RetrieverContract):
    @pytest.fixture
    def component(self):
        return Popular()


class TestTagRetrieverContract(RetrieverContract):
    @pytest.fixture
    def component(self):
        return TagRetriever(profile_tags=3)


class TestEmbeddingRetrieverContract(RetrieverContract):
    @pytest.fixture(params=["exact", "usearch"])
    def component(self, request):
        return EmbeddingRetriever(index=request.param)


class TestSocialContract(RetrieverContract):
    @pytest.fixture
    def component(self):
        return Social()


class TestContextRetrieverContract(RetrieverContract):
    @pytest.fixture
    def component(self):
        return ContextRetriever(neighbours=10)


def genre_of(catalog, item_id):
    return catalog.item(item_id).name.split(" Artist")[0].lower()


def main_genre(catalog, history):
    genres = [genre_of(catalog, i) for i in history]
    return max(set(genres), key=genres.count)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    from linernotes.testing import tiny_catalog

    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def colisten(catalog):
    retriever = CoListening(neighbours=10)
    retriever.fit(catalog)
    return retriever, catalog


def fitted(cls, catalog, **params):
    retriever = cls(**params)
    retriever.fit(catalog)
    return retriever


def own_genre_share(retriever, catalog, n=3):
    hits = total = 0
    for lid in catalog.listener_ids:
        history = catalog.history(lid)
        [cands] = retriever.retrieve([Request(Listener(lid, history))], n)
        hits += sum(genre_of(catalog, c.item_id) == main_genre(catalog, history) for c in cands)
        total += len(cands)
    return hits / total if total else 0.0


def test_colistening_finds_the_listeners_own_genre(colisten):
    retriever, catalog = colisten
    assert own_genre_share(retriever, catalog) > 0.8


@pytest.mark.parametrize("weighting", ["log", "tfidf"])
def test_every_weighting_finds_the_listeners_own_genre(catalog, weighting):
    retriever = fitted(CoListening, catalog, weighting=weighting, neighbours=10)
    assert own_genre_share(retriever, catalog) > 0.8


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


@pytest.mark.parametrize(
    "cls,params,message",
    [
        (CoListening, {"weighting": "nope"}, "weighting must be one of count, log, bm25, tfidf"),
        (CoListening, {"neighbours": 0}, "neighbours"),
        (TagRetriever, {"profile_tags": 0}, "profile_tags must be at least 1"),
        (TagRetriever, {"context_weight": -1}, "context_weight must not be negative"),
        (EmbeddingRetriever, {"index": "faiss"}, "index must be one of exact, usearch"),
        (Social, {"overlap_weight": -1}, "overlap_weight must not be negative"),
        (ContextRetriever, {"popularity_weight": -1}, "popularity_weight must not be negative"),
    ],
)
def test_bad_parameters_are_refused(cls, params, message):
    with pytest.raises(ValueError, match=message):
        cls(**params)


@pytest.mark.parametrize("cls", [CoListening, Popular, TagRetriever, Social, ContextRetriever])
def test_retrieving_before_fitting_says_so(cls):
    with pytest.raises(RuntimeError, match="call fit"):
        cls().retrieve([Request(Listener("1", {"1": 1.0}))], 5)


def test_popular_skips_what_the_listener_plays(colisten):
    _, catalog = colisten
    popular = Popular()
    popular.fit(catalog)
    top = popular.order[0][0]
    [cands] = popular.retrieve([Request(Listener("x", {top: 1.0}))], 5)
    assert top not in {c.item_id for c in cands} and len(cands) == 5
    scores = [c.score for c in cands]
    assert scores == sorted(scores, reverse=True) and scores[0] <= 1.0


# -- tags ----------------------------------------------------------------------------------
def test_tags_find_the_listeners_own_genre(catalog):
    assert own_genre_share(fitted(TagRetriever, catalog), catalog) > 0.8


def test_a_mood_alone_reaches_the_tags_the_lexicon_names(catalog):
    tags = fitted(TagRetriever, catalog)
    [cands] = tags.retrieve([Request(Listener(), Context(mood="calm"))], 5)
    assert len(cands) == 5 and {genre_of(catalog, c.item_id) for c in cands} == {"ambient"}


def test_a_genre_named_in_the_context_counts_as_a_tag(catalog):
    tags = fitted(TagRetriever, catalog)
    [cands] = tags.retrieve([Request(Listener(), Context(activity="Hip-Hop at the gym"))], 5)
    assert {genre_of(catalog, c.item_id) for c in cands} == {"hip hop"}


def test_the_context_weight_shifts_a_listener_towards_the_context(catalog):
    lid = next(i for i in catalog.listener_ids if main_genre(catalog, catalog.history(i)) == "rock")
    request = Request(Listener(lid, catalog.history(lid)), Context(mood="calm"))
    weak = fitted(TagRetriever, catalog, context_weight=0.0).retrieve([request], 3)[0]
    strong = fitted(TagRetriever, catalog, context_weight=10.0).retrieve([request], 3)[0]
    assert {genre_of(catalog, c.item_id) for c in weak} == {"rock"}
    assert {genre_of(catalog, c.item_id) for c in strong} == {"ambient"}


# -- social --------------------------------------------------------------------------------
def test_social_proposes_only_what_friends_play(catalog):
    social = fitted(Social, catalog)
    for lid in catalog.listener_ids[:10]:
        history = catalog.history(lid)
        friends_items = {i for f in catalog.friends(lid) for i in catalog.history(f)}
        [cands] = social.retrieve([Request(Listener(lid, history))], 50)
        assert {c.item_id for c in cands} == friends_items - set(history)
        scores = [c.score for c in cands]
        assert scores == sorted(scores, reverse=True)
        assert all(set(c.sources) == {"social"} for c in cands)


def test_social_needs_a_known_listener(catalog):
    social = fitted(Social, catalog)
    anonymous = Request(Listener(None, catalog.history(catalog.listener_ids[0])))
    assert social.retrieve([anonymous], 10) == [[]]


def test_friends_who_share_taste_count_more(catalog):
    lid = next(i for i in catalog.listener_ids if len(catalog.friends(i)) >= 2)
    request = Request(Listener(lid, catalog.history(lid)))
    plain = fitted(Social, catalog, overlap_weight=0.0).retrieve([request], 50)[0]
    overlap = fitted(Social, catalog, overlap_weight=5.0).retrieve([request], 50)[0]
    assert {c.item_id for c in plain} == {c.item_id for c in overlap}
    assert [c.score for c in plain] != [c.score for c in overlap]


# -- context -------------------------------------------------------------------------------
def test_a_cold_start_gets_popular_artists_that_fit_the_context(catalog):
    context = fitted(ContextRetriever, catalog, neighbours=10)
    [cands] = context.retrieve([Request(Listener(), Context(mood="calm"))], 8)
    assert cands and {genre_of(catalog, c.item_id) for c in cands} == {"ambient"}
    plays = [catalog.item(c.item_id).listeners for c in cands]
    assert plays[0] >= plays[-1]


def test_a_seed_gets_its_neighbours_whatever_the_history(catalog):
    context = fitted(ContextRetriever, catalog, neighbours=10)
    rock = next(i for i in catalog.item_ids if genre_of(catalog, i) == "rock")
    jazz_fan = next(
        i for i in catalog.listener_ids if main_genre(catalog, catalog.history(i)) == "jazz"
    )
    request = Request(Listener(jazz_fan, catalog.history(jazz_fan)), Context(seed=rock))
    [cands] = context.retrieve([request], 3)
    assert cands and all(genre_of(catalog, c.item_id) == "rock" for c in cands)
    assert rock not in {c.item_id for c in cands}


def test_no_context_no_candidates(catalog):
    context = fitted(ContextRetriever, catalog)
    lid = catalog.listener_ids[0]
    assert context.retrieve([Request(Listener(lid, catalog.history(lid)))], 5) == [[]]


@pytest.mark.parametrize("cls", [TagRetriever, ContextRetriever])
def test_a_batch_in_small_blocks_gets_what_one_block_gets(catalog, cls, monkeypatch):
    import linernotes_retrievers._batch as batch

    retriever = fitted(cls, catalog)
    moods = ["calm", None, "energetic", None]
    requests = [
        Request(Listener(lid, catalog.history(lid)), Context(mood=moods[n % 4]))
        for n, lid in enumerate(catalog.listener_ids)
    ]
    whole = retriever.retrieve(requests, 5)
    width = len(catalog.item_ids)
    monkeypatch.setattr(batch, "BLOCK_CELLS", 3 * width)  # blocks of 3 requests
    blocked = retriever.retrieve(requests, 5)
    assert len(requests) > 3 and any(whole)
    assert [[(c.item_id, c.score) for c in cs] for cs in blocked] == [
        [(c.item_id, c.score) for c in cs] for cs in whole
    ]


@pytest.mark.parametrize(
    "make,fit",
    [
        (lambda: CoListening(neighbours=10), "CoListening._similarity"),
        (lambda: TagRetriever(), "TagRetriever._scores"),
        (lambda: ContextRetriever(neighbours=10), "CoListening._similarity"),
        (lambda: TagRetriever(), "Lexicon.__init__"),
    ],
)
def test_a_second_fit_on_the_same_catalog_version_loads_from_the_cache(
    catalog, tmp_path, monkeypatch, make, fit
):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    versioned = Catalog.from_tables(catalog.tables, catalog.name, "v1")
    make().fit(versioned)

    def refit(*args):
        raise AssertionError("refitted although cached")

    owner, name = fit.split(".")
    monkeypatch.setattr(getattr(linernotes_retrievers, owner), name, refit)
    make().fit(versioned)
    with pytest.raises(AssertionError, match="refitted"):
        make().fit(Catalog.from_tables(catalog.tables, catalog.name, "v2"))


@pytest.mark.parametrize("weighting", ["count", "bm25", "tfidf"])
def test_colistening_in_blocks_is_the_similarity_of_the_whole_product(
    catalog, monkeypatch, weighting
):
    import linernotes.sparse

    retriever = CoListening(weighting=weighting, neighbours=10)
    whole = retriever._similarity(catalog)  # the tiny catalog's product is one block
    monkeypatch.setattr(linernotes.sparse, "PAIRS_PER_BLOCK", 50)
    blocked = retriever._similarity(catalog)
    assert blocked.nnz and (blocked != whole).nnz == 0
    assert np.array_equal(blocked.indptr, whole.indptr)


def test_tag_scores_are_bm25s_scores_of_each_tag_alone(catalog):
    import bm25s

    retriever = fitted(TagRetriever, catalog)
    counts = retriever.item_tags.counts.tocsr()
    tokens = [t.replace(" ", "_") for t in retriever.item_tags.tags]
    docs = [
        [tokens[t] for t, c in zip(row.indices, row.data, strict=True) for _ in range(int(c))]
        for row in counts
    ]
    bm25 = bm25s.BM25(k1=retriever.k1, b=retriever.b)
    bm25.index(docs, show_progress=False)
    expected = np.vstack([bm25.get_scores([t]) for t in tokens])
    assert retriever.scores.dtype == expected.dtype
    assert np.array_equal(retriever.scores.toarray(), expected)
