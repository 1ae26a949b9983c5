"""Ranking metrics over one listener's ranked list and held-out (relevant) items.

Each function takes the ranked item ids (best first) and the set of relevant
ids and returns a number in [0, 1]; average them over listeners.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def recall_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Share of the relevant items found in the top ``k``."""
    if not relevant:
        return 0.0
    return len(set(ranked[:k]) & relevant) / len(relevant)


def ndcg_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Normalised discounted cumulative gain of the top ``k`` (binary relevance)."""
    dcg = sum(1 / math.log2(n + 2) for n, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1 / math.log2(n + 2) for n in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def average_precision_at_k(ranked: Sequence[str], relevant: set[str], k: int) -> float:
    """Average precision of the top ``k``, normalised by ``min(k, |relevant|)`` (MAP@k)."""
    hits, total = 0, 0.0
    for n, item in enumerate(ranked[:k]):
        if item in relevant:
            hits += 1
            total += hits / (n + 1)
    denominator = min(k, len(relevant))
    return total / denominator if denominator else 0.0
