"""Entry point of linernotes-retrievers: registers its retrievers."""

from linernotes import hookimpl

from .colisten import CoListening


@hookimpl
def register_retrievers(register):
    register(CoListening)
