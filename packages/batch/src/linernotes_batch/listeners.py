"""The listeners file and jobs: one story per (listener, context) job.

``--listeners`` names a plain file of listener ids (one per line), a CSV file
(``.csv``, with a header) or a JSON Lines file (``.jsonl``, one object per
line). CSV and JSONL give each job a ``listener`` and optionally a ``mood``,
``activity``, ``time`` and ``seed`` (an artist name).

A job is identified by a string, its job id: the listener id for a job without
a context (so a plain id file's jobs are its ids), else the listener id, a tab
and the normalised context as JSON. Run folders, shards and resumes key on it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from linernotes import Context
from linernotes.errors import DataError
from linernotes.types import normalize_context

CONTEXT = ("mood", "activity", "time", "seed")
"""The optional context columns, besides the required ``listener``."""
COLUMNS = ("listener", *CONTEXT)


def job_id(listener: str, context: Context) -> str:
    """The job id of ``listener`` in ``context`` (normalised as the server keys it; the seed,
    an artist name, stripped)."""
    c = normalize_context(context)
    seed = (c.seed or "").strip()
    fields = {"mood": c.mood, "activity": c.activity, "time": c.time, "seed": seed}
    given = {name: value for name, value in fields.items() if value}
    return f"{listener}\t{json.dumps(given, ensure_ascii=False)}" if given else listener


def parse_job(job: str) -> tuple[str, Context]:
    """The listener and context of a job id."""
    listener, _, context = job.partition("\t")
    return listener, Context(**json.loads(context)) if context else Context()


def read_jobs(path: Path) -> list[str]:
    """The job ids of a listeners file, in order, each once: a ``.csv`` or ``.jsonl`` file
    with context columns, or else a plain file of listener ids.

    A bad row is a :class:`DataError` naming the file and line.
    """
    from linernotes.evaluation.ranking import read_listeners

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl", ".ndjson"):
        return read_listeners(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"cannot read listeners file {path}: {getattr(e, 'strerror', e)}") from None
    rows = _csv_rows(path, text) if suffix == ".csv" else _jsonl_rows(path, text)
    jobs = list(dict.fromkeys(_job(path, line, row) for line, row in rows))
    if not jobs:
        raise DataError(f"{path} names no listener")
    return jobs


def _csv_rows(path: Path, text: str):
    """(line number, row as a dict) of a CSV file with a header; blank lines skipped."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip().lower() for h in header]
    _check_columns(path, 1, header)
    if "listener" not in header:
        raise DataError(f"{path}:1: no 'listener' column; columns: {', '.join(COLUMNS)}")
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise DataError(
                f"{path}:{reader.line_num}: {len(row)} fields, but the header has {len(header)}"
            )
        yield reader.line_num, dict(zip(header, row, strict=True))


def _jsonl_rows(path: Path, text: str):
    """(line number, object) of a JSON Lines file; blank lines skipped."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: bad JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{n}: expected a JSON object, got {type(row).__name__}")
        _check_columns(path, n, list(row))
        yield n, row


def _check_columns(path: Path, line: int, names: list[str]) -> None:
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise DataError(
            f"{path}:{line}: unknown column '{unknown[0]}'; valid: {', '.join(COLUMNS)}"
        )


def _job(path: Path, line: int, row: dict) -> str:
    """The job id of one row, or a :class:`DataError` naming its line."""
    text = {}
    for name, value in row.items():
        if isinstance(value, bool) or not isinstance(value, str | int | None):
            raise DataError(f"{path}:{line}: '{name}' must be text, got {json.dumps(value)}")
        text[name] = str(value).strip() if value is not None else ""
    listener = text.get("listener", "")
    if not listener:
        raise DataError(f"{path}:{line}: no listener")
    if "\t" in listener:
        raise DataError(f"{path}:{line}: a listener id may not hold a tab")
    return job_id(listener, Context(**{name: text.get(name) or None for name in CONTEXT}))
