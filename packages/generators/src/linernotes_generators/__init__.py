"""Story generators for linernotes."""

from .template import TemplateGenerator

__all__ = ["TemplateGenerator"]
