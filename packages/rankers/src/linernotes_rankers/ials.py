"""iALS: implicit-feedback matrix factorisation by alternating least squares (Hu, Koren and
Volinsky, ICDM 2008), through the ``implicit`` library; a strong baseline in Dacrema et al.
(RecSys 2019)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.cache import cached
from linernotes.catalog import Catalog

from ._scoring import history_rows, ordered, pairs, weighted

WEIGHTINGS = ("binary", "log")


class IALS:
    """Scores ``u · v_j``: a listener's factors ``u`` against artist ``j``'s factors ``v_j``.

    The artist factors are learned from the listener x artist plays, turned
    into confidences ``alpha * weight`` (``weighting``: ``binary`` or ``log``, that
    is log(1 + plays)) with ``factors`` dimensions, L2 ``regularization`` and
    ``iterations`` sweeps, seeded (``implicit`` trains). A request's listener
    factors are solved from its own history against the fixed artist factors
    (a fold-in: the exact weighted least-squares step of ALS, in numpy, so
    ranking never imports ``implicit``), and listeners unseen in training are
    scored the same way as known ones. With ``cache``, the fitted factors are kept on disk,
    keyed by the catalog version and the parameters.
    """

    name: ClassVar[str] = "ials"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 50.0,
        alpha: float = 10.0,
        iterations: int = 15,
        weighting: str = "binary",
        seed: int = 0,
        cache: bool = True,
    ):
        if factors < 1 or iterations < 1:
            raise ValueError("factors and iterations must be at least 1")
        if regularization < 0:
            raise ValueError(f"regularization must be at least 0, got {regularization}")
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting = weighting
        self.seed = seed
        self.cache = cache
        self.item_factors: np.ndarray | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        params = {
            "factors": self.factors, "regularization": self.regularization, "alpha": self.alpha,
            "iterations": self.iterations, "weighting": self.weighting, "seed": self.seed,
        }  # fmt: skip
        if self.cache:
            self.item_factors = cached(
                "ials", catalog, params, lambda: self._train(catalog), version=2
            )  # version 2: the factors alone, no implicit model
        else:
            self.item_factors = self._train(catalog)
        y = self.item_factors.astype(np.float64)
        self._gram = y.T @ y + self.regularization * np.eye(self.factors)

    def _train(self, catalog: Catalog):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, "blas"):  # implicit parallelises over listeners itself
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                random_state=self.seed,
            )
            model.fit(weighted(catalog.plays_matrix, self.weighting), show_progress=False)
        return np.ascontiguousarray(model.item_factors, dtype=np.float32)

    def score(self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]):
        """Flat scores of every candidate (see :func:`._scoring.pairs` for the order)."""
        if self.item_factors is None:
            raise RuntimeError("call fit(catalog) before rank()")
        index = self.catalog.item_index
        rows, cols = pairs(candidates, index)
        scores = np.zeros(len(rows))
        if not len(rows):
            return scores
        weights = None
        if self.weighting == "log":
            weights = [{i: np.log1p(p) for i, p in r.listener.history.items()} for r in requests]
        history = history_rows(requests, index, len(index), weights)
        users = self.fold_in(history)
        known = cols >= 0
        factors = self.item_factors
        scores[known] = np.einsum("ij,ij->i", users[rows[known]], factors[cols[known]])
        return scores

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """Listener factors ``u`` per row of weights ``w``: the minimiser of
        ``sum_j c_j (p_j - u·v_j)² + regularization |u|²`` with ``c = alpha·w, p = 1`` on
        the row's artists and ``c = 1, p = 0`` elsewhere."""
        y = self.item_factors
        out = np.zeros((history.shape[0], self.factors))
        for r in range(history.shape[0]):
            lo, hi = history.indptr[r], history.indptr[r + 1]
            if lo == hi:
                continue
            v = y[history.indices[lo:hi]].astype(np.float64)
            c = self.alpha * history.data[lo:hi]
            a = self._gram + (v.T * (c - 1)) @ v
            out[r] = np.linalg.solve(a, v.T @ c)
        return out

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))
