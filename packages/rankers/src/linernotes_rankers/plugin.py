"""Entry point of linernotes-rankers: registers its rankers."""

from linernotes import hookimpl

from .popcolisten import PopularityCoListening


@hookimpl
def register_rankers(register):
    register(PopularityCoListening)
