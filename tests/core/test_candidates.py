"""CandidateBatch: a batch's candidate lists as columns, that reads as those lists, and the
merge of such batches, which gives the merge of the lists."""

from __future__ import annotations

import numpy as np
import pytest
from linernotes import Candidate
from linernotes.candidates import CandidateBatch
from linernotes.pipeline import merge_batch

IDS = ["b", "a", "d", "c", "e", "f"]  # column order differs from id order on purpose


def batch(per_request: list[list[tuple[int, float]]], name: str = "r") -> CandidateBatch:
    rows = [r for r, cs in enumerate(per_request) for _ in cs]
    items = [i for cs in per_request for i, _ in cs]
    scores = np.array([s for cs in per_request for _, s in cs], dtype=np.float64)
    return CandidateBatch.from_rows(len(per_request), rows, items, scores, {name: scores}, IDS)


def test_indexing_builds_each_requests_candidates_and_their_sources():
    sources = {"x": [0.9, np.nan, 0.7], "y": [1, 2, np.nan]}
    b = CandidateBatch.from_rows(2, [0, 0, 1], [1, 3, 0], [0.9, 0.5, 0.7], sources, IDS)
    assert len(b) == 2
    assert b[0] == [Candidate("a", 0.9, {"x": 0.9, "y": 1.0}), Candidate("c", 0.5, {"y": 2.0})]
    assert b[-1] == [Candidate("b", 0.7, {"x": 0.7})]
    assert list(b) == [b[0], b[1]]
    with pytest.raises(IndexError):
        b[2]


def test_it_compares_and_slices_as_the_lists_it_stands_for():
    b = batch([[(0, 3.0)], [], [(2, 2.0), (5, 1.0)]])
    lists = [list(cs) for cs in b]
    assert b == lists and lists == list(b) and b != lists[:2]
    assert isinstance(b[1:], CandidateBatch) and b[1:] == lists[1:] and b[:0] == []
    assert CandidateBatch([0], [], [], {}, IDS) == []


def test_concat_keeps_requests_in_order_and_fills_missing_sources():
    one, two = batch([[(0, 1.0)], [(1, 2.0)]], "x"), batch([[(2, 3.0), (3, 4.0)]], "y")
    joined = CandidateBatch.concat([one, two])
    assert joined == [*one, *two]
    assert joined[2][1].sources == {"y": 4.0}


def test_heads_and_rescoring_order_ties_by_item_id():
    b = batch([[(0, 1.0), (1, 1.0), (2, 1.0)], [(3, 1.0), (4, 1.0)]])
    again = b.rescored(np.array([0.5, 0.5, 0.9, 0.2, 0.4]))
    assert [[c.item_id for c in cs] for cs in again] == [["d", "a", "b"], ["e", "c"]]
    assert again[0][0].score == 0.9 and again[0][0].sources == {"r": 1.0}
    assert again.heads([2, 5]) == [again[0][:2], again[1]]


def test_merging_batches_gives_the_merge_of_their_lists():
    """Random lists with shared items, excluded items, weights, a budget and one source
    name in two lists (the later one's score wins, as the list merge's dict update)."""
    rng = np.random.default_rng(0)
    for _ in range(30):
        size = int(rng.integers(1, 5))
        lists = {}
        for name in ("one", "two", "three"):
            per_request = []
            for _ in range(size):
                items = rng.choice(len(IDS), int(rng.integers(0, len(IDS) + 1)), replace=False)
                per_request.append([(int(i), float(rng.random())) for i in items])
            lists[name] = batch(per_request, "same" if name == "three" else name)
        excludes = [set(rng.choice(IDS, int(rng.integers(0, 3))).tolist()) for _ in range(size)]
        weights, budget = {"two": 2.0}, int(rng.integers(1, len(IDS) + 1))
        got = merge_batch(lists, weights, budget, excludes)
        want = merge_batch(
            {n: [list(cs) for cs in b] for n, b in lists.items()}, weights, budget, excludes
        )
        assert isinstance(got, CandidateBatch)
        assert [[(c.item_id, c.score, list(c.sources.items())) for c in cs] for cs in got] == [
            [(c.item_id, c.score, list(c.sources.items())) for c in cs] for cs in want
        ]


def test_a_retriever_giving_lists_is_merged_with_batches():
    lists = {"cols": batch([[(0, 1.0), (1, 0.5)]], "cols"), "plain": [[Candidate("d", 1.0)]]}
    [merged] = merge_batch(lists, {}, 10, [set()])
    assert [c.item_id for c in merged] == ["b", "d", "a"]
