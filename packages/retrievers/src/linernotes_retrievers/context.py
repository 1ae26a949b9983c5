"""Context retrieval: a seed artist's neighbours, and popular artists that fit the context."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from linernotes import Listener, Request
from linernotes.candidates import CandidateBatch
from linernotes.catalog import Catalog

from ._batch import candidate_batch, heard_cells, in_blocks, top_dense
from .colisten import CoListening
from .lexicon import ItemTags, Lexicon


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

    def retrieve(self, requests: Sequence[Request], n: int) -> CandidateBatch:
        if self.popularity is None:
            raise RuntimeError("call fit(catalog) before retrieve()")
        return in_blocks(self._retrieve_block, requests, n, self.catalog.item_ids)

    def _retrieve_block(self, requests: Sequence[Request], n: int) -> CandidateBatch:
        index = self.catalog.item_index
        fits = {}
        for r, req in enumerate(requests):
            tags = self.item_tags.of_context(self.words, req.context)
            if tags is not None:
                fits[r] = tags / tags.max()
        seeded = [r for r, req in enumerate(requests) if req.context.seed in index]
        active = sorted({*fits, *seeded})  # the requests with candidates, as rows of scores
        row = {r: a for a, r in enumerate(active)}
        scores = np.zeros((len(active), len(index)))
        if fits:
            fit = (self.item_tags.shares @ np.vstack(list(fits.values())).T).T
            scores[[row[r] for r in fits]] += fit * self.popularity**self.popularity_weight
        if seeded:
            extra = [len(requests[r].listener.history) for r in seeded]
            seeds = [Request(Listener(), requests[r].context) for r in seeded]
            nears = self.colisten.retrieve(seeds, n + max(extra))  # a CandidateBatch
            for k, (r, more) in enumerate(zip(seeded, extra, strict=True)):
                lo = nears.offsets[k]
                hi = min(lo + n + more, nears.offsets[k + 1])
                if hi > lo:  # scaled by the seed's best neighbour
                    near = nears.scores[lo:hi]
                    scores[row[r], nears.items[lo:hi]] += near / near[0]
        heard = heard_cells([requests[r] for r in active], index)
        rows, cols, vals = top_dense(scores, n, heard)
        picks = (np.array(active, dtype=np.int64)[rows], cols, vals)
        return candidate_batch(len(requests), picks, self.catalog.item_ids, self.name)
