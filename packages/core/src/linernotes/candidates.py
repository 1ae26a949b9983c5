"""A batch's candidate lists held as columns (:class:`CandidateBatch`).

A retriever or a ranker may return a :class:`CandidateBatch` wherever a list of
candidate lists (one per request) is expected: it is such a sequence, and indexing it
builds that request's :class:`~linernotes.types.Candidate` objects, so code written for
lists works unchanged. The pipeline's merge and the built-in rankers read its columns
instead, so a request's candidates become objects only where they are handed on (its
top picks), not at every stage.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import overload

import numpy as np

from .types import Candidate


class CandidateBatch(Sequence[list[Candidate]]):
    """Every request's candidates, best first, as flat columns.

    Request ``r`` owns positions ``offsets[r]`` to ``offsets[r + 1]`` of ``items`` (each
    candidate's position in ``ids``, e.g. a catalog's ``item_ids``), ``scores`` and each
    column of ``sources`` (a source's score of every candidate; NaN where that source did
    not propose it).
    """

    __slots__ = ("ids", "items", "offsets", "scores", "sources")

    def __init__(
        self,
        offsets: np.ndarray,
        items: np.ndarray,
        scores: np.ndarray,
        sources: Mapping[str, np.ndarray],
        ids: Sequence[str],
    ):
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int64)
        self.scores = np.asarray(scores, dtype=np.float64)
        self.sources = {n: np.asarray(v, dtype=np.float64) for n, v in sources.items()}
        self.ids = ids

    @classmethod
    def from_rows(
        cls,
        size: int,
        rows: np.ndarray,
        items: np.ndarray,
        scores: np.ndarray,
        sources: Mapping[str, np.ndarray],
        ids: Sequence[str],
    ) -> CandidateBatch:
        """A batch of ``size`` requests from flat columns whose ``rows`` (request numbers)
        are in order."""
        offsets = np.searchsorted(np.asarray(rows, dtype=np.int64), np.arange(size + 1))
        return cls(offsets, items, scores, sources, ids)

    @classmethod
    def concat(cls, batches: Sequence[CandidateBatch]) -> CandidateBatch:
        """One batch of the ``batches``' requests in order (all over the same ``ids``)."""
        ids = batches[0].ids
        starts = np.cumsum([0] + [len(b.items) for b in batches[:-1]])
        offsets = [batches[0].offsets[:1]]
        offsets += [b.offsets[1:] + s for b, s in zip(batches, starts, strict=True)]
        names = list(dict.fromkeys(n for b in batches for n in b.sources))
        sources = {
            n: np.concatenate([b.sources.get(n, np.full(len(b.items), np.nan)) for b in batches])
            for n in names
        }
        return cls(
            np.concatenate(offsets),
            np.concatenate([b.items for b in batches]),
            np.concatenate([b.scores for b in batches]),
            sources,
            ids,
        )

    @property
    def rows(self) -> np.ndarray:
        """The request number of every candidate."""
        return np.repeat(np.arange(len(self)), np.diff(self.offsets))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, r: int) -> list[Candidate]: ...
    @overload
    def __getitem__(self, r: slice) -> CandidateBatch: ...
    def __getitem__(self, r):
        if isinstance(r, slice):
            kept = range(len(self))[r]
            if kept.step != 1:
                raise ValueError("a CandidateBatch slices with step 1 only")
            lo, hi = self.offsets[kept.start], self.offsets[kept.start + len(kept)]
            sources = {n: v[lo:hi] for n, v in self.sources.items()}
            offsets = self.offsets[kept.start : kept.start + len(kept) + 1] - lo
            return CandidateBatch(offsets, self.items[lo:hi], self.scores[lo:hi], sources, self.ids)
        r = range(len(self))[r]  # negative numbers count from the end; IndexError past it
        return self._candidates(self.offsets[r], self.offsets[r + 1])

    def __iter__(self) -> Iterator[list[Candidate]]:
        for r in range(len(self)):
            yield self._candidates(self.offsets[r], self.offsets[r + 1])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, like the lists it stands for

    def __repr__(self) -> str:
        return f"CandidateBatch(requests={len(self)}, candidates={len(self.items)})"

    def heads(self, ks: Sequence[int]) -> list[list[Candidate]]:
        """Each request's first ``ks[r]`` candidates, as lists."""
        return [
            self._candidates(lo, min(lo + k, hi))
            for lo, hi, k in zip(self.offsets[:-1], self.offsets[1:], ks, strict=True)
        ]

    def rescored(self, scores: np.ndarray) -> CandidateBatch:
        """The candidates with the flat ``scores``, each request's best first (ties: the
        smaller id first)."""
        order = np.lexsort((id_ranks(self.ids)[self.items], -scores, self.rows))
        sources = {n: v[order] for n, v in self.sources.items()}
        return CandidateBatch(self.offsets, self.items[order], scores[order], sources, self.ids)

    def _candidates(self, lo: int, hi: int) -> list[Candidate]:
        ids = self.ids
        columns = [(n, v[lo:hi].tolist()) for n, v in self.sources.items()]
        out = []
        for n, (item, score) in enumerate(
            zip(self.items[lo:hi].tolist(), self.scores[lo:hi].tolist(), strict=True)
        ):
            found = {name: v[n] for name, v in columns if v[n] == v[n]}  # NaN: not found
            out.append(Candidate(ids[item], score, found))
        return out


_ID_RANKS: dict[int, tuple[Sequence[str], np.ndarray]] = {}


def id_ranks(ids: Sequence[str]) -> np.ndarray:
    """Each position's place in ``ids`` sorted as strings: computed once per list (a
    catalog's ``item_ids``, which never changes) and kept for the next batch."""
    kept = _ID_RANKS.get(id(ids))
    if kept is None or kept[0] is not ids:
        ranks = np.empty(len(ids), dtype=np.int64)
        ranks[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
        if len(_ID_RANKS) >= 8:  # a few catalogs' lists at most
            _ID_RANKS.clear()
        kept = _ID_RANKS[id(ids)] = (ids, ranks)
    return kept[1]
