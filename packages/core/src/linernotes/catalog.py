"""The catalog bundle: Parquet tables a dataset adapter writes, validated on load.

Tables (all ids are strings):

- ``items``: item_id, name, url, listeners, plays
- ``facts``: fact_id, item_id, kind, text, values (JSON of the names and numbers in text)
- ``interactions``: listener_id, item_id, plays
- ``listeners``: listener_id, items, plays
- ``social``: listener_id, friend_id
- ``item_tags``: item_id, tag, listeners, first_year (screened tags only)
- ``quarantine``: file, line, reason, raw (rows the adapter kept aside)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp

from .errors import DataError, choices
from .text import normalize
from .types import Fact, Item

SCHEMA: dict[str, dict[str, pl.DataType]] = {
    "items": {
        "item_id": pl.String,
        "name": pl.String,
        "url": pl.String,
        "listeners": pl.Int64,
        "plays": pl.Int64,
    },
    "facts": {
        "fact_id": pl.String,
        "item_id": pl.String,
        "kind": pl.String,
        "text": pl.String,
        "values": pl.String,
    },
    "interactions": {"listener_id": pl.String, "item_id": pl.String, "plays": pl.Int64},
    "listeners": {"listener_id": pl.String, "items": pl.Int64, "plays": pl.Int64},
    "social": {"listener_id": pl.String, "friend_id": pl.String},
    "item_tags": {
        "item_id": pl.String,
        "tag": pl.String,
        "listeners": pl.Int64,
        "first_year": pl.Int64,
    },
    "quarantine": {"file": pl.String, "line": pl.Int64, "reason": pl.String, "raw": pl.String},
}


class Catalog:
    """A prepared catalog: its tables plus the lookups the pipeline needs."""

    def __init__(self, path: Path):
        self.path = Path(path)
        manifest = self.path / "manifest.json"
        self.manifest = json.loads(manifest.read_text()) if manifest.is_file() else {}
        tables = {}
        for table, schema in SCHEMA.items():
            file = self.path / f"{table}.parquet"
            if not file.is_file():
                raise DataError(
                    f"{self.path}: catalog bundle lacks {table}.parquet; "
                    "run `linernotes data prepare --force`"
                )
            df = pl.read_parquet(file)
            wrong = {c: str(t) for c, t in schema.items() if df.schema.get(c) != t}
            if wrong:
                raise DataError(
                    f"{file}: wrong or missing columns {wrong}; "
                    "run `linernotes data prepare --force`"
                )
            tables[table] = df
        self._setup(
            tables, self.manifest.get("dataset", self.path.name), self.manifest.get("key", "")
        )

    @classmethod
    def from_tables(cls, tables: dict[str, pl.DataFrame], name: str, version: str) -> Catalog:
        """A catalog held in memory (for example a training view without held-out plays)."""
        catalog = cls.__new__(cls)
        catalog.path = Path(".")
        catalog.manifest = {"dataset": name, "key": version}
        catalog._setup(tables, name, version)
        return catalog

    def _setup(self, tables: dict[str, pl.DataFrame], name: str, version: str) -> None:
        self.name = name
        self.version = version
        self.tables = tables
        self.items: pl.DataFrame = tables["items"]
        self.facts: pl.DataFrame = tables["facts"]
        self.interactions: pl.DataFrame = tables["interactions"]
        self.listeners: pl.DataFrame = tables["listeners"]
        self.social: pl.DataFrame = tables["social"]
        self.item_tags: pl.DataFrame = tables["item_tags"]
        self.quarantine: pl.DataFrame = tables["quarantine"]
        ids = self.items["item_id"].to_list()
        if len(set(ids)) != len(ids):
            raise DataError(f"{self.path}: items.parquet has duplicate item ids")
        self.item_ids: list[str] = ids
        self.item_index: dict[str, int] = {i: n for n, i in enumerate(ids)}
        self.listener_ids: list[str] = self.listeners["listener_id"].to_list()
        self.listener_index: dict[str, int] = {i: n for n, i in enumerate(self.listener_ids)}

    def __repr__(self) -> str:
        return f"Catalog({self.name!r}, items={len(self.item_ids)}, version={self.version!r})"

    # -- items -------------------------------------------------------------------------
    def item(self, item_id: str) -> Item:
        """The item with this id, or a DataError."""
        n = self.item_index.get(item_id)
        if n is None:
            raise DataError(f"unknown item id '{item_id}'")
        return Item(item_id, self._names[n], int(self._listeners[n]), int(self._plays[n]))

    @cached_property
    def _names(self) -> list[str]:
        return self.items["name"].to_list()

    @cached_property
    def _listeners(self) -> np.ndarray:
        return self.items["listeners"].to_numpy()

    @cached_property
    def _plays(self) -> np.ndarray:
        return self.items["plays"].to_numpy()

    @property
    def popularity(self) -> np.ndarray:
        """Listener count per item, aligned with :attr:`item_ids`."""
        return self._listeners

    @cached_property
    def _by_name(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for i, name in zip(self.item_ids, self._names, strict=True):
            out.setdefault(normalize(name).strip(), i)
        return out

    def match_names(self, names: Iterable[str], cutoff: float = 85) -> dict[str, str | None]:
        """Resolve free-text artist names to item ids, forgivingly (case, accents, typos).

        Returns ``{query: item_id or None}``. An exact (normalised) match wins;
        otherwise the closest name by token-sorted edit similarity of at least
        ``cutoff`` (0-100), more
        popular items first on ties.
        """
        from rapidfuzz import fuzz, process, utils

        out: dict[str, str | None] = {}
        keys = list(self._by_name)
        for query in names:
            q = normalize(query).strip()
            hit = self._by_name.get(q) or self._by_name.get(
                q[4:] if q.startswith("the ") else "the " + q
            )
            if hit is None and q:
                best = process.extract(
                    q,
                    keys,
                    scorer=fuzz.token_sort_ratio,
                    processor=utils.default_process,
                    score_cutoff=cutoff,
                    limit=5,
                )
                if best:
                    top = max(
                        best,
                        key=lambda m: (m[1], self._listeners[self.item_index[self._by_name[m[0]]]]),
                    )
                    hit = self._by_name[top[0]]
            out[query] = hit
        return out

    # -- facts ---------------------------------------------------------------------------
    @cached_property
    def _fact_rows(self) -> tuple[pl.DataFrame, dict[str, tuple[int, int]]]:
        """The fact rows (id, item, kind, text, values as JSON) grouped by item, in bundle order
        within an item, and each item's (first row, count)."""
        columns = ("fact_id", "item_id", "kind", "text", "values")
        rows = self.facts.select(columns).sort("item_id", maintain_order=True)
        spans = rows.with_row_index().group_by("item_id").agg(pl.col("index").min(), pl.len())
        return rows, {i: (start, n) for i, start, n in spans.iter_rows()}

    def facts_for(self, item_id: str) -> list[Fact]:
        """The catalog's static facts about an item, in bundle order."""
        rows, spans = self._fact_rows
        start, n = spans.get(item_id, (0, 0))
        return [
            Fact(f, i, k, t, json.loads(v)) for f, i, k, t, v in rows.slice(start, n).iter_rows()
        ]

    # -- listeners -------------------------------------------------------------------------
    def has_listener(self, listener_id: str) -> bool:
        return listener_id in self.listener_index

    def history(self, listener_id: str) -> dict[str, float]:
        """A known listener's plays per item, or a DataError for an unknown id."""
        if listener_id not in self.listener_index:
            sample = self.listener_ids[:5]
            raise DataError(
                f"unknown listener '{listener_id}' in {self.name} "
                f"({len(self.listener_ids)} listeners, e.g. {choices(sample)})"
            )
        return dict(self._histories.get(listener_id, {}))

    @cached_property
    def _histories(self) -> dict[str, dict[str, float]]:
        plays = self.interactions.group_by("listener_id", maintain_order=True).agg(
            "item_id", pl.col("plays").cast(pl.Float64)
        )
        return {lid: dict(zip(items, p, strict=True)) for lid, items, p in plays.iter_rows()}

    def friends(self, listener_id: str) -> list[str]:
        """Ids of a listener's friends (never shown to anyone; used for counts only)."""
        return self._friends.get(listener_id, [])

    @cached_property
    def _friends(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for lid, fid in self.social.iter_rows():
            out.setdefault(lid, []).append(fid)
        return out

    # -- matrices -------------------------------------------------------------------------
    @cached_property
    def plays_matrix(self) -> sp.csr_matrix:
        """Listeners x items play counts (rows follow :attr:`listener_ids`)."""
        df = self.interactions
        rows = df["listener_id"].replace_strict(self.listener_index, return_dtype=pl.Int64)
        cols = df["item_id"].replace_strict(self.item_index, return_dtype=pl.Int64)
        return sp.csr_matrix(
            (df["plays"].cast(pl.Float32).to_numpy(), (rows.to_numpy(), cols.to_numpy())),
            shape=(len(self.listener_ids), len(self.item_ids)),
        )

    @cached_property
    def _listened(self) -> sp.csc_matrix:
        x = self.plays_matrix.copy()
        x.data[:] = 1
        return x.tocsc()

    def shared_listeners(self, item_id: str, others: list[str]) -> np.ndarray:
        """How many listeners play both ``item_id`` and each of ``others``."""
        if not others:
            return np.zeros(0, dtype=int)
        x = self._listened
        a = x[:, self.item_index[item_id]]
        b = x[:, [self.item_index[o] for o in others]]
        return np.asarray((a.T @ b).todense()).ravel().astype(int)

    def info(self) -> dict:
        """Counts and sizes for ``linernotes data info``."""
        size = sum(f.stat().st_size for f in self.path.glob("*.parquet"))
        return {
            "dataset": self.name,
            "version": self.version,
            "path": str(self.path),
            "bytes": size,
            "items": self.items.height,
            "listeners": self.listeners.height,
            "interactions": self.interactions.height,
            "facts": self.facts.height,
            "fact_kinds": dict(self.facts.group_by("kind").len().sort("kind").iter_rows()),
            "social_pairs": self.social.height,
            "item_tags": self.item_tags.height,
            "quarantined_rows": self.quarantine.height,
        }
