"""Rankers and re-rankers for linernotes: popularity, item-kNN, EASE, a blend, MMR, blocklist.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

import importlib

_WHERE = {
    "Blocklist": "rerank",
    "EASE": "ease",
    "ItemKNN": "itemknn",
    "LearnedBlend": "blend",
    "MMR": "rerank",
    "Popularity": "popularity",
    "PopularityCoListening": "popcolisten",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
