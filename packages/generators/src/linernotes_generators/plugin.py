"""Entry point of linernotes-generators: registers its generators."""

from linernotes import hookimpl

from .template import TemplateGenerator


@hookimpl
def register_generators(register):
    register(TemplateGenerator)
