"""The one error hierarchy of linernotes.

Every error a user can cause is a :class:`LinernotesError`. Messages are one
line and, where there is a choice to make, list the valid choices. The CLI
prints them as one red line and exits non-zero, never with a traceback.
"""


class LinernotesError(Exception):
    """Base class of every error linernotes raises on purpose."""


class ConfigError(LinernotesError):
    """The composed configuration is invalid (unknown option, key or parameter)."""


class PluginError(LinernotesError):
    """A plugin failed to import, or registered something invalid."""


class DataError(LinernotesError):
    """A dataset, catalog bundle or listener input is missing or malformed."""


class PipelineError(LinernotesError):
    """A pipeline stage failed; the message names the stage."""

    def __init__(self, stage: str, message: str):
        super().__init__(f"stage '{stage}' failed: {message}")
        self.stage = stage


def choices(values) -> str:
    """Format valid choices for an error message: ``a, b, c`` (sorted)."""
    values = sorted(values)
    return ", ".join(values) if values else "(none)"
