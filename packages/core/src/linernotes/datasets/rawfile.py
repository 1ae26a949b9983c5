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


# Python's str.strip() whitespace: what a field loses before it is parsed (a test checks the list)
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
PLAIN_INTEGER = r"^[+-]?[0-9]{1,18}$"  # polars parses these as int() does; others go to int()

QUARANTINE_SCHEMA = {"file": pl.String, "line": pl.Int64, "reason": pl.String, "raw": pl.String}


def read_table(path: Path, spec: FileSpec) -> tuple[pl.DataFrame, list[Quarantined]]:
    """Read ``path`` by ``spec``: the good rows (with a ``_line`` column) and the bad ones.

    Rows are checked in this order, the first failure being the reason: encoding, field
    count, integer columns (as Python's ``int()`` reads them, after ``str.strip()``), then
    duplicate keys (the first good row with a key is kept).
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found (expected {spec.filename})")
    data = path.read_bytes()
    first = data.split(b"\n", 1)[0].removesuffix(b"\r")
    if not first.strip():
        expected = "\t".join(c.source for c in spec.columns)
        raise DataError(f"{path}: file is empty; expected a header line '{expected}'")
    header = first.decode(spec.encoding, errors="replace").lstrip("\ufeff").split("\t")
    missing = [c.source for c in spec.columns if c.source not in header]
    if missing:
        raise DataError(
            f"{path}:1: missing column(s) {', '.join(missing)}; header has {', '.join(header)}"
        )
    text, undecodable = _decode(data, spec.encoding)
    del data
    rows = (
        pl.Series("raw", [text])
        .str.split("\n")
        .explode()
        .to_frame()
        .with_row_index("_line", offset=1)
        .slice(1)
        .with_columns(pl.col("_line").cast(pl.Int64), pl.col("raw").str.strip_suffix("\r"))
        .filter(pl.col("raw").str.strip_chars(" ") != "")
    )
    del text
    count = pl.col("raw").str.count_matches("\t", literal=True) + 1
    decode_reason = pl.col("_line").replace_strict(
        undecodable, default=None, return_dtype=pl.String
    )
    rows = rows.with_columns(
        _reason=pl.coalesce(
            decode_reason,
            pl.when(count != len(header)).then(
                pl.format("expected {} fields, got {}", pl.lit(len(header)), count)
            ),
        ),
        _fields=pl.col("raw").str.split_exact("\t", len(header) - 1),
    )
    fine = pl.col("_reason").is_null()
    rows = rows.with_columns(
        pl.when(fine)
        .then(pl.col("_fields").struct.field(f"field_{header.index(c.source)}"))
        .str.strip_chars(WHITESPACE)
        .alias(c.name)
        for c in spec.columns
    ).drop("_fields")
    reasons = [rows["_reason"]]
    for c in spec.columns:
        if c.integer:
            values, failures = _integers(rows[c.name], c.source)
            rows = rows.with_columns(values)
            reasons.append(failures)
    rows = rows.with_columns(_reason=pl.coalesce(reasons))
    if spec.key:
        first_line = pl.when(fine).then(pl.col("_line")).min().over(spec.key)
        rows = rows.with_columns(
            _reason=pl.when(fine & (pl.col("_line") != first_line))
            .then(pl.format(f"duplicate of line {{}} (key {', '.join(spec.key)})", first_line))
            .otherwise(pl.col("_reason"))
        )
    bad = [
        Quarantined(spec.filename, line, reason, raw)
        for line, reason, raw in rows.filter(~fine).select("_line", "_reason", "raw").iter_rows()
    ]
    good = rows.filter(fine).select(*(c.name for c in spec.columns), "_line")
    return good, bad


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


def _decode(data: bytes, encoding: str) -> tuple[str, dict[int, str]]:
    """``data`` as text, and the reason for each line (1-based) that is not valid ``encoding``.

    A bad line is decoded with replacement characters, the raw text the quarantine shows.
    """
    parts, bad = [], {}
    pos, line = 0, 1
    while True:
        try:
            parts.append(data[pos:].decode(encoding))
            return "".join(parts), bad
        except UnicodeDecodeError as e:
            at = pos + e.start
            start = max(pos, data.rfind(b"\n", pos, at) + 1)
            end = data.find(b"\n", at)
            end = len(data) if end < 0 else end
            line += data.count(b"\n", pos, start)
            try:
                data[start:end].removesuffix(b"\r").decode(encoding)
            except UnicodeDecodeError as err:
                bad[line] = f"not valid {encoding}: {err.reason}"
            parts.append(data[pos:start].decode(encoding))
            parts.append(data[start:end].decode(encoding, errors="replace"))
            pos = end


def _integers(values: pl.Series, source: str) -> tuple[pl.Series, pl.Series]:
    """Python's ``int()`` of each value as Int64 (null where it fails), and why it failed.

    Plain digits are parsed by polars; the few other values go through ``int()`` itself.
    """
    plain = values.str.contains(PLAIN_INTEGER).fill_null(True)
    odd = (~plain).arg_true()
    parsed, why = [], []
    for value in values.gather(odd).to_list():
        try:
            parsed.append(int(value))
            why.append(None)
        except ValueError:
            parsed.append(None)
            why.append(f"column '{source}' is not an integer: {value!r}")
    ints = values.cast(pl.Int64, strict=False).scatter(odd, parsed)
    reasons = pl.repeat(None, len(values), dtype=pl.String, eager=True).scatter(odd, why)
    return ints, reasons
