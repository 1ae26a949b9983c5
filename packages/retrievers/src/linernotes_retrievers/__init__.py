"""Retrievers for linernotes: co-listening, popularity, tags, embeddings, friends, context.

Imported lazily (PEP 562), so loading the plugin to list commands stays fast.
"""

from linernotes.plugins import lazy_exports

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

__getattr__ = lazy_exports(__name__, _WHERE)
