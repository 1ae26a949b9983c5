"""Rankers for linernotes."""

from .popcolisten import PopularityCoListening

__all__ = ["PopularityCoListening"]
