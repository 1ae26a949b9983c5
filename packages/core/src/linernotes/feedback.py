"""Listener feedback events: the schema, its validation, and the impression log.

Every event is one JSON object (one line of a JSONL file, or one Parquet row):

================  ==========================================================
``event``         ``impression``, ``play``, ``skip``, ``save``, ``thumbs_up``
                  or ``thumbs_down``
``ts``            when it happened: ISO 8601 (``2026-11-25T21:04:00Z``; no zone
                  means UTC) or seconds since the epoch
``listener``      the listener's id
``story_id``      the delivered story it is about (``Story.id``)
``item``          the artist played, skipped or saved (optional)
``context``       impressions: ``{"time", "mood", "activity", "seed"}``
``story``         impressions: the exact text shown
``pack``          impressions: the fact pack the story was written from
                  (``to_dict(FactPack)``), so its prompt can be rebuilt
================  ==========================================================

``linernotes recommend --log FILE`` appends an impression per delivered story;
``linernotes feedback ingest`` (package ``linernotes-tuning``) validates and stores
events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .types import Context, Result, to_dict

KINDS = ("impression", "play", "skip", "save", "thumbs_up", "thumbs_down")
POSITIVE = frozenset({"play", "save", "thumbs_up"})
NEGATIVE = frozenset({"skip", "thumbs_down"})
FIELDS = frozenset({"event", "ts", "listener", "story_id", "item", "context", "story", "pack"})
_CONTEXT_KEYS = ("time", "mood", "activity", "seed")


class EventError(ValueError):
    """A feedback event is invalid; ``field`` names the offending field (None: the whole event)."""

    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field = field


@dataclass(frozen=True)
class FeedbackEvent:
    """One validated feedback event (see the module docstring for the fields)."""

    event: str
    ts: datetime
    listener: str
    story_id: str
    item: str | None = None
    context: Context = field(default_factory=Context)
    story: str | None = None
    pack: dict[str, Any] | None = None

    def to_record(self) -> dict[str, Any]:
        """The event as a flat JSON-ready record (``context`` and ``pack`` as JSON text)."""
        return {
            "event": self.event,
            "ts": self.ts,
            "listener": self.listener,
            "story_id": self.story_id,
            "item": self.item,
            "context": json.dumps(to_dict(self.context), sort_keys=True),
            "story": self.story,
            "pack": json.dumps(self.pack, ensure_ascii=False) if self.pack is not None else None,
        }


def parse_event(record: Mapping[str, Any]) -> FeedbackEvent:
    """Validate one raw event; raise :class:`EventError` (a ``ValueError``) saying which
    field is wrong and why."""
    if not isinstance(record, Mapping):
        raise EventError(None, f"an event must be an object, got {type(record).__name__}")
    kind = record.get("event")
    if kind not in KINDS:
        raise EventError("event", f"event must be one of {', '.join(KINDS)}; got {kind!r}")
    unknown = sorted(set(record) - FIELDS)
    if unknown:
        raise EventError(unknown[0], f"unknown fields: {', '.join(unknown)}")
    listener, story_id = _text(record, "listener"), _text(record, "story_id")
    item = record.get("item")
    if item is not None and (not isinstance(item, str | int) or isinstance(item, bool)):
        raise EventError("item", f"item must be an id, got {item!r}")
    context, story, pack = Context(), None, None
    if kind == "impression":
        story = _text(record, "story")
        context = _context(_json(record.get("context") or {}, "context"))
        pack = _json(record.get("pack"), "pack")
        if not isinstance(pack, dict) or not isinstance(pack.get("facts"), list):
            raise EventError("pack", "an impression needs 'pack', the fact pack of the story shown")
    return FeedbackEvent(
        kind, _timestamp(record.get("ts")), listener, story_id, _id(item), context, story, pack
    )


def impressions(results: Sequence[Result], ts: datetime | None = None) -> list[dict[str, Any]]:
    """One impression record per delivered story in ``results`` (JSON-ready)."""
    when = (ts or datetime.now(UTC)).isoformat()
    return [
        {
            "event": "impression",
            "ts": when,
            "listener": r.request.listener.id or r.request.id,
            "story_id": r.story.id,
            "context": to_dict(r.request.context),
            "story": r.story.text,
            "pack": to_dict(r.facts),
        }
        for r in results
        if r.story is not None
    ]


def log_impressions(results: Sequence[Result], path: str | Path) -> int:
    """Append an impression per delivered story to the JSONL file ``path``; return how many."""
    records = impressions(results)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(records)


def _text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise EventError(key, f"'{key}' is missing or empty")
    return value.strip()


def _id(value: Any) -> str | None:
    return None if value is None else str(value).strip() or None


def _json(value: Any, key: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as e:
            raise EventError(key, f"'{key}' is not valid JSON: {e}") from None
    return value


def _context(value: Any) -> Context:
    if not isinstance(value, Mapping):
        raise EventError("context", f"'context' must be an object, got {type(value).__name__}")
    extra = set(value) - set(_CONTEXT_KEYS)
    if extra:
        raise EventError("context", f"unknown context fields: {', '.join(sorted(extra))}")
    return Context(**{k: (str(v) if v is not None else None) for k, v in value.items()})


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            ts = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            reason = f"'ts' is not a time in seconds since the epoch: {value!r}"
            raise EventError("ts", reason) from None
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise EventError("ts", f"'ts' is not an ISO 8601 time: {value!r}") from None
    else:
        raise EventError("ts", f"'ts' is missing or not a time: {value!r}")
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
