"""Rankers and re-rankers for linernotes: popularity, item-kNN, EASE, a blend, MMR, blocklist."""

from .blend import LearnedBlend
from .ease import EASE
from .itemknn import ItemKNN
from .popcolisten import PopularityCoListening
from .popularity import Popularity
from .rerank import MMR, Blocklist

__all__ = [
    "EASE",
    "MMR",
    "Blocklist",
    "ItemKNN",
    "LearnedBlend",
    "Popularity",
    "PopularityCoListening",
]
