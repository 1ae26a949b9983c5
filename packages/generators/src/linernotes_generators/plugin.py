"""Entry point of linernotes-generators: registers its generators."""

from linernotes import hookimpl

from .openai_http import OpenAIGenerator
from .template import TemplateGenerator
from .transformers_generator import TransformersGenerator


@hookimpl
def register_generators(register):
    register(TemplateGenerator)
    register(TransformersGenerator)
    register(OpenAIGenerator)
