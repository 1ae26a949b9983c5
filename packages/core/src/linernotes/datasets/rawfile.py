"""Validated reading of tab-separated raw files, with a quarantine for bad rows.

Whole-file problems (missing, empty, missing column) raise :class:`DataError`.
Row problems (wrong field count, bad encoding, non-numeric ids, duplicates)
never stop the load and are never dropped silently: each becomes a
:class:`Quarantined` row with its file, line number and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import DataError


@dataclass(frozen=True)
class Column:
    """A required column: its header name, the name it gets, and whether it is an integer."""

    source: str
    name: str
    integer: bool = False


@dataclass(frozen=True)
class FileSpec:
    """How to read one raw file: its columns, encoding and unique key."""

    filename: str
    columns: tuple[Column, ...]
    encoding: str = "utf-8"
    key: tuple[str, ...] = ()


@dataclass(frozen=True)
class Quarantined:
    """A row kept aside: where it was, why, and its raw text."""

    file: str
    line: int
    reason: str
    raw: str


QUARANTINE_SCHEMA = {"file": pl.String, "line": pl.Int64, "reason": pl.String, "raw": pl.String}


def read_table(path: Path, spec: FileSpec) -> tuple[pl.DataFrame, list[Quarantined]]:
    """Read ``path`` by ``spec``: the good rows (with a ``_line`` column) and the bad ones."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected {spec.filename})")
    lines = [line.removesuffix(b"\r") for line in path.read_bytes().split(b"\n")]
    if not lines or not lines[0].strip():
        expected = "\t".join(c.source for c in spec.columns)
        raise DataError(f"{path}: file is empty; expected a header line '{expected}'")
    header = lines[0].decode(spec.encoding, errors="replace").lstrip("\ufeff").split("\t")
    missing = [c.source for c in spec.columns if c.source not in header]
    if missing:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(missing)}; header has {', '.join(header)}"
        )
    where = [header.index(c.source) for c in spec.columns]
    data: dict[str, list] = {c.name: [] for c in spec.columns}
    data["_line"] = []
    bad: list[Quarantined] = []
    seen: dict[tuple, int] = {}
    key_at = [[c.name for c in spec.columns].index(k) for k in spec.key]
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip(b" "):
            continue
        try:
            text = raw.decode(spec.encoding)
        except UnicodeDecodeError as e:
            bad.append(
                Quarantined(
                    spec.filename,
                    number,
                    f"not valid {spec.encoding}: {e.reason}",
                    raw.decode(spec.encoding, errors="replace"),
                )
            )
            continue
        fields = text.split("\t")
        if len(fields) != len(header):
            bad.append(
                Quarantined(
                    spec.filename, number, f"expected {len(header)} fields, got {len(fields)}", text
                )
            )
            continue
        row = []
        reason = None
        for col, i in zip(spec.columns, where, strict=True):
            value = fields[i].strip()
            if col.integer:
                try:
                    value = int(value)
                except ValueError:
                    reason = f"column '{col.source}' is not an integer: {value!r}"
                    break
            row.append(value)
        if reason is None and key_at:
            key = tuple(row[i] for i in key_at)
            if key in seen:
                reason = f"duplicate of line {seen[key]} (key {', '.join(spec.key)})"
            else:
                seen[key] = number
        if reason is not None:
            bad.append(Quarantined(spec.filename, number, reason, text))
            continue
        for col, value in zip(spec.columns, row, strict=True):
            data[col.name].append(value)
        data["_line"].append(number)
    schema = {c.name: (pl.Int64 if c.integer else pl.String) for c in spec.columns}
    schema["_line"] = pl.Int64
    return pl.DataFrame(data, schema=schema), bad


def quarantine_rows(
    df: pl.DataFrame, mask: pl.Expr, spec: FileSpec, reason: pl.Expr
) -> tuple[pl.DataFrame, list[Quarantined]]:
    """Move the rows of ``df`` matching ``mask`` to the quarantine, with a per-row ``reason``."""
    bad = df.filter(mask).with_columns(_reason=reason)
    cols = [c.name for c in spec.columns]
    out = [
        Quarantined(spec.filename, r["_line"], r["_reason"], "\t".join(str(r[c]) for c in cols))
        for r in bad.iter_rows(named=True)
    ]
    return df.filter(~mask), out


def quarantine_frame(rows: list[Quarantined]) -> pl.DataFrame:
    """The quarantine as a table, sorted by file and line."""
    return pl.DataFrame(
        [(q.file, q.line, q.reason, q.raw) for q in rows], schema=QUARANTINE_SCHEMA, orient="row"
    ).sort("file", "line")
