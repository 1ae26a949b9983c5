import math

import pytest
from linernotes.metrics import average_precision_at_k, ndcg_at_k, recall_at_k


def test_recall():
    assert recall_at_k(["a", "b", "c"], {"a", "c", "z"}, 2) == pytest.approx(1 / 3)
    assert recall_at_k(["a"], set(), 5) == 0.0


def test_ndcg():
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 2) == 1.0
    assert ndcg_at_k(["x", "a"], {"a"}, 2) == pytest.approx(1 / math.log2(3))
    assert ndcg_at_k(["x", "y"], {"a"}, 2) == 0.0


def test_average_precision():
    assert average_precision_at_k(["a", "x", "b"], {"a", "b"}, 3) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision_at_k(["x"], {"a"}, 1) == 0.0
