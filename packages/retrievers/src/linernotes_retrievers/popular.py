"""Global popularity: the cold-start safety net when co-listening finds too little."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from linernotes import Candidate, Request
from linernotes.catalog import Catalog


class Popular:
    """Proposes the most-listened artists the listener does not play yet.

    Scores are log(1 + listeners) divided by the catalog's largest, in [0, 1].
    """

    name: ClassVar[str] = "popular"

    def __init__(self):
        self.order: list[tuple[str, float]] | None = None

    def fit(self, catalog: Catalog) -> None:
        pop = np.log1p(catalog.popularity.astype(float))
        scores = pop / pop.max() if pop.max() > 0 else pop
        ranked = np.lexsort((np.arange(len(pop)), -pop))
        self.order = [(catalog.item_ids[i], float(scores[i])) for i in ranked if pop[i] > 0]

    def retrieve(self, requests: Sequence[Request], n: int) -> list[list[Candidate]]:
        if self.order is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        out = []
        for req in requests:
            heard = req.listener.history
            picks = [(i, s) for i, s in self.order[: n + len(heard)] if i not in heard][:n]
            out.append([Candidate(i, s, {self.name: s}) for i, s in picks])
        return out
