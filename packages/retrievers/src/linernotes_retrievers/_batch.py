"""Batch helpers of the retrievers: a batch's histories as arrays, the best new items of
every row at once, and the candidate batch made of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from linernotes import Request
from linernotes.candidates import CandidateBatch

BLOCK_CELLS = 1 << 24
"""Dense scores are held for at most this many (request, item) cells at a time: 128 MB of
float64, whatever the batch size and the catalog's width."""


def in_blocks(
    retrieve: Callable[[Sequence[Request], int], CandidateBatch],
    requests: Sequence[Request],
    n: int,
    ids: list[str],
) -> CandidateBatch:
    """``retrieve(requests, n)`` run on consecutive blocks of requests, each small enough
    that its dense scores over the items ``ids`` hold at most :data:`BLOCK_CELLS` cells."""
    step = max(1, BLOCK_CELLS // max(len(ids), 1))
    blocks = [retrieve(requests[lo : lo + step], n) for lo in range(0, len(requests), step)]
    if not blocks:
        return CandidateBatch([0], [], [], {}, ids)
    return blocks[0] if len(blocks) == 1 else CandidateBatch.concat(blocks)


def histories(requests: Sequence[Request], index: dict[str, int]):
    """Every request's known history items, in history order: (request row, item column,
    plays) arrays."""
    rows, cols, plays = [], [], []
    for r, req in enumerate(requests):
        for item, p in req.listener.history.items():
            c = index.get(item)
            if c is not None:
                rows.append(r)
                cols.append(c)
                plays.append(p)
    return (
        np.array(rows, dtype=np.int64),
        np.array(cols, dtype=np.int64),
        np.array(plays, dtype=np.float64),
    )


def seeds(requests: Sequence[Request], index: dict[str, int]):
    """(request row, item column) arrays of the requests whose seed is a known item."""
    pairs = [(r, index[q.context.seed]) for r, q in enumerate(requests) if q.context.seed in index]
    rows, cols = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return rows, cols


def heard_cells(requests: Sequence[Request], index: dict[str, int]):
    """(row, column) arrays of the items each request already has: its history and its seed."""
    rows, cols, _ = histories(requests, index)
    seed_rows, seed_cols = seeds(requests, index)
    return np.concatenate([rows, seed_rows]), np.concatenate([cols, seed_cols])


def best_per_row(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """Positions of each row's ``n`` best entries, rows in order, best first (ties: smaller
    column). ``rows`` must be in order."""
    candidates = _above_bounds(rows, vals, n)
    order = candidates[np.lexsort((cols[candidates], -vals[candidates], rows[candidates]))]
    ordered_rows = rows[order]
    within = np.arange(len(order)) - np.searchsorted(ordered_rows, ordered_rows)
    return order[within < n]


def _above_bounds(rows: np.ndarray, vals: np.ndarray, n: int) -> np.ndarray:
    """Positions of the entries at or above their row's ``n``-th best value (every entry of
    a row with at most ``n``, and all of them where a value is NaN): all that can be among
    the row's best, so only these are sorted."""
    if not len(rows) or np.isnan(vals).any():
        return np.arange(len(rows))
    starts = np.searchsorted(rows, np.arange(rows[-1] + 2))
    bounds = np.full(len(starts) - 1, -np.inf)
    for r in np.flatnonzero(np.diff(starts) > n).tolist():
        row = vals[starts[r] : starts[r + 1]]
        bounds[r] = np.partition(row, len(row) - n)[len(row) - n]
    return np.flatnonzero(vals >= bounds[rows])


def top_sparse(
    scores: sp.csr_matrix,
    n: int,
    heard: tuple[np.ndarray, np.ndarray],
    positive: bool = True,
):
    """Each row's ``n`` best stored entries outside the ``heard`` cells (and above 0 when
    ``positive``): (row, column, score) arrays, rows in order, best first, ties by column."""
    coo = scores.tocoo()
    rows, cols, vals = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    width = scores.shape[1]
    keep = ~np.isin(rows * width + cols, heard[0] * width + heard[1])
    if positive:
        keep &= vals > 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    best = best_per_row(rows, cols, vals, n)
    return rows[best], cols[best], vals[best]


def top_dense(scores: np.ndarray, n: int, heard: tuple[np.ndarray, np.ndarray]):
    """Each row's ``n`` best items scored above 0 outside the ``heard`` cells: (row, column,
    score) arrays, rows in order, best first, ties by column."""
    eligible = scores > 0
    eligible[heard] = False
    if n < scores.shape[1]:  # the n-th best eligible value of each row bounds the picks
        masked = np.where(eligible, -scores, np.inf)
        bound = -np.partition(masked, n - 1, axis=1)[:, n - 1]
        eligible &= scores >= bound[:, None]
    rows, cols = np.nonzero(eligible)
    vals = scores[rows, cols]
    best = best_per_row(rows, cols, vals, n)
    return rows[best], cols[best], vals[best]


def candidate_batch(
    size: int, picks: tuple[np.ndarray, np.ndarray, np.ndarray], ids: list[str], name: str
) -> CandidateBatch:
    """The candidates of ``size`` requests from (row, column, score) picks in order, each
    sourced ``name`` with its score."""
    rows, cols, vals = picks
    vals = np.asarray(vals, dtype=np.float64)
    return CandidateBatch.from_rows(size, rows, cols, vals, {name: vals}, ids)
