"""The API's request bodies (pydantic), named like the library's :class:`linernotes.Request`."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

MAX_HISTORY = 200
"""Most artists an inline history may name."""

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Words = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]


class ContextBody(BaseModel):
    """What the listener is doing now (all optional)."""

    model_config = ConfigDict(extra="forbid")

    mood: Words | None = Field(None, examples=["mellow"])
    activity: Words | None = Field(None, examples=["running"])
    time: Words | None = Field(None, examples=["late night"])
    seed: Name | None = Field(None, description="An artist name to start from.")


class RecommendBody(BaseModel):
    """Who is listening, in what context, and how many picks.

    Give a catalog ``listener`` id, an inline ``history``, a ``context.seed`` or
    a context's mood, activity or time. Requests for a catalog listener with no
    inline history are answered from the story store when it holds one.
    """

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    listener: Id | None = Field(None, description="A catalog listener id.", examples=["2"])
    history: list[Name] | None = Field(
        None,
        max_length=MAX_HISTORY,
        description="Artist names (matched forgivingly) or catalog artist ids.",
        examples=[["Radiohead", "Portishead"]],
    )
    context: ContextBody = Field(default_factory=ContextBody)
    k: int | None = Field(None, ge=1, le=100, description="Number of picks (default: config k).")
    deadline_ms: int | None = Field(
        None,
        ge=1,
        description="How long the generator may take before the verified fallback is served "
        "(default and maximum: the server's).",
    )


class FieldError(BaseModel):
    """What is wrong with one field (``index``: which feedback event, for lists)."""

    field: str | None
    reason: str
    index: int | None = None


class Problem(BaseModel):
    """Every error response: one line, and per-field details for invalid input."""

    detail: str
    errors: list[FieldError] | None = None


class FeedbackReceipt(BaseModel):
    """What ``/v1/feedback`` stored: new events, and events the store already held."""

    accepted: int
    duplicates: int
