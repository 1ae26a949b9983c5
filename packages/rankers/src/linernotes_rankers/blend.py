"""A learned blend of the candidates' features: a linear ranker or LightGBM ranking trees."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog

from ._scoring import gather, history_rows, log_popularity, ordered, pairs, source_scores
from .ease import EASE
from .ials import IALS
from .itemknn import ItemKNN
from .popularity import Popularity
from .rp3beta import RP3beta
from .trees import lightgbm, predictor

MODELS = ("linear", "lambdarank", "xendcg")
RETRIEVERS = {"colisten": 500, "tags": 200, "social": 100, "context": 100}
EASE_PARAMS = {"l2": 100.0, "min_support": 2, "max_items": 8000}
ITEMKNN_PARAMS = {"neighbours": 100, "shrink": 10.0, "weighting": "bm25"}
RP3BETA_PARAMS = {"alpha": 1.0, "beta": 0.25, "neighbours": 200}
IALS_PARAMS = {"factors": 128, "regularization": 50.0, "alpha": 10.0, "iterations": 15}
SPREAD_ROWS = 100_000
"""Training rows (a seeded sample) on which the score's standard deviation is measured."""


class LearnedBlend:
    """Learns how to weigh every signal a candidate carries.

    Features of a candidate: the score of each retriever that proposed it
    (``Candidate.sources``, scaled by the request's best; every source seen in
    training becomes a feature), how many proposed it, EASE scores of the
    binary and of the play-weighted history, item-kNN, RP3beta and iALS scores
    (raw, scaled and as a rank in the request), log popularity, plays per listener,
    popularity within the context's tags, the cosine of its tags with the
    listener's history, how many of the listener's friends play it, and the
    history's size.

    ``model`` is ``linear`` (weights found by coordinate ascent on NDCG@10,
    Metzler & Croft 2007, over standardised features), ``lambdarank`` or
    ``xendcg`` (LightGBM gradient-boosted trees trained on the LambdaRank or
    the cross-entropy NDCG loss, Bruch 2021: ``trees``, ``learning_rate``,
    ``leaves``, ``min_child_samples``, ``feature_fraction``; ``models`` of them,
    seeded ``seed``, ``seed + 1``..., whose scores are averaged).

    Ranking orders the candidates by the model's score, in units of its standard
    deviation on the training rows, minus ``popularity_penalty`` times the
    candidate's log popularity (in [0, 1]): a small push towards less played
    artists, chosen on the validation split, that widens the catalog coverage
    without losing NDCG there (docs/ranking.md).

    Training needs no labels from outside: ``fit`` splits the catalog it is
    given with :func:`linernotes.split.holdout_split` (``seed``; a
    ``holdout_fraction`` of the artists of a ``training_share`` of the
    listeners held out), fits the base models and the named ``retrievers``
    (name -> quota, default parameters) on that split's training view, and
    learns to put the held-out artists first among up to ``candidates``
    candidates, for at most ``max_training_listeners`` of them (a seeded
    sample: the training cost stops growing with the catalog). The base
    models are then refitted on the whole catalog. Fitted on a holdout's
    training view, it never sees that holdout's held-out items.
    With ``cache``, the trained model is kept on disk, keyed by the catalog
    version and the parameters.
    """

    name: ClassVar[str] = "blend"

    def __init__(
        self,
        retrievers: dict[str, int] | None = None,
        candidates: int = 500,
        ease: dict[str, Any] | None = None,
        itemknn: dict[str, Any] | None = None,
        rp3beta: dict[str, Any] | None = None,
        ials: dict[str, Any] | None = None,
        model: str = "xendcg",
        trees: int = 300,
        learning_rate: float = 0.03,
        leaves: int = 15,
        min_child_samples: int = 300,
        feature_fraction: float = 0.7,
        models: int = 3,
        training_share: float = 1.0,
        max_training_listeners: int = 2000,
        holdout_fraction: float = 0.2,
        popularity_penalty: float = 1.5,
        seed: int = 0,
        cache: bool = True,
    ):
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
        if not 0 < training_share <= 1:
            raise ValueError(f"training_share must be in (0, 1], got {training_share}")
        if not 0 < holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
        if not 0 < feature_fraction <= 1:
            raise ValueError(f"feature_fraction must be in (0, 1], got {feature_fraction}")
        if popularity_penalty < 0:
            raise ValueError(f"popularity_penalty must be at least 0, got {popularity_penalty}")
        if min(trees, candidates, max_training_listeners, models) < 1:
            raise ValueError(
                "trees, candidates, max_training_listeners and models must be at least 1"
            )
        self.retrievers = dict(RETRIEVERS if retrievers is None else retrievers)
        self.candidates = candidates
        self.ease_params = dict(EASE_PARAMS if ease is None else ease)
        self.itemknn_params = dict(ITEMKNN_PARAMS if itemknn is None else itemknn)
        self.rp3beta_params = dict(RP3BETA_PARAMS if rp3beta is None else rp3beta)
        self.ials_params = dict(IALS_PARAMS if ials is None else ials)
        self.model = model
        self.trees = trees
        self.learning_rate = learning_rate
        self.leaves = leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.models = models
        self.training_share = training_share
        self.max_training_listeners = max_training_listeners
        self.holdout_fraction = holdout_fraction
        self.popularity_penalty = popularity_penalty
        self.seed = seed
        self.cache = cache
        self.scorer = None
        self.fit_stats: dict[str, float] = {}

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, catalog: Catalog) -> None:
        params = {
            "retrievers": self.retrievers, "candidates": self.candidates,
            "ease": self.ease_params, "itemknn": self.itemknn_params,
            "rp3beta": self.rp3beta_params, "ials": self.ials_params, "model": self.model,
            "trees": self.trees, "learning_rate": self.learning_rate, "leaves": self.leaves,
            "min_child_samples": self.min_child_samples, "feature_fraction": self.feature_fraction,
            "models": self.models,
            "training_share": self.training_share,
            "max_training_listeners": self.max_training_listeners,
            "holdout_fraction": self.holdout_fraction,
            "seed": self.seed,
        }  # fmt: skip
        if self.cache:
            self.scorer, self.sources, stats = cached(
                "blend", catalog, params, lambda: self._train(catalog), version=4
            )  # version 4: the tag match in float64 from sparse tag vectors
        else:
            self.scorer, self.sources, stats = self._train(catalog)
        self._fit_features(catalog, cache=self.cache)
        self.fit_stats = {**stats, "ease_items": self.ease.fit_stats.get("items", 0)}

    def _train(self, catalog: Catalog):
        from linernotes.pipeline import Pipeline
        from linernotes.registry import get_registry
        from linernotes.split import holdout_split

        inner = holdout_split(
            catalog,
            seed=self.seed,
            fraction=self.holdout_fraction,
            validation_share=self.training_share,
        )
        reg = get_registry()
        retrievers = {n: (reg.create("retriever", n), q) for n, q in self.retrievers.items()}
        for retriever, _ in retrievers.values():
            retriever.fit(inner.train)
        truth = inner.truth("validation")
        listeners = inner.listeners("validation")
        if len(listeners) > self.max_training_listeners:
            rng = np.random.default_rng(self.seed)
            chosen = rng.choice(len(listeners), self.max_training_listeners, replace=False)
            listeners = [listeners[n] for n in sorted(chosen)]
        requests = inner.requests("validation", listeners)
        pipe = Pipeline(
            inner.train, retrievers, None, None, None, {}, None, candidates=self.candidates
        )
        candidates = pipe._retrieve(requests)
        del pipe, retrievers, retriever  # free their fitted state before the next fits
        rows, cols = pairs(candidates, inner.train)
        index, width = inner.train.item_index, len(inner.train.item_ids)
        held = [
            r * width + index[i]
            for r, q in enumerate(requests)
            for i in truth[q.listener.id]
            if i in index
        ]
        y = (np.isin(rows * width + cols, held) & (cols >= 0)).astype(np.float64)
        hit = np.bincount(rows, weights=y, minlength=len(requests)) > 0  # a held-out item found
        self.sources = sorted(self.retrievers)
        self._fit_features(inner.train, cache=False)
        x = self.features(requests, candidates)[hit[rows]]  # each request's rows are its own
        y = y[hit[rows]]
        sizes = np.bincount(rows, minlength=len(requests))[hit].tolist()
        requests = [q for q, h in zip(requests, hit.tolist(), strict=True) if h]
        relevant = [len(truth[r.listener.id]) for r in requests]
        if self.model == "linear":
            scorer = Linear.train(x, y, sizes, relevant)
        else:
            scorer = self._boost(x, y, sizes)
        sample = np.random.default_rng(self.seed).permutation(len(y))[:SPREAD_ROWS]
        spread = float(np.std(scorer.predict(x[np.sort(sample)]))) if len(y) else 0.0
        stats = {
            "training_listeners": len(requests),
            "training_rows": len(y),
            "score_sd": spread if spread > 0 else 1.0,
        }
        return scorer, self.sources, stats

    def _boost(self, x: np.ndarray, y: np.ndarray, sizes: list[int]) -> Boosted:
        lgb = lightgbm()
        params = {
            "objective": "lambdarank" if self.model == "lambdarank" else "rank_xendcg",
            "lambdarank_truncation_level": 20,
            "learning_rate": self.learning_rate,
            "num_leaves": self.leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": 2,
            "verbose": -1,
        }
        data = lgb.Dataset(x, y, group=sizes, feature_name=self.columns(), free_raw_data=False)
        return Boosted([
            lgb.train({**params, "seed": seed, "objective_seed": seed}, data, self.trees)
            .model_to_string()
            for seed in range(self.seed, self.seed + self.models)
        ])  # fmt: skip

    def _fit_features(self, catalog: Catalog, cache: bool) -> None:
        from linernotes.evaluation.ranking import tag_matrix

        self.catalog = catalog
        self.ease = EASE(**{**self.ease_params, "cache": cache})
        self.itemknn = ItemKNN(**self.itemknn_params)
        self.rp3beta = RP3beta(**self.rp3beta_params)
        self.ials = IALS(**{**self.ials_params, "cache": cache})
        self.popularity = Popularity(within_tags=True)
        for model in (self.ease, self.itemknn, self.rp3beta, self.ials, self.popularity):
            model.fit(catalog)
        self.pop = log_popularity(catalog)
        listeners = np.maximum(catalog.popularity, 1)
        self.engagement = np.log1p(np.asarray(catalog.plays_matrix.sum(axis=0)).ravel() / listeners)
        self.tags, _ = tag_matrix(catalog)
        x = catalog.plays_matrix.copy()
        x.data[:] = 1
        self.listened = x.tocsr()

    # -- features ----------------------------------------------------------------------------
    def columns(self) -> list[str]:
        """Feature names, in column order."""
        return [
            *(f"source_{s}" for s in self.sources),
            "sources",
            "ease", "ease_scaled", "ease_rank",
            "itemknn", "itemknn_scaled", "itemknn_rank",
            "rp3beta", "rp3beta_scaled", "rp3beta_rank",
            "ials", "ials_scaled", "ials_rank",
            "ease_plays", "ease_plays_scaled",
            "popularity", "plays_per_listener", "popularity_in_context",
            "tag_match", "friends", "friends_share", "history",
        ]  # fmt: skip

    def features(self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]):
        """The feature matrix, one row per candidate (requests in order, candidates in order)."""
        index = self.catalog.item_index
        rows, cols = pairs(candidates, self.catalog)
        known = cols >= 0
        safe = np.maximum(cols, 0)
        scores, counts = source_scores(candidates, self.sources)
        out = [*(_scaled(rows, s) for s in scores), counts]
        history = history_rows(requests, index, len(index))
        plays = history_rows(requests, index, len(index), _play_weights(requests))
        # EASE scores both kinds of history rows in one product, which reads B's rows once
        both = self.ease.score_pairs(
            sp.vstack([history, plays], format="csr"),
            np.concatenate([rows, rows + len(requests)]),
            np.concatenate([cols, cols]),
        )
        binary = self.ials.weighting == "binary"
        for s in (
            both[: len(rows)],
            self.itemknn.score_pairs(history, rows, cols),
            self.rp3beta.score_pairs(history, rows, cols),
            self.ials.score_pairs(history if binary else self.ials.history(requests), rows, cols),
        ):
            out += [s, _scaled(rows, s), _rank(rows, s)]
        out += [both[len(rows) :], _scaled(rows, both[len(rows) :])]
        pop = np.where(known, self.pop[safe], 0.0)
        out += [pop, np.where(known, self.engagement[safe], 0.0)]
        out.append(self.popularity.score(requests, candidates) - pop)
        profile = (history @ self.tags).toarray()  # requests x tags
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        profile = profile / np.where(norms > 0, norms, 1)
        out.append(np.where(known, _row_dots(profile, rows, self.tags, safe), 0.0))
        friends = self._friends(requests)
        playing = (friends @ self.listened).tocsr()
        count = np.where(known, gather(playing, rows, safe), 0.0)
        n_friends = np.asarray(friends.sum(axis=1)).ravel()[rows]
        out += [np.log1p(count), count / np.maximum(n_friends, 1)]
        out.append(np.log1p(np.asarray(history.sum(axis=1)).ravel()[rows]))
        return np.column_stack(out) if len(rows) else np.zeros((0, len(self.columns())))

    def _friends(self, requests: Sequence[Request]) -> sp.csr_matrix:
        index = self.catalog.listener_index
        r, c = [], []
        for n, req in enumerate(requests):
            if req.listener.id is not None:
                for f in self.catalog.friends(req.listener.id):
                    if f in index:
                        r.append(n)
                        c.append(index[f])
        return sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(requests), len(index)))

    # -- ranking -----------------------------------------------------------------------------
    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> Sequence[list[Candidate]]:
        if self.scorer is None:
            raise RuntimeError("call fit(catalog) before rank()")
        x = self.features(requests, candidates)
        if not len(x):
            return [[] for _ in candidates]
        popularity = x[:, self.columns().index("popularity")]
        scores = self.scorer.predict(x) / self.fit_stats["score_sd"]
        return ordered(candidates, scores - self.popularity_penalty * popularity)


