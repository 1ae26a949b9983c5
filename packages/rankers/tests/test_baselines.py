"""Popularity, item-kNN, EASE, RP3beta, iALS and the blend: contracts and behaviour."""

import pickle

import numpy as np
import pytest
from linernotes import Candidate, Context, Listener, Request
from linernotes.catalog import Catalog
from linernotes.testing import RankerContract, tiny_catalog
from linernotes_rankers import EASE, IALS, ItemKNN, LearnedBlend, Popularity, RP3beta
from linernotes_rankers.trees import lightgbm


class TestPopularityContract(RankerContract):
    @pytest.fixture(params=[False, True])
    def component(self, request):
        return Popularity(within_tags=request.param)


class TestItemKNNContract(RankerContract):
    @pytest.fixture(params=["binary", "log", "bm25"])
    def component(self, request):
        return ItemKNN(neighbours=5, shrink=2.0, weighting=request.param)


class TestEASEContract(RankerContract):
    @pytest.fixture(params=[1, 3])
    def component(self, request):
        return EASE(l2=10.0, min_support=request.param, cache=False)


class TestRP3betaContract(RankerContract):
    @pytest.fixture(params=[(1.0, 0.0), (0.5, 0.7)])
    def component(self, request):
        alpha, beta = request.param
        return RP3beta(alpha=alpha, beta=beta, neighbours=5)


class TestIALSContract(RankerContract):
    @pytest.fixture(params=["binary", "log"])
    def component(self, request):
        return IALS(factors=4, regularization=1.0, alpha=2.0, weighting=request.param, cache=False)


class TestLearnedBlendContract(RankerContract):
    @pytest.fixture
    def component(self):
        return small_blend()


def small_blend(**kwargs):
    params = dict(
        retrievers={"colisten": 20, "popular": 5},
        candidates=25,
        ease={"l2": 10.0, "min_support": 1},
        itemknn={"neighbours": 10, "shrink": 1.0, "weighting": "binary"},
        rp3beta={"neighbours": 10},
        ials={"factors": 4, "regularization": 1.0, "alpha": 2.0, "iterations": 3},
        trees=20,
        leaves=7,
        min_child_samples=5,
        cache=False,
    )
    return LearnedBlend(**{**params, **kwargs})


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


def genre_of(catalog, item_id):
    return catalog.item(item_id).name.split()[0].lower()


def unheard(catalog, listener):
    heard = catalog.history(listener)
    return [Candidate(i, 0.0) for i in catalog.item_ids if i not in heard]


def test_popularity_orders_by_listeners(catalog):
    ranker = Popularity(within_tags=False)
    ranker.fit(catalog)
    ranked = ranker.rank([Request(Listener("x"))], [[Candidate(i, 0.0) for i in catalog.item_ids]])
    counts = [catalog.item(c.item_id).listeners for c in ranked[0]]
    assert counts == sorted(counts, reverse=True)


def test_popularity_within_the_contexts_tags_puts_tagged_items_first(catalog):
    ranker = Popularity(within_tags=True)
    ranker.fit(catalog)
    cands = [[Candidate(i, 0.0) for i in catalog.item_ids]]
    jazz = ranker.rank([Request(Listener("x"), Context(mood="some jazz please"))], cands)[0]
    tagged = set(catalog.item_tags.filter(catalog.item_tags["tag"] == "jazz")["item_id"])
    assert tagged and {c.item_id for c in jazz[: len(tagged)]} == tagged
    plain = ranker.rank([Request(Listener("x"))], cands)[0]
    assert [c.item_id for c in plain] != [c.item_id for c in jazz]


