"""Retrievers for linernotes: co-listening, popularity, tags, embeddings, friends, context."""

from .colisten import CoListening
from .context import ContextRetriever
from .embedding import EmbeddingRetriever, ExactIndex, USearchIndex, VectorIndex
from .lexicon import Lexicon
from .popular import Popular
from .social import Social
from .tags import TagRetriever

__all__ = [
    "CoListening",
    "ContextRetriever",
    "EmbeddingRetriever",
    "ExactIndex",
    "Lexicon",
    "Popular",
    "Social",
    "TagRetriever",
    "USearchIndex",
    "VectorIndex",
]
