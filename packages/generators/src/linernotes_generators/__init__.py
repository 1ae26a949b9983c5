"""Story generators for linernotes: a local language model, a served one, and templates."""

from .openai_http import GenerationError, OpenAIGenerator
from .prompts import Example, Prompter, load_examples
from .template import TemplateGenerator
from .transformers_generator import TransformersGenerator

__all__ = [
    "Example",
    "GenerationError",
    "OpenAIGenerator",
    "Prompter",
    "TemplateGenerator",
    "TransformersGenerator",
    "load_examples",
]