@pytest.mark.parametrize(
    "ranker", [ItemKNN(neighbours=5, shrink=1.0), EASE(l2=5.0, min_support=1, cache=False)]
)
def test_collaborative_rankers_find_the_listeners_genre(catalog, ranker):
    """Tiny listeners mostly play one genre: the top picks should come from it."""
    ranker.fit(catalog)
    listeners = catalog.listener_ids[:8]
    requests = [Request(Listener(i, catalog.history(i))) for i in listeners]
    ranked = ranker.rank(requests, [unheard(catalog, i) for i in listeners])
    hits = 0
    for req, cands in zip(requests, ranked, strict=True):
        genres = [genre_of(catalog, i) for i in req.listener.history]
        main = max(set(genres), key=genres.count)
        hits += sum(genre_of(catalog, c.item_id) == main for c in cands[:3])
    assert hits >= 0.8 * 3 * len(listeners)


def test_ease_is_the_closed_form(catalog):
    ranker = EASE(l2=7.0, min_support=1, cache=False)
    ranker.fit(catalog)
    x = (catalog.plays_matrix.toarray() > 0).astype(float)[:, ranker.items]
    p = np.linalg.inv(x.T @ x + 7.0 * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)
    assert np.allclose(ranker.weights, b, atol=1e-5)
    assert ranker.fit_stats["items"] == x.shape[1] and ranker.fit_stats["peak_bytes"] > 0


def test_ease_scores_are_the_history_times_b(catalog):
    ranker = EASE(l2=7.0, min_support=1, cache=False)
    ranker.fit(catalog)
    listeners = catalog.listener_ids[:3]
    requests = [Request(Listener(i, catalog.history(i))) for i in listeners]
    candidates = [unheard(catalog, i) for i in listeners]
    scores = ranker.score(requests, candidates)
    x = (catalog.plays_matrix.toarray() > 0).astype(float)[:, ranker.items]
    expected = []
    for listener, cands in zip(listeners, candidates, strict=True):
        row = x[catalog.listener_ids.index(listener)] @ ranker.weights
        expected += [row[ranker.column[catalog.item_index[c.item_id]]] for c in cands]
    assert np.allclose(scores, expected, atol=1e-5)


def test_rp3beta_is_the_penalised_three_step_walk(catalog):
    ranker = RP3beta(alpha=0.8, beta=0.4, neighbours=10_000)
    ranker.fit(catalog)
    x = (catalog.plays_matrix.toarray() > 0).astype(float)
    listener_step = x / np.maximum(x.sum(axis=1, keepdims=True), 1)
    artist_step = x.T / np.maximum(x.T.sum(axis=1, keepdims=True), 1)
    walk = (artist_step**0.8) @ (listener_step**0.8)
    walk /= np.maximum(x.sum(axis=0), 1) ** 0.4
    np.fill_diagonal(walk, 0.0)
    assert np.allclose(ranker.walk.toarray(), walk)
    listener = catalog.listener_ids[0]
    cands = unheard(catalog, listener)
    scores = ranker.score([Request(Listener(listener, catalog.history(listener)))], [cands])
    heard = [catalog.item_index[i] for i in catalog.history(listener)]
    expected = [walk[heard, catalog.item_index[c.item_id]].sum() for c in cands]
    assert np.allclose(scores, expected)


def test_rp3beta_keeps_the_strongest_destinations_and_checks_its_parameters(catalog):
    ranker = RP3beta(neighbours=3)
    ranker.fit(catalog)
    assert np.diff(ranker.walk.indptr).max() <= 3
    for bad in ({"alpha": 0}, {"beta": -1}, {"neighbours": 0}):
        with pytest.raises(ValueError):
            RP3beta(**bad)


