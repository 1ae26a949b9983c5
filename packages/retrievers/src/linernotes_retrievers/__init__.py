"""Retrievers for linernotes: co-listening, popularity, tags, embeddings, friends, context.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

import importlib

_WHERE = {
    "CoListening": "colisten",
    "ContextRetriever": "context",
    "EmbeddingRetriever": "embedding",
    "ExactIndex": "embedding",
    "Lexicon": "lexicon",
    "Popular": "popular",
    "Social": "social",
    "TagRetriever": "tags",
    "USearchIndex": "embedding",
    "VectorIndex": "embedding",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
