"""Retrievers for linernotes."""

from .colisten import CoListening

__all__ = ["CoListening"]
