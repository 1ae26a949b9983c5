"""EASE: the closed-form linear item-item autoencoder (Steck, WWW 2019)."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog

from ._scoring import history_rows, log_popularity, ordered, pairs, weighted


class EASE:
    """Scores ``x_u · B`` with ``B = I - P diagMat(1 / diag(P))``, ``P = (XᵀX + l2·I)⁻¹``.

    ``X`` is the binary listener x artist matrix over the artists played by at
    least ``min_support`` listeners, at most the ``max_items`` most played of
    them (the pruning keeps the dense inverse tractable: memory grows with the
    square of the item count, time with its cube, so the cap bounds both at
    any catalog size). Artists outside the model rank after all modelled
    ones, by popularity. ``fit_stats`` holds the modelled item count, fit seconds and
    the peak memory of the fit. With ``cache``, the fitted ``B`` is kept on
    disk, keyed by the catalog version and the parameters.
    """

    name: ClassVar[str] = "ease"

    def __init__(
        self, l2: float = 100.0, min_support: int = 2, max_items: int = 8000, cache: bool = True
    ):
        if l2 <= 0:
            raise ValueError(f"l2 must be positive, got {l2}")
        if min_support < 1:
            raise ValueError(f"min_support must be at least 1, got {min_support}")
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.l2 = l2
        self.min_support = min_support
        self.max_items = max_items
        self.cache = cache
        self.weights: np.ndarray | None = None
        self.fit_stats: dict[str, float] = {}

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        params = {"l2": self.l2, "min_support": self.min_support, "max_items": self.max_items}
        start = time.perf_counter()
        if self.cache:
            # version 2: B in C order (version 1 stored LAPACK's Fortran order)
            state = cached("ease", catalog, params, lambda: self._solve(catalog), version=2)
        else:
            state = self._solve(catalog)
        self.items, self.weights, self.fit_stats = state
        self.fit_stats = {**self.fit_stats, "seconds": time.perf_counter() - start}
        self.column = np.full(len(catalog.item_ids), -1, dtype=np.int64)
        self.column[self.items] = np.arange(len(self.items))
        self.pop = log_popularity(catalog)

    def _solve(self, catalog: Catalog):
        from scipy.linalg import inv  # LAPACK's getri: 30% faster here than numpy's solve on I

        tracemalloc.start()
        try:
            start = time.perf_counter()
            items = np.flatnonzero(catalog.popularity >= self.min_support)
            if len(items) > self.max_items:  # the most played; ties: the earlier artist
                top = np.argsort(-catalog.popularity[items], kind="stable")[: self.max_items]
                items = np.sort(items[top])
            x = weighted(catalog.plays_matrix[:, items], "binary")
            gram = (x.T @ x).toarray()
            gram[np.diag_indices_from(gram)] += self.l2
            p = inv(gram, overwrite_a=True, check_finite=False)
            del gram
            b = p / -np.diag(p)
            b[np.diag_indices_from(b)] = 0.0
            stats = {
                "items": len(items),
                "solve_seconds": time.perf_counter() - start,
                "peak_bytes": tracemalloc.get_traced_memory()[1],
            }
        finally:
            tracemalloc.stop()
        # C order: scipy's sparse @ dense ravels B, which copies all of it when B is in
        # the Fortran order LAPACK returns (about 0.4 s a call at 6,000 artists)
        return items, np.ascontiguousarray(b, dtype=np.float32), stats

    def score(
        self,
        requests: Sequence[Request],
        candidates: Sequence[list[Candidate]],
        weights: Sequence[dict[str, float]] | None = None,
    ):
        """Flat scores of every candidate (see :func:`._scoring.pairs` for the order).

        ``weights`` (item id -> weight per request) replace the binary history.
        Unmodelled candidates score below every modelled one of their request.
        """
        if self.weights is None:
            raise RuntimeError("call fit(catalog) before rank()")
        index = self.catalog.item_index
        rows, cols = pairs(candidates, self.catalog)
        return self.score_pairs(history_rows(requests, index, len(index), weights), rows, cols)

    def score_pairs(self, history: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray):
        """Scores of the (request row, item column) pairs given the requests' ``history``
        rows (see :func:`._scoring.history_rows`); column -1 is an unknown item."""
        scores = np.zeros(len(rows))
        if not len(rows):
            return scores
        modelled = self.column[np.maximum(cols, 0)]
        modelled[cols < 0] = -1
        known = modelled >= 0
        x = history[:, self.items].astype(self.weights.dtype)  # a float64 x would copy all of B
        # sparse history rows times B's rows: a few dense rows, with no copy of B's columns
        part = np.asarray(x @ self.weights)
        scores[known] = part[rows[known], modelled[known]]
        floor = np.full(history.shape[0], 0.0)
        if known.any():
            np.minimum.at(floor, rows[known], scores[known])
        pop = np.where(cols >= 0, self.pop[np.maximum(cols, 0)], 0.0)
        scores[~known] = floor[rows[~known]] - 2 + pop[~known]
        return scores

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))
