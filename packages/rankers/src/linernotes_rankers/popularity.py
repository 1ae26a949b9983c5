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
        rows, cols = pairs(candidates, self.catalog)
        scores = np.where(cols >= 0, self.pop[np.maximum(cols, 0)], 0.0)
        starts = np.searchsorted(rows, np.arange(len(requests) + 1))
        by_words: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for r, req in enumerate(requests):
            words = req.context.words()
            if words not in by_words:  # requests in one context share its counts
                by_words[words] = self._bonus(req)
            matched, bonus = by_words[words]
            if len(matched):
                lo, hi = starts[r], starts[r + 1]
                at = np.minimum(np.searchsorted(matched, cols[lo:hi]), len(matched) - 1)
                hit = matched[at] == cols[lo:hi]
                scores[lo:hi][hit] += bonus[at[hit]]
        return scores

    def _bonus(self, request: Request) -> tuple[np.ndarray, np.ndarray]:
        """The item columns whose tags match the request's context, in order, and the
        score each gains: 1 + log(1 + listeners who gave it such a tag)."""
        index = self.catalog.item_index
        counts = sorted((index[i], n) for i, n in self.tag_counts(request).items() if i in index)
        matched = np.array([c for c, _ in counts], dtype=np.int64)
        return matched, 1 + np.log1p(np.array([n for _, n in counts], dtype=np.float64))

    def rank(
        self, requests: Sequence[Request], candidates: Sequence[list[Candidate]]
    ) -> list[list[Candidate]]:
        return ordered(candidates, self.score(requests, candidates))
