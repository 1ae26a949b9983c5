"""Rankers and re-rankers for linernotes: popularity, item-kNN, EASE, RP3beta, iALS, a blend, MMR,
blocklist.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

from linernotes.plugins import lazy_exports

_WHERE = {
    "Blocklist": "rerank",
    "EASE": "ease",
    "IALS": "ials",
    "ItemKNN": "itemknn",
    "LearnedBlend": "blend",
    "MMR": "rerank",
    "Popularity": "popularity",
    "PopularityCoListening": "popcolisten",
    "RP3beta": "rp3beta",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, _WHERE)
