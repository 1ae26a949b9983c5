"""Entry point of linernotes-generators: registers its generators."""

from linernotes import hookimpl


@hookimpl
def register_generators(register):
    from .openai_http import OpenAIGenerator
    from .planned import PlannedGenerator
    from .template import TemplateGenerator
    from .transformers_generator import TransformersGenerator

    register(TemplateGenerator)
    register(TransformersGenerator)
    register(OpenAIGenerator)
    register(PlannedGenerator)
