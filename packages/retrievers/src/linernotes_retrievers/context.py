"""Context retrieval: a seed artist's neighbours, and popular artists that fit the context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from linernotes import Candidate, Listener, Request
from linernotes.catalog import Catalog

from .colisten import CoListening
from .lexicon import ItemTags, Lexicon, heard, top_new


class ContextRetriever:
    """Serves requests by their context alone, so a cold start gets candidates too.

    - Context words (mood, activity, time) map to tags through the lexicon; an
      artist fits by the share of its tagging listeners on those tags, and scores
      ``fit * popularity ** popularity_weight`` (popularity: log listeners, in [0, 1]).
    - A seed artist proposes its co-listening neighbours (``neighbours`` kept per
      artist), whatever the history; their scores are scaled to [0, 1].

    With both, the two scores add up. A request with neither gets no candidates.
    """

    name: ClassVar[str] = "context"

    def __init__(
        self, popularity_weight: float = 1.0, neighbours: int = 100, lexicon: str | None = None
    ):
        if popularity_weight < 0:
            raise ValueError(f"popularity_weight must not be negative, got {popularity_weight}")
        self.popularity_weight = popularity_weight
        self.neighbours = neighbours
        self.lexicon = lexicon
        self.colisten = CoListening(neighbours=neighbours)
        self.popularity: np.ndarray | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.words = Lexicon.load(catalog, self.lexicon)
        self.item_tags = ItemTags(catalog)
        self.colisten.fit(catalog)
        pop = np.log1p(catalog.popularity.astype(float))
        self.popularity = pop / pop.max() if pop.max() > 0 else pop

    def retrieve(self, requests: Sequence[Request], n: int) -> list[list[Candidate]]:
        if self.popularity is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        index, ids = self.catalog.item_index, self.catalog.item_ids
        out = []
        for req in requests:
            scores = np.zeros(len(ids))
            tags = self.item_tags.vector(self.words.tags(req.context.words()))
            if tags.sum() > 0:
                fit = self.item_tags.shares @ (tags / tags.max())
                scores += fit * self.popularity**self.popularity_weight
            if req.context.seed in index:
                seed_only = Request(Listener(), req.context)
                [near] = self.colisten.retrieve([seed_only], n + len(req.listener.history))
                top = near[0].score if near else 1.0
                for c in near:
                    scores[index[c.item_id]] += c.score / top
            picked = top_new(scores, n, heard(req, index), ids)
            out.append([Candidate(i, s, {self.name: s}) for i, s in picked])
        return out
