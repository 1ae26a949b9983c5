"""Entry point of linernotes-retrievers: registers its retrievers."""

from linernotes import hookimpl

from .colisten import CoListening
from .popular import Popular


@hookimpl
def register_retrievers(register):
    register(CoListening)
    register(Popular)
