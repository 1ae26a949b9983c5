"""Preference pairs: a fact pack, a preferred story and a worse one, and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from linernotes import FactPack

SOURCES = ("feedback", "verifier", "editorial")


@dataclass(frozen=True)
class Pair:
    """``chosen`` is preferred over ``rejected`` as a story for ``pack``.

    The prompt is rebuilt from ``pack`` when the training set is written, so every
    source yields the prompt the generator itself would see; ``prompt`` (chat
    messages) is set instead where there is no pack (golden examples). ``source`` is one of
    :data:`SOURCES`; ``margin`` is how much better ``chosen`` scored (its meaning
    depends on the source); ``meta`` keeps ids (stories, events) for tracing.
    """

    pack: FactPack | None
    chosen: str
    rejected: str
    source: str
    listener: str
    margin: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    prompt: list[dict[str, str]] | None = None
