"""linernotes: grounded, LLM-written stories about what to play next.

Quick start::

    import linernotes
    pipe = linernotes.build_pipeline(["k=5"])
    result = pipe.recommend(listener="2")
    print(result.story.text)

Heavy modules (the pipeline, catalog, Hydra) load on first use.
"""

from importlib import import_module
from typing import Any

from .errors import ConfigError, DataError, LinernotesError, PipelineError, PluginError
from .hookspecs import hookimpl
from .types import (
    Candidate,
    Claim,
    Context,
    Draft,
    DraftReview,
    Fact,
    FactPack,
    Item,
    Listener,
    Pick,
    Request,
    Result,
    Sentence,
    Story,
    Trace,
    Verdict,
    to_dict,
    to_json,
)

_LAZY = {
    "Pipeline": "linernotes.pipeline",
    "build_pipeline": "linernotes.pipeline",
    "compose": "linernotes.config",
    "Catalog": "linernotes.catalog",
    "register_plugin": "linernotes.plugins",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'linernotes' has no attribute {name!r}")


__all__ = [
    "Candidate",
    "Catalog",
    "Claim",
    "ConfigError",
    "Context",
    "DataError",
    "Draft",
    "DraftReview",
    "Fact",
    "FactPack",
    "Item",
    "LinernotesError",
    "Listener",
    "Pick",
    "Pipeline",
    "PipelineError",
    "PluginError",
    "Request",
    "Result",
    "Sentence",
    "Story",
    "Trace",
    "Verdict",
    "build_pipeline",
    "compose",
    "hookimpl",
    "register_plugin",
    "to_dict",
    "to_json",
]
