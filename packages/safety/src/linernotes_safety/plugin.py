"""Entry point of linernotes-safety: registers its safety filters."""

from linernotes import hookimpl

from .grounding import Grounding


@hookimpl
def register_safety_filters(register):
    register(Grounding)
