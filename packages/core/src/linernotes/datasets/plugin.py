"""Core's built-in plugin: the datasets that ship with linernotes."""

from ..hookspecs import hookimpl


@hookimpl
def register_datasets(register):
    from .hetrec import HetRec2011
    from .synth import SynthLastfm

    register(HetRec2011)
    register(SynthLastfm)