@pytest.mark.parametrize("weighting", ["binary", "log"])
def test_ials_folds_in_the_history_by_weighted_least_squares(catalog, weighting):
    ranker = IALS(factors=6, regularization=2.0, alpha=3.0, weighting=weighting, cache=False)
    ranker.fit(catalog)
    items = ranker.item_factors.astype(np.float64)
    listener = catalog.listener_ids[1]
    history = catalog.history(listener)
    heard = [catalog.item_index[i] for i in history]
    plays = np.array([history[i] for i in history], dtype=np.float64)
    confidence = 3.0 * (np.log1p(plays) if weighting == "log" else np.ones_like(plays))
    y = items[heard]
    # minimise sum over all artists of c (p - u.v)^2 + reg |u|^2, c = 1 and p = 0 off the history
    a = items.T @ items + y.T @ ((confidence - 1)[:, None] * y) + 2.0 * np.eye(6)
    u = np.linalg.solve(a, y.T @ confidence)
    cands = unheard(catalog, listener)
    scores = ranker.score([Request(Listener(listener, history))], [cands])
    expected = [u @ items[catalog.item_index[c.item_id]] for c in cands]
    assert np.allclose(scores, expected, atol=1e-4)


def test_ials_fold_in_matches_the_implicit_librarys(catalog):
    from implicit.cpu.als import AlternatingLeastSquares
    from linernotes_rankers._scoring import history_rows

    ranker = IALS(factors=5, regularization=3.0, alpha=4.0, cache=False)
    ranker.fit(catalog)
    requests = [Request(Listener(i, catalog.history(i))) for i in catalog.listener_ids[:6]]
    history = history_rows(requests, catalog.item_index, len(catalog.item_ids))
    reference = AlternatingLeastSquares(factors=5, regularization=3.0, alpha=4.0)
    reference.item_factors = ranker.item_factors
    expected = reference.recalculate_user(np.arange(6), history)
    assert np.allclose(ranker.fold_in(history), expected, atol=1e-4)


def test_ials_scores_a_listeners_own_artists_higher_and_checks_its_parameters(catalog):
    ranker = IALS(factors=8, regularization=0.5, alpha=5.0, cache=False)
    ranker.fit(catalog)
    listener = catalog.listener_ids[0]
    request = Request(Listener(listener, catalog.history(listener)))
    own = ranker.score([request], [[Candidate(i, 0.0) for i in catalog.history(listener)]])
    other = ranker.score([request], [unheard(catalog, listener)])
    assert own.mean() > other.mean()
    for bad in ({"factors": 0}, {"alpha": 0}, {"regularization": -1}, {"weighting": "bm25"}):
        with pytest.raises(ValueError):
            IALS(**bad)


def test_ease_ranks_unsupported_items_last(catalog):
    ranker = EASE(l2=5.0, min_support=8, cache=False)
    ranker.fit(catalog)
    listener = catalog.listener_ids[0]
    ranked = ranker.rank([Request(Listener(listener, catalog.history(listener)))],
                         [unheard(catalog, listener)])[0]  # fmt: skip
    support = [catalog.item(c.item_id).listeners >= 8 for c in ranked]
    assert any(support) and not all(support)
    assert support == sorted(support, reverse=True)


def test_ease_models_at_most_max_items_the_most_played(catalog):
    ranker = EASE(l2=5.0, min_support=1, max_items=4, cache=False)
    ranker.fit(catalog)
    assert len(ranker.items) == ranker.weights.shape[0] == 4
    popularity = catalog.popularity
    assert popularity[ranker.items].min() >= np.sort(popularity)[-4]
    listener = catalog.listener_ids[0]
    ranked = ranker.rank([Request(Listener(listener, catalog.history(listener)))],
                         [unheard(catalog, listener)])[0]  # fmt: skip
    modelled = {catalog.item_ids[i] for i in ranker.items}
    flags = [c.item_id in modelled for c in ranked]
    assert any(flags) and flags == sorted(flags, reverse=True)
    with pytest.raises(ValueError):
        EASE(max_items=0)


