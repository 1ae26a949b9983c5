"""Retrievers for linernotes."""

from .colisten import CoListening
from .popular import Popular

__all__ = ["CoListening", "Popular"]
