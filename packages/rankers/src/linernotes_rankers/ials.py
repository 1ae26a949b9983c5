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
CHUNK = 32768  # candidates scored at once
GRAM_ROWS = 1 << 18  # item factors widened to float64 at once for the Gram matrix


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
        self._gram = self.regularization * np.eye(self.factors)
        for start in range(0, len(self.item_factors), GRAM_ROWS):  # float64, a block at a time
            y = self.item_factors[start : start + GRAM_ROWS].astype(np.float64)
            self._gram = y.T @ y + self._gram

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
        rows, cols = pairs(candidates, self.catalog)
        return self.score_pairs(self.history(requests), rows, cols)

    def history(self, requests: Sequence[Request]) -> sp.csr_matrix:
        """The requests' history rows as this model weighs them: 1, or log plays."""
        weights = None
        if self.weighting == "log":
            weights = [{i: np.log1p(p) for i, p in r.listener.history.items()} for r in requests]
        index = self.catalog.item_index
        return history_rows(requests, index, len(index), weights)

    def score_pairs(self, history: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray):
        """Scores of the (request row, item column) pairs given the requests' ``history``
        rows (see :meth:`history`); column -1 is an unknown item."""
        scores = np.zeros(len(rows))
        if not len(rows):
            return scores
        users = self.fold_in(history)
        known = np.flatnonzero(cols >= 0)
        for lo in range(0, len(known), CHUNK):  # small blocks of factors stay in cache
            part = known[lo : lo + CHUNK]
            scores[part] = np.einsum("ij,ij->i", users[rows[part]], self.item_factors[cols[part]])
        return scores

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """Listener factors ``u`` per row of weights ``w``: the minimiser of
        ``sum_j c_j (p_j - u·v_j)² + regularization |u|²`` with ``c = alpha·w, p = 1`` on
        the row's artists and ``c = 1, p = 0`` elsewhere. The systems are solved together."""
        y = self.item_factors
        out = np.zeros((history.shape[0], self.factors))
        filled = np.flatnonzero(np.diff(history.indptr))
        step = max(1, CHUNK // self.factors)  # systems per solve
        for start in range(0, len(filled), step):
            block = filled[start : start + step]
            a = np.empty((len(block), self.factors, self.factors))
            b = np.empty((len(block), self.factors, 1))
            for n, r in enumerate(block):
                lo, hi = history.indptr[r], history.indptr[r + 1]
                v = y[history.indices[lo:hi]].astype(np.float64)
                c = self.alpha * history.data[lo:hi]
                a[n] = self._gram + (v.T * (c - 1)) @ v
                b[n, :, 0] = v.T @ c
            out[block] = np.linalg.solve(a, b)[:, :, 0]
        return out

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))
