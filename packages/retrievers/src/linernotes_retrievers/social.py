"""Social retrieval: what the listener's friends play and the listener does not."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from linernotes import Request
from linernotes.candidates import CandidateBatch
from linernotes.catalog import Catalog

from ._batch import candidate_batch, heard_cells, histories, top_sparse


class Social:
    """Scores an artist by the friends who play it: the sum over friends of
    ``(1 + overlap_weight * similarity) * log(1 + plays)``, where similarity is the
    cosine between the friend's and the listener's log-play vectors.

    Only listeners with a catalog id have friends. Friend ids never leave this
    class: candidates carry the score alone.
    """

    name: ClassVar[str] = "social"

    def __init__(self, overlap_weight: float = 1.0):
        if overlap_weight < 0:
            raise ValueError(f"overlap_weight must not be negative, got {overlap_weight}")
        self.overlap_weight = overlap_weight
        self.plays: sp.csr_matrix | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        plays = catalog.plays_matrix.astype(np.float64).tocsr()
        plays.data = np.log1p(plays.data)
        self.plays = plays
        self.plays_by_item = plays.T.tocsr()  # converted once, not on every product
        self.norms = np.sqrt(np.asarray(plays.multiply(plays).sum(axis=1)).ravel())

    def retrieve(self, requests: Sequence[Request], n: int) -> CandidateBatch:
        if self.plays is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        catalog = self.catalog
        items, people = catalog.item_index, catalog.listener_index
        h_rows, h_cols, h_plays = histories(requests, items)
        h_vals = np.log1p(h_plays)
        f_rows, f_cols = [], []
        for r, req in enumerate(requests):
            lid = req.listener.id
            for f in catalog.friends(lid) if lid is not None else []:
                if f in people:
                    f_rows.append(r)
                    f_cols.append(people[f])
        shape = (len(requests), len(catalog.listener_ids))
        own = sp.csr_matrix((h_vals, (h_rows, h_cols)), shape=(len(requests), len(items)))
        friends = sp.csr_matrix((np.ones(len(f_rows)), (f_rows, f_cols)), shape=shape)
        dots = friends.multiply(own @ self.plays_by_item).tocsr()  # only friend pairs are kept
        own_norms = np.sqrt(np.asarray(own.multiply(own).sum(axis=1)).ravel())
        dots.data /= np.maximum(own_norms[dots.nonzero()[0]] * self.norms[dots.indices], 1e-12)
        weights = friends + self.overlap_weight * dots
        scores = (weights @ self.plays).tocsr()
        picks = top_sparse(scores, n, heard_cells(requests, items), positive=False)
        return candidate_batch(len(requests), picks, catalog.item_ids, self.name)
