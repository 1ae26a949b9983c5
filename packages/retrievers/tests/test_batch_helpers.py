"""The retrievers' batch helpers: each row's best entries, found by sorting only those that
can be among them, are those a full sort finds."""

import numpy as np
import pytest
from linernotes_retrievers._batch import best_per_row


def full_sort(rows, cols, vals, n):
    order = np.lexsort((cols, -vals, rows))
    ordered_rows = rows[order]
    within = np.arange(len(order)) - np.searchsorted(ordered_rows, ordered_rows)
    return order[within < n]


@pytest.mark.parametrize("n", [1, 3, 8, 50])
def test_each_rows_best_are_those_of_a_full_sort(n):
    rng = np.random.default_rng(n)
    for _ in range(50):
        size = int(rng.integers(0, 200))
        rows = np.sort(rng.integers(0, 6, size))
        cols = rng.permutation(size)
        vals = rng.integers(0, 5, size).astype(np.float64)  # many ties, on the bound too
        if rng.random() < 0.2 and size:
            vals[rng.integers(0, size)] = np.nan
        assert best_per_row(rows, cols, vals, n).tolist() == full_sort(rows, cols, vals, n).tolist()
