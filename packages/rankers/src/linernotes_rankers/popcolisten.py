"""A blend of the retrievers' evidence with popularity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from linernotes import Candidate, Request
from linernotes.catalog import Catalog


class PopularityCoListening:
    """Scores ``(1 - w) * evidence + w * popularity``, both scaled to [0, 1] per request.

    Evidence is the sum of a candidate's scores from the retrievers named in
    ``sources`` (all when None), divided by the request's best; popularity is
    log(1 + listeners) divided by the catalog's largest. ``popularity_weight``
    is ``w``. Candidates without evidence (say, from a popularity retriever)
    rank after those with it unless ``w`` is large. Ties go to the smaller id.
    """

    name: ClassVar[str] = "popcolisten"

    def __init__(self, popularity_weight: float = 0.1, sources: list[str] | None = None):
        if not 0 <= popularity_weight <= 1:
            raise ValueError(f"popularity_weight must be in [0, 1], got {popularity_weight}")
        self.popularity_weight = popularity_weight
        self.sources = None if sources is None else list(sources)
        self.popularity: dict[str, float] = {}

    def fit(self, catalog: Catalog) -> None:
        pop = np.log1p(catalog.popularity.astype(float))
        pop = pop / pop.max() if pop.max() > 0 else pop
        self.popularity = dict(zip(catalog.item_ids, pop.tolist(), strict=True))

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        w = self.popularity_weight
        out = []
        for cands in candidates:
            evidence = [
                sum(v for k, v in c.sources.items() if self.sources is None or k in self.sources)
                for c in cands
            ]
            best = max(evidence, default=0.0) or 1.0
            scored = [
                Candidate(
                    c.item_id,
                    (1 - w) * e / best + w * self.popularity.get(c.item_id, 0.0),
                    dict(c.sources),
                )
                for c, e in zip(cands, evidence, strict=True)
            ]
            scored.sort(key=lambda c: (-c.score, c.item_id))
            out.append(scored)
        return out
