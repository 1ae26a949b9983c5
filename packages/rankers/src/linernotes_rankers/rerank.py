"""Re-rankers: they run after the ranker (config group ``rerankers``) and reorder or drop picks.

They follow the ranker protocol, take the ranked lists and return them best first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import polars as pl
from linernotes import Candidate, Request
from linernotes.catalog import Catalog
from linernotes.text import normalize


class MMR:
    """Maximal marginal relevance (Carbonell & Goldstein, 1998) on the items' tag vectors.

    Among the top ``depth`` candidates, picks one at a time the item that
    maximises ``trade_off * relevance - (1 - trade_off) * max similarity to
    the items already picked``; relevance is the ranker's score scaled to
    [0, 1] per request, similarity the cosine of tag vectors (0 for untagged
    items). ``trade_off = 1`` keeps the ranker's order. Scores become evenly
    spaced in (0, 1], best first; the rest follow in their order.
    """

    name: ClassVar[str] = "mmr"

    def __init__(self, trade_off: float = 0.7, depth: int = 50):
        if not 0 <= trade_off <= 1:
            raise ValueError(f"trade_off must be in [0, 1], got {trade_off}")
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.trade_off = trade_off
        self.depth = depth
        self.vectors: dict[str, np.ndarray] | None = None

    def fit(self, catalog: Catalog) -> None:
        from linernotes.evaluation.ranking import tag_vectors

        self.vectors = tag_vectors(catalog)

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        if self.vectors is None:
            raise RuntimeError("call fit(catalog) before rank()")
        return [self._one(list(cands)) for cands in candidates]

    def _one(self, cands: list[Candidate]) -> list[Candidate]:
        cands.sort(key=lambda c: (-c.score, c.item_id))
        head, tail = cands[: self.depth], cands[self.depth :]
        if not head:
            return []
        scores = np.array([c.score for c in head])
        spread = scores.max() - scores.min()
        relevance = (scores - scores.min()) / spread if spread > 0 else np.ones(len(head))
        width = len(next(iter(self.vectors.values()))) if self.vectors else 1
        vecs = np.array([self.vectors.get(c.item_id, np.zeros(width)) for c in head])
        sims = vecs @ vecs.T
        picked: list[int] = []
        closest = np.zeros(len(head))
        left = np.ones(len(head), dtype=bool)
        for _ in range(len(head)):
            value = self.trade_off * relevance - (1 - self.trade_off) * closest
            value[~left] = -np.inf
            best = int(np.argmax(value))
            picked.append(best)
            left[best] = False
            closest = np.maximum(closest, sims[best])
        order = [head[i] for i in picked] + tail
        n = len(order)
        return [Candidate(c.item_id, (n - i) / n, dict(c.sources)) for i, c in enumerate(order)]


class Blocklist:
    """Drops blocked items (by id or exact name) and items carrying a blocked tag."""

    name: ClassVar[str] = "blocklist"

    def __init__(self, items: list[str] | None = None, tags: list[str] | None = None):
        self.items = list(items or [])
        self.tags = [normalize(t).strip() for t in tags or []]
        self.blocked: set[str] | None = None

    def fit(self, catalog: Catalog) -> None:
        names = dict(zip(catalog.items["name"].to_list(), catalog.item_ids, strict=True))
        blocked = {names.get(i, i) for i in self.items}
        if self.tags:
            tagged = catalog.item_tags.filter(
                pl.col("tag").map_elements(lambda t: normalize(t).strip(), return_dtype=pl.String)
                .is_in(self.tags)
            )  # fmt: skip
            blocked |= set(tagged["item_id"].to_list())
        self.blocked = blocked

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        if self.blocked is None:
            raise RuntimeError("call fit(catalog) before rank()")
        return [
            sorted(
                (c for c in cands if c.item_id not in self.blocked),
                key=lambda c: (-c.score, c.item_id),
            )
            for cands in candidates
        ]
