"""Shared pieces of the scoring rankers: weighted matrices, history rows, ordering."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from linernotes import Candidate, Request
from linernotes.candidates import CandidateBatch
from linernotes.catalog import Catalog

WEIGHTINGS = ("binary", "log", "bm25")


def weighted(plays: sp.csr_matrix, weighting: str, k1: float = 1.2, b: float = 0.75):
    """Listener x item play counts turned into weights: ``binary``, ``log`` (log1p) or ``bm25``."""
    x = plays.tocoo()
    if weighting == "binary":
        data = np.ones_like(x.data, dtype=np.float64)
    elif weighting == "log":
        data = np.log1p(x.data.astype(np.float64))
    elif weighting == "bm25":
        df = np.bincount(x.col, minlength=x.shape[1])
        idf = np.log(x.shape[0]) - np.log1p(df)
        length = np.bincount(x.row, minlength=x.shape[0]).astype(np.float64)
        norm = (1 - b) + b * length / max(length[length > 0].mean(), 1.0)
        data = (k1 + 1) / (k1 * norm[x.row] + 1) * np.maximum(idf[x.col], 0.0)
    else:
        raise ValueError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {weighting!r}")
    return sp.csr_matrix((data, (x.row, x.col)), shape=x.shape)


def history_rows(
    requests: Sequence[Request],
    index: dict[str, int],
    n: int,
    weights: Sequence[dict[str, float]] | None = None,
) -> sp.csr_matrix:
    """A requests x items matrix of each request's history: 1 per item, or its ``weights``."""
    rows, cols, data = [], [], []
    for r, req in enumerate(requests):
        for item in req.listener.history:
            if item in index:
                rows.append(r)
                cols.append(index[item])
                data.append(1.0 if weights is None else weights[r].get(item, 0.0))
    return sp.csr_matrix((data, (rows, cols)), shape=(len(requests), n))


def pairs(candidates: Sequence[list[Candidate]], catalog: Catalog):
    """Flattened (request row, item column) of every candidate; unknown items get column -1."""
    if isinstance(candidates, CandidateBatch) and candidates.ids is catalog.item_ids:
        return candidates.rows, candidates.items.copy()
    index = catalog.item_index
    rows = np.repeat(np.arange(len(candidates)), [len(c) for c in candidates])
    cols = np.array([index.get(c.item_id, -1) for cs in candidates for c in cs], dtype=np.int64)
    return rows, cols


def source_scores(candidates: Sequence[list[Candidate]], names: Sequence[str]):
    """Every candidate's score from each source in ``names`` (0 where it has none), and
    its number of sources: flat arrays, in :func:`pairs`' order."""
    if isinstance(candidates, CandidateBatch):
        found = candidates.sources
        counts = np.zeros(len(candidates.items))
        for values in found.values():
            counts += ~np.isnan(values)
        return [np.nan_to_num(found.get(n, np.zeros_like(counts))) for n in names], counts
    flat = [c.sources for cs in candidates for c in cs]
    scores = [np.array([f.get(n, 0.0) for f in flat], dtype=np.float64) for n in names]
    return scores, np.array([len(f) for f in flat], dtype=np.float64)


def ordered(candidates: Sequence[list[Candidate]], scores: np.ndarray) -> Sequence[list[Candidate]]:
    """Each request's candidates with the flat ``scores``, best first (ties: smaller id
    first); a :class:`~linernotes.candidates.CandidateBatch` stays one."""
    if isinstance(candidates, CandidateBatch):
        return candidates.rescored(scores)
    flat = [c for cs in candidates for c in cs]
    out: list[list[Candidate]] = [[] for _ in candidates]
    if not flat:
        return out
    ids = [c.item_id for c in flat]
    by_name = {name: n for n, name in enumerate(sorted(set(ids)))}
    rows = np.repeat(np.arange(len(candidates)), [len(c) for c in candidates])
    order = np.lexsort((np.array([by_name[i] for i in ids]), -scores, rows)).tolist()
    values, row_of = scores.tolist(), rows.tolist()  # Python numbers, in one call each
    for n in order:
        c = flat[n]
        out[row_of[n]].append(Candidate(c.item_id, values[n], dict(c.sources)))
    return out


def gather(m: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``m[rows, cols]`` as a flat array (0 where ``m`` stores nothing), found by binary
    search in ``m``'s stored cells, so no row of ``m`` is ever made dense."""
    if not m.has_canonical_format:  # sorted, summed duplicates: row-major keys in order
        m = m.copy()
        m.sum_duplicates()
    width = m.shape[1]
    keys = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr)) * width
    keys += m.indices
    wanted = np.asarray(rows, dtype=np.int64) * width + cols
    if not len(keys):
        return np.zeros(len(wanted))
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return np.where(keys[at] == wanted, m.data[at], 0.0).astype(np.float64)


def log_popularity(catalog: Catalog) -> np.ndarray:
    """log(1 + listeners) per item, divided by the largest, in [0, 1]."""
    pop = np.log1p(catalog.popularity.astype(np.float64))
    return pop / pop.max() if pop.max() > 0 else pop
