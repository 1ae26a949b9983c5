"""The hooks a linernotes plugin can implement (pluggy project ``linernotes``).

Registration hooks hand the plugin a ``register`` callback; call it once per
component class. Lifecycle hooks observe every pipeline stage. Every hook is
documented in ``docs/plugins.md``; ``tests/test_hookspecs.py`` enforces that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pluggy

from .types import Request

hookspec = pluggy.HookspecMarker("linernotes")
hookimpl = pluggy.HookimplMarker("linernotes")

Register = Callable[[type], None]


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset classes (see :class:`linernotes.components.Dataset`).

    Called once when the registry is first built. Call ``register(cls)`` for each
    class; its ``name`` is the ``dataset`` config option. Names must be unique
    across all plugins.
    """


@hookspec
def register_retrievers(register: Register) -> None:
    """Register retriever classes (see :class:`linernotes.components.Retriever`).

    Called once when the registry is first built. ``register(cls)`` makes
    ``cls.name`` usable as a ``component`` under the ``retrievers`` config group.
    """


@hookspec
def register_rankers(register: Register) -> None:
    """Register ranker classes (see :class:`linernotes.components.Ranker`).

    Called once when the registry is first built; ``cls.name`` becomes a ``ranker``
    component.
    """


@hookspec
def register_generators(register: Register) -> None:
    """Register generator classes (see :class:`linernotes.components.Generator`).

    Called once when the registry is first built; ``cls.name`` becomes a
    ``generator`` (or ``fallback``) component.
    """


@hookspec
def register_safety_filters(register: Register) -> None:
    """Register safety filter classes (see :class:`linernotes.components.SafetyFilter`).

    Called once when the registry is first built; ``cls.name`` becomes a
    component under the ``safety`` config group. A filter may also have
    ``screen(packs) -> packs``: it then cleans every fact pack before generation.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``linernotes`` command line (a ``typer.Typer``).

    Called once, before the command line parses its arguments. Add commands with
    ``cli.command()`` or groups with ``cli.add_typer()``; import heavy libraries
    inside the commands, not at module level, so ``linernotes --help`` stays fast.
    Every implementation runs; command names must not clash.
    """


@hookspec
def before_stage(stage: str, requests: Sequence[Request]) -> None:
    """Called before a pipeline stage runs on a batch.

    ``stage`` is one of ``retrieve``, ``rank``, ``ground``, ``screen``,
    ``generate``, ``safety``, ``fallback``. Return values are ignored; every implementation runs.
    """


@hookspec
def after_stage(stage: str, requests: Sequence[Request], output: Any, seconds: float) -> None:
    """Called after a stage succeeded on a batch, with its output and wall time.

    ``output`` is the stage's batch output (one entry per request). Return values
    are ignored; every implementation runs. Do not mutate ``output``.
    """


@hookspec
def on_stage_error(stage: str, requests: Sequence[Request], error: BaseException) -> None:
    """Called when a stage raised, before the pipeline handles the error.

    A failing generator leads to the fallback; a failing filter blocks its draft;
    any other stage's error is raised as :class:`linernotes.errors.PipelineError`.
    """
