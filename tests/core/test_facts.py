"""The HetRec adapter's facts: vectorised and blocked, yet exactly the row-by-row ones.

The reference functions below are the adapter's former Python loops (one fact at a
time, the full ``x.T @ x``), kept as the definition the fast code must match byte for byte.
"""

from __future__ import annotations

import json
import random

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from linernotes.datasets import hetrec
from linernotes.datasets.hetrec import HetRec2011
from linernotes.testing import write_tiny_dataset
from polars.testing import assert_frame_equal

ODD = ["Björk", 'The "Band"', "back\\slash", "tab\there", "emoji 🎸", "del\x7f", "", "日本"]


def _frame(rows):
    return pl.DataFrame(
        [(f, i, k, t, json.dumps(v)) for f, i, k, t, v in rows],
        schema=hetrec.FACT_SCHEMA,
        orient="row",
    )


def _plural(n, one, many):
    return f"{n:,} {one if n == 1 else many}"


def reference_stat_facts(items):
    rows = [
        (
            f"{i}:stats",
            i,
            "stats",
            f"{name} has {_plural(n, 'listener', 'listeners')} in this catalog, "
            f"with {_plural(p, 'play', 'plays')} in all.",
            {"name": name, "listeners": n, "plays": p},
        )
        for i, name, n, p in items.filter(pl.col("listeners") > 0)
        .select("item_id", "name", "listeners", "plays")
        .iter_rows()
    ]
    return _frame(rows)


def reference_tag_facts(items, item_tags, per_item):
    names = dict(items.select("item_id", "name").iter_rows())
    rows = []
    for i, tag, n, year in (
        item_tags.group_by("item_id", maintain_order=True).head(per_item).iter_rows()
    ):
        name, slug = names[i], tag.replace(" ", "-")
        who = _plural(n, "listener", "listeners")
        rows.append(
            (
                f"{i}:tag:{slug}",
                i,
                "tag",
                f"{who} tagged {name} as {tag}.",
                {"name": name, "tag": tag, "listeners": n},
            )
        )
        if year is not None:
            rows.append(
                (
                    f"{i}:tag-year:{slug}",
                    i,
                    "tag_year",
                    f"{name} was first tagged {tag} in {year}.",
                    {"name": name, "tag": tag, "year": year},
                )
            )
    return _frame(rows)


def reference_colisten_pairs(x, per_item, min_shared):
    co = (x.T @ x).tocsr().astype(np.float32)
    co.setdiag(0)
    co.eliminate_zeros()
    out = []
    for a in range(co.shape[0]):
        lo, hi = co.indptr[a], co.indptr[a + 1]
        counts, others = co.data[lo:hi], co.indices[lo:hi]
        order = np.lexsort((others, -counts))[:per_item]
        for b, n in zip(others[order], counts[order].astype(int), strict=True):
            if n < min_shared:
                break
            out.append((a, int(b), int(n)))
    return out


def reference_colisten_facts(items, plays, per_item, min_shared):
    ids, names = items["item_id"].to_list(), items["name"].to_list()
    return _frame(
        [
            (
                f"{ids[a]}:colisten:{ids[b]}",
                ids[a],
                "colisten",
                f"{n:,} listeners of {names[a]} also play {names[b]}.",
                {"name": names[a], "artist": names[b], "other_item": ids[b], "shared": n},
            )
            for a, b, n in reference_colisten_pairs(_matrix(items, plays), per_item, min_shared)
        ]
    )


def _matrix(items, plays):
    col = {int(i): j for j, i in enumerate(items["item_id"].to_list())}
    users = sorted(set(plays["user"].to_list()))
    row = {u: r for r, u in enumerate(users)}
    return sp.csr_matrix(
        (
            np.ones(plays.height, dtype=np.int32),
            ([row[u] for u in plays["user"]], [col[a] for a in plays["artist"]]),
        ),
        shape=(len(users), len(col)),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny catalog's tables, its names made awkward for JSON and its counts large."""
    folder = tmp_path_factory.mktemp("facts")
    out = folder / "bundle"
    out.mkdir()
    HetRec2011().build(write_tiny_dataset(folder / "raw"), out)
    tables = {t: pl.read_parquet(out / f"{t}.parquet") for t in ("items", "item_tags", "facts")}
    plays = pl.read_parquet(out / "interactions.parquet").select(
        user=pl.col("listener_id").cast(pl.Int64), artist=pl.col("item_id").cast(pl.Int64)
    )
    items = tables["items"]
    n = items.height
    odd = items.with_columns(
        name=pl.Series([ODD[k % len(ODD)] + str(k) for k in range(n)]),
        listeners=pl.Series([[0, 1, 999, 1000, 1234567][k % 5] for k in range(n)]),
        plays=pl.Series([[1, 2, 10**6, 10**12, 5][k % 5] for k in range(n)]),
    )
    tags = tables["item_tags"].with_columns(
        tag=pl.when(pl.col("tag") == "rock").then(pl.lit("rock 'n' roll")).otherwise("tag"),
        first_year=pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise("first_year"),
        listeners=pl.col("listeners") * 997,
    )
    return {**tables, "plays": plays, "odd_items": odd, "odd_tags": tags}


def test_the_bundles_facts_are_the_row_by_row_ones(tiny):
    items, plays = tiny["items"], tiny["plays"]
    expected = pl.concat(
        [
            reference_stat_facts(items),
            reference_tag_facts(items, tiny["item_tags"].filter(pl.col("listeners") >= 2), 3),
            reference_colisten_facts(items, plays, 3, 2),
        ]
    ).sort("item_id", "fact_id")
    assert_frame_equal(tiny["facts"], expected)


@pytest.mark.parametrize("per_item", [1, 3, 40])
def test_awkward_names_and_large_counts_read_the_same(tiny, per_item):
    items, tags, plays = tiny["odd_items"], tiny["odd_tags"], tiny["plays"]
    assert_frame_equal(hetrec._stat_facts(items), reference_stat_facts(items))
    assert_frame_equal(
        hetrec._tag_facts(items, tags, per_item), reference_tag_facts(items, tags, per_item)
    )
    assert_frame_equal(
        hetrec._colisten_facts(items, plays, per_item, 1),
        reference_colisten_facts(items, plays, per_item, 1),
    )


def test_json_strings_are_json_dumps():
    values = [*ODD, "\x00\x1f", "\ud7ff\ue000\U0010ffff", "plain ASCII ~!#$%", None]
    assert hetrec._json_str(pl.Series(values)).to_list() == [json.dumps(v) for v in values]
    numbers = [0, 1, -1, 999, 1000, -1000, 1234567, 10**15, None]
    assert hetrec._grouped(pl.Series(numbers)).to_list() == [
        "None" if n is None else f"{n:,}" for n in numbers
    ]


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("block", [1, 7, 1 << 24])
def test_blocked_colistening_is_the_full_product(seed, block):
    """Every block size gives the full product's ranking, ties (by column) included."""
    rng = random.Random(seed)
    rows, cols = 50, 30
    cells = {(rng.randrange(rows), rng.randrange(cols)) for _ in range(300)}
    r, c = zip(*sorted(cells), strict=True)
    x = sp.csr_matrix((np.ones(len(r), dtype=np.int32), (r, c)), shape=(rows, cols))
    for per_item in (1, 3, cols):
        for min_shared in (1, 2, 4):
            got = hetrec._colisten_pairs(x, per_item, min_shared, block=block)
            pairs = list(zip(*(v.tolist() for v in got), strict=True))
            assert pairs == reference_colisten_pairs(x, per_item, min_shared)
