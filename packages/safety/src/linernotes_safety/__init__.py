"""Safety filters for linernotes."""

from .grounding import Grounding

__all__ = ["Grounding"]