def test_ease_caches_its_weights_by_catalog_version(catalog, tmp_path, monkeypatch):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    EASE(l2=5.0, min_support=1).fit(catalog)  # a catalog without a version is not cached
    assert not (tmp_path / "fitted").exists()
    catalog = Catalog.from_tables(catalog.tables, "tiny", "v1")
    first = EASE(l2=5.0, min_support=1)
    first.fit(catalog)
    assert len(list((tmp_path / "fitted").glob("ease-*.bin"))) == 1
    second = EASE(l2=5.0, min_support=1)
    second.fit(catalog)
    assert np.array_equal(first.weights, second.weights)
    # in C order, fitted and loaded: scipy's sparse @ dense would copy a Fortran-ordered B
    assert first.weights.flags.c_contiguous and second.weights.flags.c_contiguous
    EASE(l2=6.0, min_support=1).fit(catalog)
    assert len(list((tmp_path / "fitted").glob("ease-*.bin"))) == 2


@pytest.mark.parametrize(
    "make", [lambda: Popularity(), lambda: ItemKNN(neighbours=5), lambda: EASE(cache=False)]
)
def test_an_inline_history_ranks_like_the_known_listener(catalog, make):
    ranker = make()
    ranker.fit(catalog)
    listener = catalog.listener_ids[3]
    history = catalog.history(listener)
    known = Request(Listener(listener, history))
    inline = Request(Listener(None, history))
    cands = unheard(catalog, listener)
    assert ranker.rank([known], [cands]) == ranker.rank([inline], [cands])


def test_blend_learns_a_feature_per_source_and_ranks_ad_hoc_listeners(catalog):
    blend = small_blend(retrievers={"colisten": 20, "popular": 5}, model="linear")
    blend.fit(catalog)
    assert {"source_colisten", "source_popular", "ease", "tag_match", "friends"} <= set(
        blend.columns()
    )
    assert len(blend.scorer.weights) == len(blend.columns())
    listener = catalog.listener_ids[0]
    history = catalog.history(listener)
    cands = [Candidate(c.item_id, 1.0, {"colisten": 1.0, "other": 2.0})
             for c in unheard(catalog, listener)]  # fmt: skip
    ranked = blend.rank([Request(Listener(None, history))], [cands])[0]
    assert sorted(c.item_id for c in ranked) == sorted(c.item_id for c in cands)
    assert ranked[0].sources == {"colisten": 1.0, "other": 2.0}


def test_blend_trains_on_at_most_its_listener_budget(catalog):
    full, capped = (
        small_blend(training_share=1.0),
        small_blend(training_share=1.0, max_training_listeners=3),
    )
    full.fit(catalog)
    capped.fit(catalog)
    assert full.fit_stats["training_listeners"] > 3 >= capped.fit_stats["training_listeners"] > 0
    assert capped.fit_stats["training_rows"] < full.fit_stats["training_rows"]


def _one_request(catalog):
    listener = catalog.listener_ids[2]
    return [Request(Listener(listener, catalog.history(listener)))], [unheard(catalog, listener)]


def test_blend_is_deterministic(catalog):
    a, b = small_blend(), small_blend()
    a.fit(catalog)
    b.fit(catalog)
    listener = catalog.listener_ids[5]
    req = [Request(Listener(listener, catalog.history(listener)))]
    cands = [unheard(catalog, listener)]
    assert a.rank(req, cands) == b.rank(req, cands)


