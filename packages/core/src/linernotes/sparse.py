"""Sparse item-item neighbours shared by the retrievers and rankers: each row's top ``k``
entries, and a product's top rows computed a block of rows at a time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

PAIRS_PER_BLOCK = 1 << 24
"""Pairs one block of :func:`top_of_product` may compute (a bound on its memory)."""


def top_per_row(m: sp.spmatrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row (ties: smaller column)."""
    import polars as pl

    m = sp.csr_matrix(m)
    m.sort_indices()  # an ordinal rank breaks ties by position: the smaller column
    counts = np.diff(m.indptr)
    keep = np.repeat(counts <= k, counts)
    long = np.flatnonzero(~keep)  # entries of the rows that have more than k
    if len(long):
        rows = np.repeat(np.arange(m.shape[0]), counts)[long]
        ranked = pl.DataFrame({"row": rows, "score": m.data[long]}).select(
            best=pl.col("score").rank("ordinal", descending=True).over("row") <= k
        )
        keep[long[ranked["best"].to_numpy()]] = True
    indptr = np.concatenate([[0], np.cumsum(np.minimum(counts, k))]).astype(m.indptr.dtype)
    return sp.csr_matrix((m.data[keep], m.indices[keep], indptr), shape=m.shape)


def top_of_product(
    left: sp.spmatrix,
    right: sp.spmatrix,
    k: int,
    weigh: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
    block: int | None = None,
) -> sp.csr_matrix:
    """The top ``k`` of each row of ``left @ right`` with its diagonal left out, after
    ``weigh(rows, cols, values)`` turns each product entry into a score.

    Computed a block of rows at a time, each block holding at most about ``block``
    pairs (:data:`PAIRS_PER_BLOCK` by default; one row at least), so memory is a block plus
    ``k`` entries per row rather than the whole product. Each entry is summed exactly as
    in the whole product.
    """
    block = block or PAIRS_PER_BLOCK
    left, right = sp.csr_matrix(left), sp.csr_matrix(right)
    n_rows = left.shape[0]
    # the pairs up to the end of each row (the sizes of the rows it sums): a bound
    per_entry = np.cumsum(np.diff(right.indptr)[left.indices], dtype=np.int64)
    work = np.concatenate([[0], per_entry])[left.indptr[1:]]
    data, indices, counts = [], [], []
    lo = 0
    while lo < n_rows:
        done = work[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(work, done + block, side="right")))
        product = sp.csr_matrix(left[lo:hi] @ right)
        rows = np.repeat(np.arange(lo, hi), np.diff(product.indptr))
        off = rows != product.indices
        rows, cols = rows[off], product.indices[off]
        scores = weigh(rows, cols, product.data[off])
        per_row = np.bincount(rows - lo, minlength=hi - lo)
        indptr = np.concatenate([[0], np.cumsum(per_row)])
        top = top_per_row(sp.csr_matrix((scores, cols, indptr), shape=(hi - lo, right.shape[1])), k)
        data.append(top.data)
        indices.append(top.indices)
        counts.append(np.diff(top.indptr))
        lo = hi
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts or [[]]))]).astype(np.int64)
    return sp.csr_matrix(
        (np.concatenate(data or [[]]), np.concatenate(indices or [[]]), indptr),
        shape=(n_rows, right.shape[1]),
    )


def cosine_neighbours(w: sp.spmatrix, k: int, shrink: float) -> sp.csr_matrix:
    """Each column's ``k`` most similar other columns of ``w``, by the shrunk cosine
    ``w_a · w_b / (|w_a| |w_b| + shrink)`` (ties: smaller column); computed with
    :func:`top_of_product`."""
    norms = np.sqrt(np.asarray(w.multiply(w).sum(axis=0)).ravel())

    def cosine(rows: np.ndarray, cols: np.ndarray, dots: np.ndarray) -> np.ndarray:
        return dots / (norms[rows] * norms[cols] + shrink)

    return top_of_product(w.T, w, k, cosine)
