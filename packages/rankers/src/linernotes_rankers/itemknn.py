"""Item-kNN on co-listening: cosine similarity with shrinkage over weighted play counts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog
from linernotes.sparse import cosine_neighbours

from ._scoring import WEIGHTINGS, gather, history_rows, ordered, pairs, weighted


class ItemKNN:
    """Scores a candidate by its similarity to the listener's artists (Sarwar et al., 2001).

    Plays become weights (``weighting``: ``binary``, ``log`` or ``bm25``);
    the similarity of two artists is the cosine of their weight columns,
    ``dot / (|a| |b| + shrink)``, so pairs seen by few listeners count less.
    Each candidate keeps only its ``neighbours`` most similar artists; its
    score is the sum of its similarities to the artists in the history.
    """

    name: ClassVar[str] = "itemknn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, weighting: str = "bm25"):
        if neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {neighbours}")
        if shrink < 0:
            raise ValueError(f"shrink must be at least 0, got {shrink}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
        self.neighbours = neighbours
        self.shrink = shrink
        self.weighting = weighting
        self.similarity: sp.csr_matrix | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        params = {"neighbours": self.neighbours, "shrink": self.shrink, "weighting": self.weighting}
        self.similarity, self._by_history = cached(
            "itemknn", catalog, params, lambda: self._similarity(catalog), version=2
        )

    def _similarity(self, catalog: Catalog) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        w = weighted(catalog.plays_matrix, self.weighting).tocsc()
        similarity = cosine_neighbours(w, self.neighbours, self.shrink)  # row c: c's nearest
        return similarity, similarity.T.tocsr()  # row h: the artists h is a neighbour of

    def score(self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]):
        """Flat scores of every candidate (see :func:`._scoring.pairs` for the order)."""
        if self.similarity is None:
            raise RuntimeError("call fit(catalog) before rank()")
        index = self.catalog.item_index
        rows, cols = pairs(candidates, self.catalog)
        return self.score_pairs(history_rows(requests, index, len(index)), rows, cols)

    def score_pairs(self, history: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray):
        """Scores of the (request row, item column) pairs given the requests' binary
        ``history`` rows (see :func:`._scoring.history_rows`); column -1 is an unknown item."""
        scores = np.zeros(len(rows))
        if len(rows):
            full = (history @ self._by_history).tocsr()
            known = cols >= 0
            scores[known] = gather(full, rows[known], cols[known])
        return scores

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))