def test_the_popularity_penalty_moves_less_played_artists_up(catalog):
    blend = small_blend()
    blend.fit(catalog)
    requests, candidates = _one_request(catalog)
    x = blend.features(requests, candidates)
    popularity = x[:, blend.columns().index("popularity")]
    scores = blend.scorer.predict(x) / blend.fit_stats["score_sd"]
    plain = blend.rank(requests, candidates)[0]
    blend.popularity_penalty = 1e6  # popularity decides; the score only breaks its ties
    pushed = blend.rank(requests, candidates)[0]
    by_id = {c.item_id: n for n, c in enumerate(candidates[0])}
    assert [popularity[by_id[c.item_id]] for c in pushed] == sorted(popularity)
    blend.popularity_penalty = 0.0
    ids = [c.item_id for c in candidates[0]]
    by_score = [ids[n] for n in np.lexsort((ids, -scores))]
    assert [c.item_id for c in blend.rank(requests, candidates)[0]] == by_score
    assert [c.item_id for c in plain] != [c.item_id for c in pushed]
    assert blend.fit_stats["score_sd"] > 0


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: ItemKNN(neighbours=0), "neighbours must be at least 1"),
        (lambda: ItemKNN(weighting="tfidf"), "weighting must be one of binary, log, bm25"),
        (lambda: EASE(l2=0), "l2 must be positive"),
        (lambda: EASE(min_support=0), "min_support must be at least 1"),
        (lambda: LearnedBlend(model="svm"), "model must be one of linear, lambdarank, xendcg"),
        (lambda: LearnedBlend(feature_fraction=0), "feature_fraction must be in"),
        (lambda: LearnedBlend(models=0), "models must be at least 1"),
        (lambda: LearnedBlend(training_share=0), "training_share must be in"),
        (lambda: LearnedBlend(popularity_penalty=-1), "popularity_penalty must be at least 0"),
    ],
)
def test_bad_parameters_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_rank_before_fit_is_an_error():
    with pytest.raises(RuntimeError, match="call fit"):
        EASE().rank([Request(Listener("x"))], [[Candidate("1", 0.0)]])


@pytest.mark.parametrize("model", ["lambdarank", "xendcg"])
def test_blend_can_use_lightgbm_ranking_trees(catalog, model):
    blend = small_blend(model=model, feature_fraction=0.7, models=2)
    blend.fit(catalog)
    first, second = (lightgbm().Booster(model_str=m) for m in blend.scorer.models)
    assert first.num_feature() == second.num_feature() == len(blend.columns())
    x = blend.features(*_one_request(catalog))
    assert np.allclose(blend.scorer.predict(x), (first.predict(x) + second.predict(x)) / 2)
    loaded = pickle.loads(pickle.dumps(blend.scorer))  # as the cache stores it: model text
    assert "predictors" not in vars(loaded)
    assert np.array_equal(loaded.predict(x), blend.scorer.predict(x))
    listener = catalog.listener_ids[2]
    ranked = blend.rank([Request(Listener(listener, catalog.history(listener)))],
                        [unheard(catalog, listener)])[0]  # fmt: skip
    assert len(ranked) == len(unheard(catalog, listener))


@pytest.mark.parametrize(
    "make,fit",
    [
        (lambda: ItemKNN(neighbours=5), "_similarity"),
        (lambda: RP3beta(neighbours=5), "_walk"),
    ],
)
def test_a_second_fit_on_the_same_catalog_version_loads_from_the_cache(
    catalog, tmp_path, monkeypatch, make, fit
):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    versioned = Catalog.from_tables(catalog.tables, "tiny", "v1")
    first = make()
    first.fit(versioned)

    def refit(*args):
        raise AssertionError("refitted although cached")

    monkeypatch.setattr(type(first), fit, refit)
    second = make()
    second.fit(versioned)
    listener = catalog.listener_ids[0]
    requests = [Request(Listener(listener, catalog.history(listener)))]
    candidates = [unheard(catalog, listener)]
    assert second.rank(requests, candidates) == first.rank(requests, candidates)
    with pytest.raises(AssertionError, match="refitted"):
        make().fit(Catalog.from_tables(catalog.tables, "tiny", "v2"))


@pytest.mark.parametrize(
    "fit",
    [lambda c: ItemKNN(neighbours=5)._similarity(c)[0], lambda c: RP3beta(neighbours=5)._walk(c)],
)
def test_neighbours_in_blocks_are_those_of_the_whole_product(catalog, monkeypatch, fit):
    import linernotes.sparse

    whole = fit(catalog)  # the tiny catalog's product is one block
    monkeypatch.setattr(linernotes.sparse, "PAIRS_PER_BLOCK", 50)
    blocked = fit(catalog)
    assert blocked.nnz and (blocked != whole).nnz == 0
    assert np.array_equal(blocked.indptr, whole.indptr)
