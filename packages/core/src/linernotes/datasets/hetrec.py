"""Last.fm HetRec 2011 (``hetrec2011-lastfm-2k``): raw files -> catalog bundle.

Source: the GroupLens zip (non-commercial use; cite Last.fm and HetRec'11).
User tags are screened against the MusicBrainz genre vocabulary (CC0) before
they become facts: only tags that name a known genre are stated, which keeps
the catalog's profanity, slurs and jokes out of every story.
"""

from __future__ import annotations

from json.encoder import encode_basestring_ascii  # json.dumps' own, for ensure_ascii
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import scipy.sparse as sp

from ..sparse import top_of_product
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


FACT_SCHEMA = {
    "fact_id": pl.String,
    "item_id": pl.String,
    "kind": pl.String,
    "text": pl.String,
    "values": pl.String,
}
# strings json.dumps writes as they are, in quotes: printable ASCII but the quote and backslash
PLAIN_JSON = r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$"


def _json_str(s: pl.Series) -> pl.Series:
    """``json.dumps`` of each string (``null`` for a missing one), vectorised.

    Plain printable ASCII is quoted by polars; the rest goes through the very function
    ``json.dumps`` uses (``ensure_ascii``), once per distinct string.
    """
    s = s.cast(pl.String)
    odd = s.filter(~s.str.contains(PLAIN_JSON)).drop_nulls().unique()
    quoted = pl.concat_str(pl.lit('"'), pl.col("s"), pl.lit('"'))
    out = s.to_frame("s").select(quoted)
    if odd.len():
        enc = pl.Series([encode_basestring_ascii(v) for v in odd.to_list()], dtype=pl.String)
        out = s.to_frame("s").select(
            pl.when(pl.col("s").is_in(odd.implode()))
            .then(pl.col("s").replace_strict(odd, enc, default=None))
            .otherwise(quoted)
        )
    return out.to_series().fill_null("null").alias(s.name)


def _str(s: pl.Series) -> pl.Series:
    """``f"{x}"`` of each value (``None`` for a missing one)."""
    return s.cast(pl.String).fill_null("None")


def _grouped(s: pl.Series) -> pl.Series:
    """``f"{n:,}"`` of each integer, vectorised over its distinct values."""
    big = s.filter(s.abs() >= 1000).unique()
    out = _str(s)
    if big.len():
        text = pl.Series([f"{n:,}" for n in big.to_list()], dtype=pl.String)
        out = pl.select(
            pl.when(s.abs() >= 1000).then(s.replace_strict(big, text, default=None)).otherwise(out)
        ).to_series()
    return out


def _plural(n: pl.Series, one: str, many: str) -> pl.Series:
    """``f"{n:,} {one if n == 1 else many}"`` of each integer."""
    return pl.select(
        pl.concat_str(
            _grouped(n), pl.lit(" "), pl.when(n == 1).then(pl.lit(one)).otherwise(pl.lit(many))
        )
    ).to_series()


def _cat(*parts: pl.Series | str) -> pl.Series:
    """Row-wise concatenation of string series and literal strings."""
    return pl.select(pl.concat_str([pl.lit(p) for p in parts])).to_series()


def _fact_frame(fact_id, item_id, kind: str, text, values) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "fact_id": fact_id,
            "item_id": item_id,
            "kind": pl.repeat(kind, len(fact_id), dtype=pl.String, eager=True),
            "text": text,
            "values": values,
        },
        schema=FACT_SCHEMA,
    )


def _stat_facts(items: pl.DataFrame) -> pl.DataFrame:
    """``{name} has N listeners in this catalog, with M plays in all.`` per played item."""
    df = items.filter(pl.col("listeners") > 0)
    i, name, n, p = df["item_id"], df["name"], df["listeners"], df["plays"]
    return _fact_frame(
        _cat(i, ":stats"),
        i,
        "stats",
        _cat(
            _str(name),
            " has ",
            _plural(n, "listener", "listeners"),
            " in this catalog, with ",
            _plural(p, "play", "plays"),
            " in all.",
        ),
        _cat('{"name": ', _json_str(name), ', "listeners": ', _str(n), ', "plays": ', _str(p), "}"),
    )


