"""Popularity: globally, or within the tags that the request's context names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import polars as pl
from linernotes import Candidate, Request
from linernotes.catalog import Catalog
from linernotes.text import normalize

from ._scoring import log_popularity, ordered, pairs


class Popularity:
    """Orders candidates by how many listeners play them (log-scaled to [0, 1]).

    With ``within_tags``, the words of the request's context (time, mood,
    activity) are matched to the catalog's tags (a tag matches when it shares
    a word with the context): items carrying a matched tag come first, by how
    many listeners gave them those tags, then the rest by global popularity.
    A request without context words is ranked by global popularity.
    """

    name: ClassVar[str] = "popularity"

    def __init__(self, within_tags: bool = True):
        self.within_tags = within_tags
        self.catalog: Catalog | None = None

    def fit(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.pop = log_popularity(catalog)
        tags = catalog.item_tags.select("item_id", "tag", "listeners")
        self.tag_words = {t: set(normalize(t).split()) for t in tags["tag"].unique().to_list()}
        self.tags = tags

    def tag_counts(self, request: Request) -> dict[str, float]:
        """Listeners who gave each item a tag matching the request's context, by item id."""
        words = set(normalize(request.context.words()).split())
        if not (self.within_tags and words):
            return {}
        matched = [t for t, w in self.tag_words.items() if w & words]
        hits = (
            self.tags.filter(pl.col("tag").is_in(matched))
            .group_by("item_id")
            .agg(pl.col("listeners").sum())
        )
        return dict(hits.iter_rows())

    def score(self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]):
        """Flat scores of every candidate (see :func:`._scoring.pairs` for the order)."""
        if self.catalog is None:
            raise RuntimeError("call fit(catalog) before rank()")
        _, cols = pairs(candidates, self.catalog.item_index)
        scores = np.where(cols >= 0, self.pop[np.maximum(cols, 0)], 0.0)
        start, by_words = 0, {}
        for req, cands in zip(requests, candidates, strict=True):
            words = req.context.words()
            if words not in by_words:  # requests in one context share its counts
                by_words[words] = self.tag_counts(req)
            counts = by_words[words]
            if counts:
                for n, c in enumerate(cands):
                    if c.item_id in counts:
                        scores[start + n] += 1 + np.log1p(counts[c.item_id])
            start += len(cands)
        return scores

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))
