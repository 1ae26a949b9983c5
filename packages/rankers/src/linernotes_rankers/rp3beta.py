"""RP3beta: a three-step random walk on the listener-artist graph, popularity penalised
(Paudel et al., ACM TiiS 2017; a strong baseline in Dacrema et al., RecSys 2019)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog
from linernotes.sparse import top_of_product

from ._scoring import gather, history_rows, ordered, pairs


class RP3beta:
    """Scores a candidate ``j`` by ``sum over the history's artists i of W[i, j]``.

    ``W[i, j]`` is the probability that a walk from artist ``i`` to one of its
    listeners and on to one of that listener's artists ends at ``j`` (each step
    chosen in proportion to the binary plays raised to ``alpha``), divided by
    ``popularity(j) ** beta`` so that hits do not win by reach alone. Each
    artist keeps its ``neighbours`` highest-weighted destinations.
    """

    name: ClassVar[str] = "rp3beta"

    def __init__(self, alpha: float = 1.0, beta: float = 0.25, neighbours: int = 200):
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        if beta < 0:
            raise ValueError(f"beta must be at least 0, got {beta}")
        if neighbours < 1:
            raise ValueError(f"neighbours must be at least 1, got {neighbours}")
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours
        self.walk: sp.csr_matrix | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        params = {"alpha": self.alpha, "beta": self.beta, "neighbours": self.neighbours}
        self.walk = cached("rp3beta", catalog, params, lambda: self._walk(catalog), version=2)

    def _walk(self, catalog: Catalog) -> sp.csr_matrix:
        x = catalog.plays_matrix.tocsr().astype(np.float64)
        x.data[:] = 1.0
        listener_step = _rows_sum_to_one(x).power(self.alpha)  # listener -> artist
        artist_step = _rows_sum_to_one(x.T.tocsr()).power(self.alpha)  # artist -> listener
        popularity = np.asarray(x.sum(axis=0)).ravel()
        penalty = np.where(popularity > 0, popularity, 1.0) ** -self.beta

        def damped(rows: np.ndarray, cols: np.ndarray, steps: np.ndarray) -> np.ndarray:
            return steps * penalty[cols]

        # artist -> artist in three steps; row i: where i leads
        return top_of_product(artist_step, listener_step, self.neighbours, damped)

    def score(self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]):
        """Flat scores of every candidate (see :func:`._scoring.pairs` for the order)."""
        if self.walk is None:
            raise RuntimeError("call fit(catalog) before rank()")
        index = self.catalog.item_index
        rows, cols = pairs(candidates, self.catalog)
        return self.score_pairs(history_rows(requests, index, len(index)), rows, cols)

    def score_pairs(self, history: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray):
        """Scores of the (request row, item column) pairs given the requests' binary
        ``history`` rows (see :func:`._scoring.history_rows`); column -1 is an unknown item."""
        scores = np.zeros(len(rows))
        if len(rows):
            reached = (history @ self.walk).tocsr()
            known = cols >= 0
            scores[known] = gather(reached, rows[known], cols[known])
        return scores

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))


def _rows_sum_to_one(m: sp.csr_matrix) -> sp.csr_matrix:
    """``m`` with each non-empty row divided by its sum."""
    sums = np.asarray(m.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ m).tocsr()
