"""Item-to-item co-listening: artists played by the same listeners as the listener's own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog

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
        self.similarity = cached("colisten", catalog, params, lambda: self._similarity(catalog))

    def _similarity(self, catalog: Catalog) -> sp.csr_matrix:
        w = self._weights(catalog.plays_matrix.astype(np.float64))
        gram = (w.T @ w).tocoo()
        norms = np.sqrt(np.asarray(w.multiply(w).sum(axis=0)).ravel())
        keep = gram.row != gram.col
        rows, cols, dots = gram.row[keep], gram.col[keep], gram.data[keep]
        sims = dots / (norms[rows] * norms[cols] + self.shrink)
        return _top_per_row(sp.csr_matrix((sims, (rows, cols)), shape=gram.shape), self.neighbours)

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

    def retrieve(self, requests: Sequence[Request], n: int) -> list[list[Candidate]]:
        if self.similarity is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        index = self.catalog.item_index
        rows, cols, vals = [], [], []
        for r, req in enumerate(requests):
            weights = {i: np.log1p(p) for i, p in req.listener.history.items() if i in index}
            if req.context.seed in index:
                weights[req.context.seed] = weights.get(req.context.seed, 0) + max(
                    sum(weights.values()), 1.0
                )
            for item, w in weights.items():
                rows.append(r)
                cols.append(index[item])
                vals.append(w)
        query = sp.csr_matrix((vals, (rows, cols)), shape=(len(requests), len(index)))
        scores = (query @ self.similarity).tocsr()
        out = []
        for r, req in enumerate(requests):
            lo, hi = scores.indptr[r], scores.indptr[r + 1]
            items, vals_r = scores.indices[lo:hi], scores.data[lo:hi]
            heard = {index[i] for i in req.listener.history if i in index}
            order = np.lexsort((items, -vals_r))
            picked = [
                (items[j], float(vals_r[j]))
                for j in order
                if vals_r[j] > 0 and items[j] not in heard
            ][:n]
            ids = self.catalog.item_ids
            out.append([Candidate(ids[i], s, {self.name: s}) for i, s in picked])
        return out


def _top_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row (ties by column)."""
    m.sort_indices()
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        lo, hi = m.indptr[r], m.indptr[r + 1]
        if lo == hi:
            continue
        c, v = m.indices[lo:hi], m.data[lo:hi]
        top = np.lexsort((c, -v))[:k]
        rows.append(np.full(len(top), r))
        cols.append(c[top])
        vals.append(v[top])
    if not rows:
        return sp.csr_matrix(m.shape)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=m.shape
    )