def _tag_facts(items: pl.DataFrame, item_tags: pl.DataFrame, per_item: int) -> pl.DataFrame:
    """An item's top tags, each with the year it was first given where known."""
    top = (
        item_tags.group_by("item_id", maintain_order=True)
        .head(per_item)
        .join(items.select("item_id", "name"), on="item_id", how="left", maintain_order="left")
    )
    i, tag, n, year, name = (top[c] for c in ("item_id", "tag", "listeners", "first_year", "name"))
    slug = tag.str.replace_all(" ", "-", literal=True)
    text_name, json_name, json_tag = _str(name), _json_str(name), _json_str(tag)
    tags = _fact_frame(
        _cat(i, ":tag:", slug),
        i,
        "tag",
        _cat(_plural(n, "listener", "listeners"), " tagged ", text_name, " as ", tag, "."),
        _cat('{"name": ', json_name, ', "tag": ', json_tag, ', "listeners": ', _str(n), "}"),
    )
    years = _fact_frame(
        _cat(i, ":tag-year:", slug),
        i,
        "tag_year",
        _cat(text_name, " was first tagged ", tag, " in ", _str(year), "."),
        _cat('{"name": ', json_name, ', "tag": ', json_tag, ', "year": ', _str(year), "}"),
    )
    # each tag fact is followed by its year fact, as the rows were once written one by one
    order = pl.int_range(pl.len(), dtype=pl.Int64)
    return (
        pl.concat(
            [
                tags.with_columns(_order=2 * order),
                years.with_columns(_order=2 * order + 1).filter(year.is_not_null()),
            ]
        )
        .sort("_order")
        .drop("_order")
    )


def _colisten_pairs(
    x: sp.csr_matrix, per_item: int, min_shared: int, block: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's ``per_item`` most co-occurring other columns of the 0/1 matrix ``x``.

    ``(a, b, n)``: ``n`` rows hold both ``a`` and ``b``, ``n >= min_shared``; ordered by
    ``a``, then most shared first, then ``b``. The rows of ``x.T @ x`` (diagonal left out)
    ranked by :func:`linernotes.sparse.top_of_product`, a ``block`` of pairs at a time.
    Pairs under ``min_shared`` rank below every pair above it, so cutting them after the
    top ``per_item`` leaves each column's best ``per_item`` of those that qualify.
    """
    top = top_of_product(x.T, x, per_item, lambda a, b, n: n, block).tocoo()
    keep = top.data >= min_shared
    a, b, n = (v[keep].astype(np.int64) for v in (top.row, top.col, top.data))
    order = np.lexsort((b, -n, a))
    return a[order], b[order], n[order]


def _colisten_facts(
    items: pl.DataFrame, plays: pl.DataFrame, per_item: int, min_shared: int
) -> pl.DataFrame:
    """ "Listeners of A also play B" for each item's most co-listened items."""
    # a row per listener (in id order), a column per item (in the items' order)
    columns = items.select(artist=pl.col("item_id").cast(pl.Int64)).with_row_index("column")
    cells = plays.select(row=pl.col("user").rank("dense") - 1, artist="artist").join(
        columns, on="artist"
    )
    x = sp.csr_matrix(
        (np.ones(cells.height, dtype=np.int32), (cells["row"], cells["column"])),
        shape=(plays["user"].n_unique(), items.height),
    )
    a, b, n = _colisten_pairs(x, per_item, min_shared)
    ids, names = items["item_id"], items["name"]
    shared = pl.Series(n, dtype=pl.Int64)
    a_id, b_id = ids.gather(a), ids.gather(b)
    a_name, b_name = names.gather(a), names.gather(b)
    return _fact_frame(
        _cat(a_id, ":colisten:", b_id),
        a_id,
        "colisten",
        _cat(_grouped(shared), " listeners of ", _str(a_name), " also play ", _str(b_name), "."),
        _cat(
            '{"name": ',
            _json_str(a_name),
            ', "artist": ',
            _json_str(b_name),
            ', "other_item": ',
            _json_str(b_id),
            ', "shared": ',
            _str(shared),
            "}",
        ),
    )