def _scaled(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` divided by its request's largest absolute value."""
    if not len(x):
        return x
    top = np.zeros(rows.max() + 1)
    np.maximum.at(top, rows, np.abs(x))
    return x / np.where(top > 0, top, 1)[rows]


def _rank(rows: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each value's 0-based position in its request, best first."""
    if not len(x):
        return x
    order = np.lexsort((-x, rows))
    starts = np.searchsorted(rows[order], rows[order], side="left")
    out = np.empty(len(x))
    out[order] = np.arange(len(x)) - starts
    return out


def _play_weights(requests: Sequence[Request]) -> list[dict[str, float]]:
    """Each history's log plays, scaled to mean 1, so heavily played artists count more."""
    out = []
    for req in requests:
        history = req.listener.history
        logs = np.log1p(np.fromiter(history.values(), np.float64, len(history)))
        mean = float(np.mean(logs)) if len(logs) else 1.0
        scaled = logs / mean if mean > 0 else np.ones(len(logs))
        out.append(dict(zip(history, scaled.tolist(), strict=True)))
    return out


def _row_dots(dense: np.ndarray, rows: np.ndarray, m: sp.csr_matrix, cols: np.ndarray):
    """``dense[rows[p]] @ m[cols[p]]`` for every pair ``p``, over ``m``'s stored cells only."""
    starts = m.indptr[cols]
    counts = m.indptr[cols + 1] - starts
    pair = np.repeat(np.arange(len(cols)), counts)
    cell = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cell += np.repeat(starts, counts)
    products = m.data[cell] * dense[rows[pair], m.indices[cell]]
    return np.bincount(pair, weights=products, minlength=len(cols))


class Boosted:
    """LightGBM rankers whose scores are averaged, kept (and pickled) as LightGBM's model
    text, so that loading a fitted blend imports nothing until it first predicts; they
    predict through native code (:func:`linernotes_rankers.trees.predictor`)."""

    def __init__(self, models: list[str]):
        self.models = models

    @cached_property
    def predictors(self) -> list:
        return [predictor(m) for m in self.models]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.mean([p(x) for p in self.predictors], axis=0)

    def __getstate__(self) -> dict:
        return {"models": self.models}


class Linear:
    """A linear ranker: ``x @ weights``, trained by coordinate ascent on NDCG@10."""

    STEPS = (-0.5, -0.25, -0.1, -0.05, 0.0, 0.05, 0.1, 0.25, 0.5)

    def __init__(self, weights: np.ndarray):
        self.weights = weights

    def predict(self, x: np.ndarray) -> np.ndarray:
        return x @ self.weights

    @classmethod
    def train(
        cls, x: np.ndarray, y: np.ndarray, sizes: list[int], relevant: list[int], passes: int = 2
    ) -> Linear:
        """Start from the best single feature (weight 1, standardised), then try each
        feature's weight in :attr:`STEPS` in turn, keeping every change that raises NDCG@10."""
        sd = x.std(axis=0)
        sd[sd == 0] = 1.0
        z = x / sd
        ndcg = _ndcg_at_10(y, sizes, relevant)
        singles = [ndcg(z[:, j]) for j in range(z.shape[1])]
        start = int(np.argmax(singles))
        w = np.zeros(z.shape[1])
        w[start], best = 1.0, singles[start]
        for _ in range(passes):
            for j in range(z.shape[1]):
                if j == start:
                    continue
                for step in cls.STEPS:
                    trial = w.copy()
                    trial[j] = step
                    value = ndcg(z @ trial)
                    if value > best + 1e-9:
                        best, w = value, trial
        return cls(w / sd)


def _ndcg_at_10(y: np.ndarray, sizes: list[int], relevant: list[int]):
    """A function of flat scores: mean NDCG@10 over groups of ``sizes`` rows with labels ``y``."""
    rows = np.repeat(np.arange(len(sizes)), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ideal = np.array([sum(1 / np.log2(n + 2) for n in range(min(10, r))) for r in relevant])

    def ndcg(scores: np.ndarray) -> float:
        order = np.lexsort((-scores, rows))
        position = np.arange(len(order)) - starts[rows[order]]
        top = position < 10
        gains = y[order][top] / np.log2(position[top] + 2)
        dcg = np.bincount(rows[order][top], weights=gains, minlength=len(sizes))
        return float(np.mean(dcg / ideal))

    return ndcg
