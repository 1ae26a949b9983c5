import numpy as np
import pytest
import scipy.sparse as sp
from linernotes_rankers._scoring import gather
from linernotes_rankers.blend import _row_dots


@pytest.fixture
def matrix():
    return sp.random(40, 300, density=0.05, format="csr", random_state=3)


def pairs(n=500, rows=40, cols=300):
    rng = np.random.default_rng(5)
    return rng.integers(0, rows, n), rng.integers(0, cols, n)


def test_gather_reads_stored_cells_and_zeros(matrix):
    rows, cols = pairs()
    stored_rows, stored_cols = matrix.nonzero()
    rows, cols = np.r_[rows, stored_rows], np.r_[cols, stored_cols]
    assert np.array_equal(gather(matrix, rows, cols), matrix.toarray()[rows, cols])


def test_gather_sums_duplicates_without_changing_its_input():
    m = sp.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([4, 4, 1]), np.array([0, 2, 3])),
                      shape=(2, 6))  # fmt: skip
    assert not m.has_canonical_format
    assert gather(m, np.array([0, 1, 1, 0]), np.array([4, 1, 0, 0])).tolist() == [3, 5, 0, 0]
    assert m.data.tolist() == [1.0, 2.0, 5.0]


def test_gather_of_an_empty_matrix_is_zeros():
    assert gather(sp.csr_matrix((3, 4)), np.array([0, 2]), np.array([1, 3])).tolist() == [0, 0]


def test_row_dots_are_the_dense_products(matrix):
    dense = np.random.default_rng(1).normal(size=(7, 300))
    rows, cols = pairs(rows=7, cols=40)
    expected = np.einsum("ij,ij->i", dense[rows], matrix.toarray()[cols])
    assert np.allclose(_row_dots(dense, rows, matrix, cols), expected)
    assert _row_dots(dense, rows[:0], matrix, cols[:0]).shape == (0,)
