"""Last.fm HetRec 2011 (``hetrec2011-lastfm-2k``): raw files -> catalog bundle.

Source: the GroupLens zip (non-commercial use; cite Last.fm and HetRec'11).
User tags are screened against the MusicBrainz genre vocabulary (CC0) before
they become facts: only tags that name a known genre are stated, which keeps
the catalog's profanity, slurs and jokes out of every story.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import scipy.sparse as sp

from ..text import normalize
from . import locate
from .rawfile import Column, FileSpec, Quarantined, quarantine_frame, quarantine_rows, read_table

URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
GENRES_URL = (
    "https://raw.githubusercontent.com/DDMAL/linkedmusic-datalake/"
    "cb46423ae3c8f7050ad37fa17aef1fb3bca62d5a/musicbrainz/data/genre.csv"
)

ARTISTS = FileSpec(
    "artists.dat",
    (Column("id", "artist", True), Column("name", "name"), Column("url", "url")),
    key=("artist",),
)
TAGS = FileSpec(
    "tags.dat",
    (Column("tagID", "tag_id", True), Column("tagValue", "tag")),
    encoding="latin-1",
    key=("tag_id",),
)
PLAYS = FileSpec(
    "user_artists.dat",
    (
        Column("userID", "user", True),
        Column("artistID", "artist", True),
        Column("weight", "plays", True),
    ),
    key=("user", "artist"),
)
FRIENDS = FileSpec(
    "user_friends.dat",
    (Column("userID", "user", True), Column("friendID", "friend", True)),
    key=("user", "friend"),
)
TAGGINGS = FileSpec(
    "user_taggedartists.dat",
    (
        Column("userID", "user", True),
        Column("artistID", "artist", True),
        Column("tagID", "tag_id", True),
        Column("day", "day", True),
        Column("month", "month", True),
        Column("year", "year", True),
    ),
    key=("user", "artist", "tag_id"),
)
SPECS = (ARTISTS, TAGS, PLAYS, FRIENDS, TAGGINGS)
FIRST_YEAR, LAST_YEAR = 2002, 2011  # Last.fm's first year, and the dataset's last


class HetRec2011:
    """The Last.fm HetRec 2011 dataset and its adapter."""

    name: ClassVar[str] = "hetrec2011-lastfm-2k"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        url: str = URL,
        genres_url: str = GENRES_URL,
        tags_per_item: int = 3,
        min_tag_listeners: int = 2,
        colisten_per_item: int = 3,
        min_shared: int = 2,
    ):
        self.url = url
        self.genres_url = genres_url
        self.tags_per_item = tags_per_item
        self.min_tag_listeners = min_tag_listeners
        self.colisten_per_item = colisten_per_item
        self.min_shared = min_shared

    def fetch(self, progress: bool = True) -> dict[str, Path]:
        return {
            "lastfm": locate(self.name, self.url, tuple(s.filename for s in SPECS), progress),
            "genres": locate("musicbrainz-genres", self.genres_url, ("genre.csv",), progress),
        }

    def build(self, sources: dict[str, Path], out_dir: Path) -> None:
        raw = sources["lastfm"]
        bad: list[Quarantined] = []

        def read(spec: FileSpec) -> pl.DataFrame:
            df, rows = read_table(raw / spec.filename, spec)
            bad.extend(rows)
            return df

        artists, tags, plays, friends, taggings = (read(s) for s in SPECS)

        def keep(df, spec, mask, reason):
            df, rows = quarantine_rows(df, mask, spec, reason)
            bad.extend(rows)
            return df

        unknown_artist = ~pl.col("artist").is_in(artists["artist"].implode())
        plays = keep(
            plays, PLAYS, unknown_artist, pl.format("unknown artistID {}", pl.col("artist"))
        )
        plays = keep(
            plays, PLAYS, pl.col("plays") < 0, pl.format("negative play count {}", pl.col("plays"))
        )
        taggings = keep(
            taggings, TAGGINGS, unknown_artist, pl.format("unknown artistID {}", pl.col("artist"))
        )
        taggings = keep(
            taggings,
            TAGGINGS,
            ~pl.col("tag_id").is_in(tags["tag_id"].implode()),
            pl.format("unknown tagID {}", pl.col("tag_id")),
        )
        friends = keep(
            friends, FRIENDS, pl.col("user") == pl.col("friend"), pl.lit("user is their own friend")
        )

        genres = _genre_names(sources["genres"] / "genre.csv")
        items = _items(artists, plays)
        item_tags = _item_tags(taggings, tags, genres)
        facts = pl.concat(
            [
                _stat_facts(items),
                _tag_facts(
                    items,
                    item_tags.filter(pl.col("listeners") >= self.min_tag_listeners),
                    self.tags_per_item,
                ),
                _colisten_facts(items, plays, self.colisten_per_item, self.min_shared),
            ]
        )
        users = pl.concat([plays["user"], friends["user"], friends["friend"]]).unique()
        listeners = (
            pl.DataFrame({"user": users})
            .join(
                plays.group_by("user").agg(items=pl.len(), plays=pl.col("plays").sum()),
                on="user",
                how="left",
            )
            .select(
                listener_id=pl.col("user").cast(pl.String),
                items=pl.col("items").fill_null(0).cast(pl.Int64),
                plays=pl.col("plays").fill_null(0).cast(pl.Int64),
            )
            .sort("listener_id")
        )
        tables = {
            "items": items,
            "facts": facts.sort("item_id", "fact_id"),
            "interactions": plays.select(
                listener_id=pl.col("user").cast(pl.String),
                item_id=pl.col("artist").cast(pl.String),
                plays=pl.col("plays"),
            ),
            "listeners": listeners,
            "social": friends.select(
                listener_id=pl.col("user").cast(pl.String),
                friend_id=pl.col("friend").cast(pl.String),
            ),
            "item_tags": item_tags,
            "quarantine": quarantine_frame(bad),
        }
        for name, df in tables.items():
            df.write_parquet(out_dir / f"{name}.parquet")


def _genre_names(path: Path) -> dict[str, str]:
    """MusicBrainz genres by normalised name (``hip-hop`` and ``Hip Hop`` alike)."""
    names = pl.read_csv(path, columns=["name"])["name"].drop_nulls().to_list()
    return {_tag_key(n): n for n in names}


def _tag_key(tag: str) -> str:
    return " ".join(normalize(tag).replace("-", " ").replace("_", " ").split())


def _items(artists: pl.DataFrame, plays: pl.DataFrame) -> pl.DataFrame:
    stats = plays.group_by("artist").agg(listeners=pl.len(), plays=pl.col("plays").sum())
    return (
        artists.join(stats, on="artist", how="left")
        .select(
            item_id=pl.col("artist").cast(pl.String),
            name=pl.col("name"),
            url=pl.col("url"),
            listeners=pl.col("listeners").fill_null(0).cast(pl.Int64),
            plays=pl.col("plays").fill_null(0).cast(pl.Int64),
        )
        .sort(pl.col("item_id").cast(pl.Int64))
    )


def _item_tags(taggings: pl.DataFrame, tags: pl.DataFrame, genres: dict[str, str]) -> pl.DataFrame:
    """Screened tags per item: only tags naming a MusicBrainz genre, with listener counts."""
    tag_names = tags.with_columns(
        genre=pl.col("tag").map_elements(lambda t: genres.get(_tag_key(t)), return_dtype=pl.String)
    ).filter(pl.col("genre").is_not_null())
    valid_year = pl.col("year").is_between(FIRST_YEAR, LAST_YEAR)
    return (
        taggings.join(tag_names.select("tag_id", "genre"), on="tag_id")
        .group_by("artist", "genre")
        .agg(
            listeners=pl.col("user").n_unique(), first_year=pl.col("year").filter(valid_year).min()
        )
        .select(
            item_id=pl.col("artist").cast(pl.String),
            tag=pl.col("genre"),
            listeners=pl.col("listeners").cast(pl.Int64),
            first_year=pl.col("first_year").cast(pl.Int64),
        )
        .sort("item_id", pl.col("listeners"), "tag", descending=[False, True, False])
    )


def _fact_frame(rows: list[tuple[str, str, str, str, dict]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(f, i, k, t, json.dumps(v)) for f, i, k, t, v in rows],
        schema={
            "fact_id": pl.String,
            "item_id": pl.String,
            "kind": pl.String,
            "text": pl.String,
            "values": pl.String,
        },
        orient="row",
    )


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def _stat_facts(items: pl.DataFrame) -> pl.DataFrame:
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
    return _fact_frame(rows)


def _tag_facts(items: pl.DataFrame, item_tags: pl.DataFrame, per_item: int) -> pl.DataFrame:
    names = dict(items.select("item_id", "name").iter_rows())
    rows = []
    top = item_tags.group_by("item_id", maintain_order=True).head(per_item)
    for i, tag, n, year in top.iter_rows():
        name = names[i]
        slug = tag.replace(" ", "-")
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
    return _fact_frame(rows)


def _colisten_facts(
    items: pl.DataFrame, plays: pl.DataFrame, per_item: int, min_shared: int
) -> pl.DataFrame:
    """ "Listeners of A also play B" for each item's most co-listened items."""
    ids = items["item_id"].to_list()
    names = items["name"].to_list()
    col = {int(i): j for j, i in enumerate(ids)}
    users = plays["user"].unique().sort()
    row = {u: r for r, u in enumerate(users.to_list())}
    x = sp.csr_matrix(
        (
            np.ones(plays.height, dtype=np.float32),
            (
                [row[u] for u in plays["user"].to_list()],
                [col[a] for a in plays["artist"].to_list()],
            ),
        ),
        shape=(len(users), len(ids)),
    )
    co = (x.T @ x).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    rows = []
    for a in range(co.shape[0]):
        lo, hi = co.indptr[a], co.indptr[a + 1]
        if lo == hi:
            continue
        counts, others = co.data[lo:hi], co.indices[lo:hi]
        order = np.lexsort((others, -counts))[:per_item]
        for b, n in zip(others[order], counts[order].astype(int), strict=True):
            if n < min_shared:
                break
            rows.append(
                (
                    f"{ids[a]}:colisten:{ids[b]}",
                    ids[a],
                    "colisten",
                    f"{n:,} listeners of {names[a]} also play {names[b]}.",
                    {"name": names[a], "artist": names[b], "other_item": ids[b], "shared": int(n)},
                )
            )
    return _fact_frame(rows)
