"""The feedback store: validated listener events in a hive-partitioned Parquet folder.

``ingest`` reads a JSONL or Parquet file of events (schema: :mod:`linernotes.feedback`),
validates each with :func:`linernotes.feedback.parse_event` and appends the good
ones to ``<store>/events/event=<kind>/date=<YYYY-MM-DD>/<uuid>.parquet``. Bad events
go, with their source, line (or row) and reason, to ``<store>/rejected/<stamp>.jsonl``.
An event is stored once: its key is a hash of (event, ts, listener, story_id, item),
and events whose key the store (or the same file) already holds count as duplicates.
``append`` stores events validated elsewhere (the ``linernotes serve`` feedback endpoint).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from linernotes.errors import DataError
from linernotes.feedback import FeedbackEvent, parse_event

STORE_ENV = "LINERNOTES_FEEDBACK_DIR"
SUFFIXES = (".jsonl", ".ndjson", ".parquet")
CONTEXT_KEYS = ("time", "mood", "activity", "seed")
CONTEXT = pl.Struct({k: pl.String for k in CONTEXT_KEYS})
SCHEMA = {
    "key": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "listener": pl.String,
    "story_id": pl.String,
    "item": pl.String,
    "context": CONTEXT,
    "story": pl.String,
    "pack": pl.String,
}
HIVE = {"event": pl.String, "date": pl.Date}
COLUMNS = ("event", "ts", "listener", "story_id", "item", "context", "story", "pack", "key")


@dataclass
class IngestReport:
    """What one ``ingest`` did: counts, rejects per reason, and the files it wrote."""

    source: Path
    store: Path
    accepted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    rejects_file: Path | None = None
    written: list[Path] = field(default_factory=list)

    @property
    def total_rejected(self) -> int:
        """How many events were rejected, whatever the reason."""
        return sum(self.rejected.values())


def default_store() -> Path:
    """The store folder: ``$LINERNOTES_FEEDBACK_DIR``, else ``feedback`` in the user data dir."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("linernotes")) / "feedback"


def event_key(event: FeedbackEvent) -> str:
    """The stable identity of an event: a hash of (event, ts, listener, story_id, item)."""
    fields = [event.event, event.ts.isoformat(), event.listener, event.story_id, event.item]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:32]


def ingest(path: str | Path, store_dir: str | Path) -> IngestReport:
    """Validate the events of a JSONL or Parquet file and append the new good ones to the store."""
    path, store = Path(path), Path(store_dir)
    report = IngestReport(path, store)
    good: dict[str, FeedbackEvent] = {}
    rejects: list[dict[str, Any]] = []
    seen = 0
    for where, record in _records(path):
        seen += 1
        try:
            event = _parse(record)
        except ValueError as e:
            raw = {"raw": record.line} if isinstance(record, _Unreadable) else {"record": record}
            rejects.append({"source": str(path.resolve()), **where, "reason": str(e), **raw})
            continue
        key = event_key(event)
        if key in good:
            report.duplicates += 1
        good[key] = event
    if not seen:
        raise DataError(f"no events in {path}")
    report.written, stored = append(good.values(), store)
    report.duplicates += stored
    report.accepted = len(good) - stored
    report.rejected = dict(Counter(_reason(r["reason"]) for r in rejects).most_common())
    if rejects:
        report.rejects_file = _write_rejects(store, rejects)
    return report


def append(events: Iterable[FeedbackEvent], store_dir: str | Path) -> tuple[list[Path], int]:
    """Append the validated ``events`` that the store does not hold yet, all or none.

    Returns the files written and how many events were duplicates (stored once).
    Callers that may append concurrently must serialise their calls.
    """
    store = Path(store_dir)
    unique = {event_key(e): e for e in events}
    stored = _stored_keys(store, unique.values())
    fresh = [(k, e) for k, e in unique.items() if k not in stored]
    return _write_events(store, fresh), len(unique) - len(fresh)


def read_events(store_dir: str | Path) -> pl.DataFrame:
    """Every stored event, oldest first; ``ts`` is a UTC datetime, ``context`` a struct."""
    files = _event_files(Path(store_dir))
    if not files:
        return pl.DataFrame(schema={**HIVE, **SCHEMA}).select(COLUMNS)
    return _scan(Path(store_dir)).select(COLUMNS).sort("ts", "key").collect()


def summary(store_dir: str | Path) -> dict[str, Any]:
    """A JSON-ready overview: counts by kind, listeners, stories, time range, rejects."""
    store = Path(store_dir)
    events = read_events(store)
    by_kind = events.group_by("event").len().sort("event")
    rejects = sorted((store / "rejected").glob("*.jsonl"))
    first, last = events["ts"].min(), events["ts"].max()
    return {
        "store": str(store),
        "events": events.height,
        "by_kind": dict(zip(by_kind["event"], by_kind["len"], strict=True)),
        "listeners": events["listener"].n_unique(),
        "stories": events["story_id"].n_unique(),
        "first": first.isoformat() if first else None,
        "last": last.isoformat() if last else None,
        "rejected": sum(_count_lines(f) for f in rejects),
        "rejected_files": len(rejects),
    }


