"""The shared sparse neighbour helpers against plain, row-by-row definitions."""

import numpy as np
import pytest
import scipy.sparse as sp
from linernotes.sparse import top_of_product, top_per_row


def reference_top(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Each row's ``k`` largest entries, ties to the smaller column, one row at a time."""
    m = m.tocsr()
    rows, cols, vals = [], [], []
    for r in range(m.shape[0]):
        entries = sorted(zip(m[r].indices, m[r].data, strict=True), key=lambda e: (-e[1], e[0]))
        for c, v in entries[:k]:
            rows.append(r)
            cols.append(c)
            vals.append(v)
    return sp.csr_matrix((vals, (rows, cols)), shape=m.shape)


def assert_identical(a: sp.csr_matrix, b: sp.csr_matrix) -> None:
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    assert a.shape == b.shape and a.dtype == b.dtype
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)  # exact, not approximate


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 3, 10])
def test_top_per_row_matches_the_row_by_row_definition_with_ties(seed, k):
    rng = np.random.default_rng(seed)
    # few distinct values, so many ties; some empty rows and rows shorter than k
    m = sp.random(40, 30, density=0.3, random_state=rng, format="csr")
    m.data = rng.integers(-2, 3, m.nnz).astype(np.float64)
    m.data[m.data == 0] = 0.5
    kept = np.ones(40)
    kept[[3, 7]] = 0
    m = sp.csr_matrix(sp.diags(kept) @ m)
    m.eliminate_zeros()
    assert_identical(top_per_row(m, k), reference_top(m, k))


def test_top_per_row_of_an_empty_matrix():
    top = top_per_row(sp.csr_matrix((4, 5)), 2)
    assert top.shape == (4, 5) and top.nnz == 0


@pytest.mark.parametrize("block", [1, 7, 50, 10**9])
@pytest.mark.parametrize("seed", range(3))
def test_top_of_product_matches_the_whole_product(seed, block):
    rng = np.random.default_rng(seed)
    w = sp.random(60, 45, density=0.15, random_state=rng, format="csr")
    norms = np.sqrt(np.asarray(w.multiply(w).sum(axis=0)).ravel())

    def cosine(rows, cols, dots):
        return dots / (norms[rows] * norms[cols] + 1.0)

    whole = (w.T @ w).tocoo()
    off = whole.row != whole.col
    rows, cols = whole.row[off], whole.col[off]
    scores = sp.csr_matrix((cosine(rows, cols, whole.data[off]), (rows, cols)), shape=whole.shape)
    blocked = top_of_product(w.T, w, 5, cosine, block=block)
    assert_identical(blocked, reference_top(scores, 5))
