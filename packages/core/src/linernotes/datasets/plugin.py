"""Core's built-in plugin: the datasets that ship with linernotes."""

from ..hookspecs import hookimpl
from .hetrec import HetRec2011


@hookimpl
def register_datasets(register):
    register(HetRec2011)
