"""The shared, seeded holdout split that every offline evaluation uses.

Each listener with at least ``min_items`` artists has ``fraction`` of them
(rounded up) held out at random; the rest of their history is the input. A
seeded ``validation_share`` of these listeners forms the validation split
(for choosing hyperparameters and training learned rankers); the others form
the test split (for reporting). :attr:`Holdout.train` is the catalog without
any held-out play, with popularity recomputed, so nothing fitted on it has
seen a held-out item.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field

import polars as pl

from .catalog import Catalog
from .errors import DataError
from .types import Listener, Request

SPLITS = ("validation", "test")


@dataclass
class Holdout:
    """Held-out items per listener, by split, and the training view of the catalog."""

    seed: int
    fraction: float
    train: Catalog
    held_out: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def listeners(self, split: str = "test") -> list[str]:
        """Listener ids of ``split`` (``validation`` or ``test``), sorted."""
        return sorted(self.held_out[split])

    def select(self, split: str = "test", listeners: list[str] | None = None) -> list[str]:
        """Listener ids of ``split``, or the given ``listeners`` once checked to belong to it."""
        ids = self.listeners(split)
        if listeners is None:
            return ids
        unknown = [i for i in listeners if i not in self.held_out[split]]
        if unknown:
            raise DataError(
                f"{len(unknown)} listener(s) are not in the {split} split, e.g. "
                f"{', '.join(unknown[:5])} ({len(ids)} listeners are)"
            )
        return sorted(listeners)

    def requests(
        self, split: str = "test", listeners: list[str] | None = None, k: int | None = None
    ) -> list[Request]:
        """One request per listener of ``split`` (or of ``listeners``), with the input history."""
        ids = self.listeners(split) if listeners is None else listeners
        return [Request(Listener(i, self.train.history(i)), k=k, id=f"holdout-{i}") for i in ids]

    def truth(self, split: str = "test") -> dict[str, set[str]]:
        """Held-out item ids per listener of ``split``."""
        return self.held_out[split]


def holdout_split(
    catalog: Catalog,
    seed: int = 0,
    fraction: float = 0.2,
    min_items: int = 5,
    validation_share: float = 0.25,
) -> Holdout:
    """Split ``catalog`` for offline evaluation; the same arguments always give the same split."""
    rng = random.Random(seed)
    histories = {i: sorted(catalog.history(i)) for i in catalog.listener_ids}
    eligible = sorted(i for i, h in histories.items() if len(h) >= min_items)
    order = eligible[:]
    rng.shuffle(order)
    n_validation = round(len(order) * validation_share)
    roles = {i: ("validation" if n < n_validation else "test") for n, i in enumerate(order)}
    held_out: dict[str, dict[str, set[str]]] = {s: {} for s in SPLITS}
    rows = []
    for listener in eligible:
        items = histories[listener]
        own = random.Random(_mix(seed, listener))
        out = set(own.sample(items, math.ceil(fraction * len(items))))
        held_out[roles[listener]][listener] = out
        rows.extend((listener, item) for item in out)
    removed = pl.DataFrame(
        rows, schema={"listener_id": pl.String, "item_id": pl.String}, orient="row"
    )
    view = f"holdout-{seed}-{fraction}-{min_items}"  # what decides the removed plays
    return Holdout(seed, fraction, _without(catalog, removed, view), held_out)


def _mix(seed: int, listener: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{listener}".encode()).digest()[:8], "big")


def _without(catalog: Catalog, removed: pl.DataFrame, view: str) -> Catalog:
    """The catalog minus the removed plays, with item and listener totals recomputed.

    Its version is the catalog's plus ``view``, so fitted state cached for one split is
    never reused for another.
    """
    interactions = catalog.interactions.join(removed, on=["listener_id", "item_id"], how="anti")
    stats = interactions.group_by("item_id").agg(listeners=pl.len(), plays=pl.col("plays").sum())
    items = (
        catalog.items.drop("listeners", "plays")
        .join(stats, on="item_id", how="left")
        .with_columns(
            pl.col("listeners").fill_null(0).cast(pl.Int64),
            pl.col("plays").fill_null(0).cast(pl.Int64),
        )
        .select(catalog.items.columns)
    )
    per_listener = interactions.group_by("listener_id").agg(
        items_=pl.len(), plays_=pl.col("plays").sum()
    )
    listeners = (
        catalog.listeners.join(per_listener, on="listener_id", how="left")
        .with_columns(
            items=pl.col("items_").fill_null(0).cast(pl.Int64),
            plays=pl.col("plays_").fill_null(0).cast(pl.Int64),
        )
        .select(catalog.listeners.columns)
    )
    tables = {
        **catalog.tables,
        "items": items,
        "interactions": interactions,
        "listeners": listeners,
    }
    version = f"{catalog.version}-{view}" if catalog.version else ""
    return Catalog.from_tables(tables, catalog.name, version)