# -- reading input files ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Unreadable:
    """A JSONL line that is not a JSON value."""

    line: str
    reason: str


def _records(path: Path) -> Iterator[tuple[dict[str, int], Any]]:
    """``({"line": n} or {"row": n}, raw record)`` for every event in the file, 1-based."""
    if not path.exists():
        raise DataError(f"feedback file not found: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a feedback file ({', '.join(SUFFIXES)})")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            f"unknown feedback file type '{suffix}' ({path}); valid: {', '.join(SUFFIXES)}"
        )
    if path.stat().st_size == 0:
        raise DataError(f"feedback file is empty: {path}")
    if suffix == ".parquet":
        yield from _parquet_records(path)
    else:
        yield from _jsonl_records(path)


def _jsonl_records(path: Path) -> Iterator[tuple[dict[str, int], Any]]:
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield (
                    {"line": n},
                    _Unreadable(raw.decode("utf-8", "replace").rstrip("\r\n"), "not UTF-8 text"),
                )
                continue
            if not line.strip():
                continue
            try:
                yield {"line": n}, json.loads(line)
            except json.JSONDecodeError as e:
                yield {"line": n}, _Unreadable(line.rstrip("\r\n"), f"not valid JSON: {e}")


def _parquet_records(path: Path) -> Iterator[tuple[dict[str, int], Any]]:
    try:
        table = pl.read_parquet(path)
    except Exception as e:  # polars raises several error types for a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot read Parquet file {path}: {first}") from None
    for n, row in enumerate(table.iter_rows(named=True), start=1):
        # a null cell is an absent field: a Parquet file has every column on every row
        yield {"row": n}, {k: v for k, v in row.items() if v is not None}


def _parse(record: Any) -> FeedbackEvent:
    if isinstance(record, _Unreadable):
        raise ValueError(record.reason)
    return parse_event(record)


def _reason(message: str) -> str:
    """The general part of a validation message (its detail cut off), to count rejects by."""
    return re.split(r": |; got |, got ", message, maxsplit=1)[0]


# -- the store -------------------------------------------------------------------------------


def _event_files(store: Path) -> list[Path]:
    return sorted((store / "events").glob("event=*/date=*/*.parquet"))


def _scan(store: Path) -> pl.LazyFrame:
    return pl.scan_parquet(
        store / "events" / "**" / "*.parquet",
        hive_partitioning=True,
        hive_schema=HIVE,
        schema=SCHEMA,
    )


def _stored_keys(store: Path, events: Iterable[FeedbackEvent]) -> set[str]:
    """Keys the store holds on the days of ``events`` (a key fixes its event's day)."""
    days = sorted({e.ts.date() for e in events})
    if not days or not _event_files(store):
        return set()
    keys = _scan(store).filter(pl.col("date").is_in(days)).select("key").collect()
    return set(keys["key"])


def _write_events(store: Path, events: list[tuple[str, FeedbackEvent]]) -> list[Path]:
    """Write one new Parquet file per (event kind, day) partition; return the files.

    Every file is written under a hidden temporary name first and renamed only
    once all are written, so a failure leaves no partial set of events behind.
    """
    rows = [_row(key, e) for key, e in events]
    if not rows:
        return []
    frame = pl.DataFrame(rows, schema={"event": pl.String, **SCHEMA})
    frame = frame.with_columns(date=pl.col("ts").dt.date())
    staged: list[tuple[Path, Path]] = []
    try:
        for (kind, day), part in frame.group_by("event", "date", maintain_order=True):
            folder = store / "events" / f"event={kind}" / f"date={day.isoformat()}"
            target = folder / f"{uuid.uuid4().hex}.parquet"
            tmp = _temporary(target)
            staged.append((tmp, target))
            part.drop("event", "date").write_parquet(tmp)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    return [target for _, target in staged]


def _row(key: str, event: FeedbackEvent) -> dict[str, Any]:
    record = event.to_record()
    record["context"] = {k: getattr(event.context, k) for k in CONTEXT_KEYS}
    return {**record, "key": key}


def _write_rejects(store: Path, rejects: list[dict[str, Any]]) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = store / "rejected" / f"{stamp}-{uuid.uuid4().hex[:8]}.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rejects)
    _atomic(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


def _atomic(target: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a hidden temporary file beside ``target``, then rename it."""
    tmp = _temporary(target)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _temporary(target: Path) -> Path:
    """A hidden temporary name beside ``target`` (whose folder is created)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return target.with_name(f".{target.name}.tmp")


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)
