"""Item-to-item co-listening: artists played by the same listeners as the listener's own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Request
from linernotes.cache import cached
from linernotes.candidates import CandidateBatch
from linernotes.catalog import Catalog
from linernotes.sparse import cosine_neighbours

from ._batch import candidate_batch, histories, seeds, top_sparse

WEIGHTINGS = ("count", "log", "bm25", "tfidf")


class CoListening:
    """Sparse item-item cosine similarity over weighted listener x artist play counts.

    ``weighting`` turns play counts into weights: ``count`` (raw), ``log``
    (log1p), ``bm25`` (saturated counts, damped for heavy listeners and
    popular artists, as in implicit's ``bm25_weight``) or ``tfidf`` (log1p
    counts times the artist's inverse listener frequency). Each artist keeps its
    ``neighbours`` most similar artists; ``shrink`` damps pairs with little
    evidence. A listener's score for an artist is the similarity-weighted sum
    over their history (log plays); a seed artist weighs as much as the history.
    """

    name: ClassVar[str] = "colisten"

    def __init__(
        self,
        weighting: str = "bm25",
        neighbours: int = 100,
        shrink: float = 10.0,
        k1: float = 100.0,
        b: float = 0.8,
    ):
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
        if neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {neighbours}")
        self.weighting = weighting
        self.neighbours = neighbours
        self.shrink = shrink
        self.k1 = k1
        self.b = b
        self.similarity: sp.csr_matrix | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        params = {
            "weighting": self.weighting, "neighbours": self.neighbours, "shrink": self.shrink,
            "k1": self.k1, "b": self.b,
        }  # fmt: skip
        self.similarity = cached(
            "colisten", catalog, params, lambda: self._similarity(catalog), version=2
        )

    def _similarity(self, catalog: Catalog) -> sp.csr_matrix:
        w = self._weights(catalog.plays_matrix.astype(np.float64))
        return cosine_neighbours(w, self.neighbours, self.shrink)

    def _weights(self, x: sp.csr_matrix) -> sp.csr_matrix:
        x = x.tocoo()
        df = np.bincount(x.col, minlength=x.shape[1])
        idf = np.log(x.shape[0]) - np.log1p(df)
        if self.weighting == "count":
            data = x.data
        elif self.weighting == "log":
            data = np.log1p(x.data)
        elif self.weighting == "tfidf":
            data = np.log1p(x.data) * np.maximum(idf[x.col], 0)
        else:
            length = np.bincount(x.row, weights=x.data, minlength=x.shape[0])
            norm = (1 - self.b) + self.b * length / length[length > 0].mean()
            data = x.data * (self.k1 + 1) / (self.k1 * norm[x.row] + x.data) * idf[x.col]
        return sp.csr_matrix((data, (x.row, x.col)), shape=x.shape)

    def retrieve(self, requests: Sequence[Request], n: int) -> CandidateBatch:
        if self.similarity is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        index = self.catalog.item_index
        rows, cols, plays = histories(requests, index)
        vals = np.log1p(plays)
        seed_rows, seed_cols = seeds(requests, index)
        if len(seed_rows):  # a seed weighs as much as the history (added to its own weight)
            totals = np.bincount(rows, weights=vals, minlength=len(requests))
            rows = np.concatenate([rows, seed_rows])
            cols = np.concatenate([cols, seed_cols])
            vals = np.concatenate([vals, np.maximum(totals[seed_rows], 1.0)])
        query = sp.csr_matrix((vals, (rows, cols)), shape=(len(requests), len(index)))
        scores = (query @ self.similarity).tocsr()
        picks = top_sparse(scores, n, histories(requests, index)[:2])
        return candidate_batch(len(requests), picks, self.catalog.item_ids, self.name)
