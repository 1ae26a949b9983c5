"""Raw-file validation: bad rows go to the quarantine with file, line and reason; bad files raise.

Every test corrupts a small copy of the real mirror (see ``conftest.py``), builds
the catalog with ``prepare`` and checks the quarantine and the built tables.
"""

from __future__ import annotations

import re
import shutil

import polars as pl
import pytest
from linernotes.catalog import Catalog
from linernotes.datasets import prepare
from linernotes.datasets.hetrec import ARTISTS, PLAYS, SPECS, TAGS, HetRec2011
from linernotes.datasets.rawfile import WHITESPACE, Quarantined, read_table
from linernotes.errors import DataError

DATASET = HetRec2011.name


def build() -> Catalog:
    return Catalog(prepare(HetRec2011(), progress=False))


def quarantined(catalog: Catalog, file: str) -> list[tuple[int, str]]:
    """(line, reason) of a file's quarantined rows, in line order."""
    q = catalog.quarantine.filter(pl.col("file") == file).sort("line")
    return list(q.select("line", "reason").iter_rows())


def data_lines(lines: list[bytes]) -> int:
    """Rows of a raw file: the non-blank lines after the header."""
    return sum(1 for x in lines[1:] if x.strip())


def set_field(line: bytes, i: int, value: bytes) -> bytes:
    fields = line.split(b"\t")
    fields[i] = value
    return b"\t".join(fields)


def line_of(lines: list[bytes], i: int, value: bytes) -> int:
    """The 1-based file line number of the first row whose field ``i`` is ``value``."""
    return next(n for n, x in enumerate(lines, start=1) if n > 1 and x.split(b"\t")[i] == value)


def assert_no_bundle(hetrec_mirror) -> None:
    """A failed prepare leaves no bundle and no half-built folder behind."""
    folder = hetrec_mirror.cache / "catalogs" / DATASET
    assert not folder.exists() or list(folder.iterdir()) == []


# -- the clean copy ------------------------------------------------------------------------


def test_clean_copy_quarantines_nothing(hetrec_mirror):
    catalog = build()
    assert catalog.quarantine.height == 0
    assert catalog.items.height == data_lines(hetrec_mirror.lines("artists.dat")) == 2000
    assert catalog.interactions.height == data_lines(hetrec_mirror.lines("user_artists.dat"))
    assert catalog.social.height == data_lines(hetrec_mirror.lines("user_friends.dat"))


# -- wrong encoding ------------------------------------------------------------------------


def test_latin1_line_in_utf8_file_is_quarantined(hetrec_mirror):
    artists = hetrec_mirror.lines("artists.dat")
    line = line_of(artists, 1, "Björk".encode())
    bjork = artists[line - 1].split(b"\t")[0].decode()
    artists[line - 1] = artists[line - 1].decode("utf-8").encode("latin-1")
    assert b"Bj\xf6rk" in artists[line - 1]
    hetrec_mirror.write("artists.dat", artists)
    plays = hetrec_mirror.lines("user_artists.dat")
    bjork_plays = [
        n for n, x in enumerate(plays, start=1) if n > 1 and x.split(b"\t")[1] == bjork.encode()
    ]
    assert bjork_plays  # Björk is played in the copy, so the cascade below is checked

    catalog = build()

    assert quarantined(catalog, "artists.dat") == [(line, "not valid utf-8: invalid start byte")]
    raw = catalog.quarantine.filter(pl.col("file") == "artists.dat")["raw"][0]
    assert raw.startswith(f"{bjork}\tBj\ufffdrk\t")
    # every other artist survives, including other non-ASCII names
    assert catalog.items.height == data_lines(artists) - 1
    assert bjork not in catalog.item_index
    names = set(catalog.items["name"].to_list())
    assert {"Röyksopp", "The Crüxshadows", "Café Del Mar"} <= names
    assert "Björk" not in names
    # plays of the quarantined artist are quarantined too, not dropped
    assert quarantined(catalog, "user_artists.dat") == [
        (n, f"unknown artistID {bjork}") for n in bjork_plays
    ]
    assert catalog.interactions.height == data_lines(plays) - len(bjork_plays)


def test_latin1_file_reads_latin1(tmp_path):
    path = tmp_path / "tags.dat"
    path.write_bytes(b"tagID\ttagValue\n1\tmetal\n2\tbj\xf6rk\n")
    df, bad = read_table(path, TAGS)
    assert bad == []
    assert df["tag"].to_list() == ["metal", "björk"]
    assert df["_line"].to_list() == [2, 3]


# -- whole-file problems -------------------------------------------------------------------


def test_missing_column_raises_naming_file_and_column(hetrec_mirror):
    plays = [b"\t".join(x.split(b"\t")[:2]) for x in hetrec_mirror.lines("user_artists.dat")]
    assert plays[0] == b"userID\tartistID"
    hetrec_mirror.write("user_artists.dat", plays)
    path = hetrec_mirror.folder / "user_artists.dat"
    with pytest.raises(DataError, match=re.escape(f"{path}:1: missing column(s) weight;")) as e:
        build()
    assert "header has userID, artistID" in str(e.value)
    assert_no_bundle(hetrec_mirror)


def test_missing_columns_are_all_named(tmp_path):
    path = tmp_path / "user_artists.dat"
    path.write_text("userID\tplays\n2\t5\n")
    message = r"user_artists\.dat:1: missing column\(s\) artistID, weight"
    with pytest.raises(DataError, match=message):
        read_table(path, PLAYS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.filename)
@pytest.mark.parametrize("content", [b"", b"\n"], ids=["zero-bytes", "blank-line"])
def test_empty_file_raises(hetrec_mirror, spec, content):
    (hetrec_mirror.folder / spec.filename).write_bytes(content)
    header = "\t".join(c.source for c in spec.columns)
    path = hetrec_mirror.folder / spec.filename
    with pytest.raises(DataError, match=re.escape(f"{path}: file is empty")) as e:
        build()
    assert f"expected a header line '{header}'" in str(e.value)
    assert_no_bundle(hetrec_mirror)


def test_missing_file_raises(hetrec_mirror):
    (hetrec_mirror.folder / "user_friends.dat").unlink()
    with pytest.raises(DataError, match=r"user_friends\.dat"):
        build()
    assert_no_bundle(hetrec_mirror)


def test_header_only_file_builds_with_no_rows(hetrec_mirror):
    hetrec_mirror.write("user_friends.dat", hetrec_mirror.lines("user_friends.dat")[:1])
    catalog = build()
    assert catalog.social.height == 0
    assert catalog.quarantine.height == 0
    assert catalog.interactions.height == data_lines(hetrec_mirror.lines("user_artists.dat"))


# -- row problems --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "line", "field", "value", "column", "table"),
    [
        ("user_artists.dat", 5, 0, b"abc", "userID", "interactions"),
        ("user_artists.dat", 9, 2, b"12.5", "weight", "interactions"),
        ("user_friends.dat", 4, 1, b"", "friendID", "social"),
        ("user_taggedartists.dat", 7, 2, b"7a", "tagID", None),
    ],
)
def test_non_numeric_id_is_quarantined(hetrec_mirror, file, line, field, value, column, table):
    lines = hetrec_mirror.lines(file)
    lines[line - 1] = set_field(lines[line - 1], field, value)
    hetrec_mirror.write(file, lines)

    catalog = build()

    reason = f"column '{column}' is not an integer: {value.decode()!r}"
    assert quarantined(catalog, file) == [(line, reason)]
    assert catalog.quarantine.height == 1
    assert catalog.quarantine["raw"][0] == lines[line - 1].decode()
    if table:
        assert getattr(catalog, table).height == data_lines(lines) - 1


def test_duplicate_rows_keep_the_first(hetrec_mirror):
    plays = hetrec_mirror.lines("user_artists.dat")
    user, artist, first_plays = plays[9].split(b"\t")
    plays.append(plays[2])  # an exact copy of line 3
    plays.append(set_field(plays[9], 2, b"1"))  # line 10's key with other plays
    hetrec_mirror.write("user_artists.dat", plays)
    n = len(plays)
    artists = hetrec_mirror.lines("artists.dat")
    artists.append(set_field(artists[1], 1, b"Not Malice Mizer"))  # line 2's id again
    hetrec_mirror.write("artists.dat", artists)

    catalog = build()

    assert quarantined(catalog, "user_artists.dat") == [
        (n - 1, "duplicate of line 3 (key user, artist)"),
        (n, "duplicate of line 10 (key user, artist)"),
    ]
    assert quarantined(catalog, "artists.dat") == [
        (len(artists), "duplicate of line 2 (key artist)")
    ]
    assert catalog.interactions.height == data_lines(plays) - 2
    kept = catalog.history(user.decode())[artist.decode()]
    assert kept == float(first_plays)
    assert catalog.items.height == data_lines(artists) - 1
    assert catalog.item("1").name == "MALICE MIZER"


def test_wrong_field_count_is_quarantined(hetrec_mirror):
    plays = hetrec_mirror.lines("user_artists.dat")
    plays[5] = b"\t".join(plays[5].split(b"\t")[:2])  # line 6: a field short
    plays[7] = plays[7] + b"\t99"  # line 8: a field too many
    hetrec_mirror.write("user_artists.dat", plays)

    catalog = build()

    assert quarantined(catalog, "user_artists.dat") == [
        (6, "expected 3 fields, got 2"),
        (8, "expected 3 fields, got 4"),
    ]
    assert catalog.interactions.height == data_lines(plays) - 2


def test_tab_inside_a_name_is_quarantined(tmp_path):
    path = tmp_path / "artists.dat"
    path.write_text(
        "id\tname\turl\tpictureURL\n"
        "1\tA\thttp://a\thttp://a.jpg\n"
        "2\tB\tC\thttp://b\thttp://b.jpg\n"
        "3\tD\thttp://d\thttp://d.jpg\n",
        encoding="utf-8",
    )
    df, bad = read_table(path, ARTISTS)
    assert df["artist"].to_list() == [1, 3]
    assert df["_line"].to_list() == [2, 4]
    assert bad == [
        Quarantined("artists.dat", 3, "expected 4 fields, got 5", "2\tB\tC\thttp://b\thttp://b.jpg")
    ]


def test_unknown_artist_and_tag_are_quarantined(hetrec_mirror):
    plays = hetrec_mirror.lines("user_artists.dat")
    plays.append(b"2\t999999\t10")
    hetrec_mirror.write("user_artists.dat", plays)
    taggings = hetrec_mirror.lines("user_taggedartists.dat")
    taggings.append(b"2\t999999\t13\t1\t4\t2009")
    taggings.append(b"2\t52\t999999\t1\t4\t2009")
    hetrec_mirror.write("user_taggedartists.dat", taggings)

    catalog = build()

    assert quarantined(catalog, "user_artists.dat") == [(len(plays), "unknown artistID 999999")]
    assert quarantined(catalog, "user_taggedartists.dat") == [
        (len(taggings) - 1, "unknown artistID 999999"),
        (len(taggings), "unknown tagID 999999"),
    ]
    raws = catalog.quarantine.sort("file", "line")["raw"].to_list()
    assert raws == ["2\t999999\t10", "2\t999999\t13\t1\t4\t2009", "2\t52\t999999\t1\t4\t2009"]
    assert catalog.interactions.height == data_lines(plays) - 1
    assert "999999" not in set(catalog.interactions["item_id"].to_list())


def test_nothing_is_silently_dropped(hetrec_mirror):
    plays = hetrec_mirror.lines("user_artists.dat")
    plays[2] = set_field(plays[2], 0, b"abc")  # line 3: non-numeric user
    plays[3] = set_field(plays[3], 1, b"5\xe92")  # line 4: not UTF-8
    plays[4] = b"\t".join(plays[4].split(b"\t")[:2])  # line 5: wrong field count
    plays[5] = b""  # line 6: blank, not a row
    plays[6] = set_field(plays[6], 2, b"-5")  # line 7: negative plays
    plays[7] = set_field(plays[7], 1, b"999999")  # line 8: unknown artist
    plays.append(plays[8])  # duplicate of line 9
    plays.append(b"2\t1\t7\r")  # a valid row with a CRLF ending
    hetrec_mirror.write("user_artists.dat", plays)

    catalog = build()

    q = quarantined(catalog, "user_artists.dat")
    assert [line for line, _ in q] == [3, 4, 5, 7, 8, len(plays) - 1]
    assert [reason for _, reason in q] == [
        "column 'userID' is not an integer: 'abc'",
        "not valid utf-8: invalid continuation byte",
        "expected 3 fields, got 2",
        "negative play count -5",
        "unknown artistID 999999",
        "duplicate of line 9 (key user, artist)",
    ]
    assert catalog.interactions.height + len(q) == data_lines(plays)
    assert catalog.history("2")["1"] == 7.0
    assert catalog.quarantine.height == len(q)


# -- the catalog bundle --------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_bundle(tmp_path_factory, make_hetrec_mirror):
    """One clean bundle, built once per module; tests break copies of it."""
    root = tmp_path_factory.mktemp("clean")
    m = make_hetrec_mirror(root / "mirror", root / "cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINERNOTES_DATA_MIRROR", str(m.root))
        mp.setenv("LINERNOTES_CACHE_DIR", str(m.cache))
        return prepare(HetRec2011(), progress=False)


@pytest.fixture
def bundle(clean_bundle, tmp_path):
    """A writable copy of the clean bundle."""
    return shutil.copytree(clean_bundle, tmp_path / "bundle")


def test_catalog_loads_a_clean_bundle(bundle):
    catalog = Catalog(bundle)
    assert catalog.info()["items"] == 2000
    assert catalog.info()["quarantined_rows"] == 0


def test_catalog_rejects_missing_table(bundle):
    (bundle / "facts.parquet").unlink()
    with pytest.raises(DataError, match=r"catalog bundle lacks facts\.parquet"):
        Catalog(bundle)


@pytest.mark.parametrize(
    ("table", "change", "column"),
    [
        ("items", pl.col("listeners").cast(pl.String), "listeners"),
        ("interactions", pl.col("plays").cast(pl.Float64), "plays"),
        ("quarantine", pl.col("line").cast(pl.Int32), "line"),
    ],
)
def test_catalog_rejects_wrong_column_type(bundle, table, change, column):
    path = bundle / f"{table}.parquet"
    pl.read_parquet(path).with_columns(change).write_parquet(path)
    message = rf"{table}\.parquet: wrong or missing columns .*'{column}'"
    with pytest.raises(DataError, match=message):
        Catalog(bundle)


def test_catalog_rejects_missing_column(bundle):
    path = bundle / "items.parquet"
    pl.read_parquet(path).drop("url").write_parquet(path)
    with pytest.raises(DataError, match=r"items\.parquet: wrong or missing columns \{'url'"):
        Catalog(bundle)


def test_catalog_rejects_duplicate_item_ids(bundle):
    path = bundle / "items.parquet"
    items = pl.read_parquet(path)
    pl.concat([items, items.head(1)]).write_parquet(path)
    with pytest.raises(DataError, match="duplicate item ids"):
        Catalog(bundle)


def test_tab_only_lines_are_quarantined_and_a_lone_cr_keeps_line_numbers(tmp_path):
    path = tmp_path / "user_artists.dat"
    path.write_bytes(b"userID\tartistID\tweight\n2\t51\t10\r\n\t\t\n2\t52\t5 \r3\n2\t53\t7\n")
    df, bad = read_table(path, PLAYS)
    assert df["_line"].to_list() == [2, 5]
    assert [(q.line, q.reason) for q in bad] == [
        (3, "column 'userID' is not an integer: ''"),
        (4, "column 'weight' is not an integer: '5 \\r3'"),
    ]


# -- the vectorised reader agrees with a row-by-row reading --------------------------------


def read_rows(path, spec):
    """The reference: each row read and checked in Python, in file order."""
    lines = [line.removesuffix(b"\r") for line in path.read_bytes().split(b"\n")]
    header = lines[0].decode(spec.encoding, errors="replace").lstrip("\ufeff").split("\t")
    where = [header.index(c.source) for c in spec.columns]
    key_at = [[c.name for c in spec.columns].index(k) for k in spec.key]
    good, bad, seen = [], [], {}
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip(b" "):
            continue
        try:
            text = raw.decode(spec.encoding)
        except UnicodeDecodeError as e:
            reason, text = (
                f"not valid {spec.encoding}: {e.reason}",
                raw.decode(spec.encoding, "replace"),
            )
            bad.append(Quarantined(spec.filename, number, reason, text))
            continue
        fields = text.split("\t")
        reason, row = None, []
        if len(fields) != len(header):
            reason = f"expected {len(header)} fields, got {len(fields)}"
        for c, i in zip(spec.columns, where, strict=True):
            value = fields[i].strip() if reason is None else None
            if c.integer and reason is None:
                try:
                    value = int(value)
                except ValueError:
                    reason = f"column '{c.source}' is not an integer: {value!r}"
            row.append(value)
        key = tuple(row[i] for i in key_at)
        if reason is None and key_at and key in seen:
            reason = f"duplicate of line {seen[key]} (key {', '.join(spec.key)})"
        if reason is not None:
            bad.append(Quarantined(spec.filename, number, reason, text))
            continue
        seen[key] = number
        good.append((*row, number))
    return good, bad


ODD_PLAYS = [
    b"userID\tartistID\tweight",
    b"2\t51\t10",
    b"+3\t-4\t007",  # signs and leading zeros
    b" 2\t52 \t5\x1c",  # whitespace str.strip() removes, \x1c included
    b"2\t53\t\xc2\xa05\xe3\x80\x80",  # no-break and ideographic spaces
    b"2\t54\t1_000",  # int() accepts underscores
    b"2\t55\t\xd9\xa3",  # and other scripts' digits
    b"2\t56\t12.5",
    b"2\t57\t",
    b"x\t58\ty",  # two bad columns: the first is named
    b"2\t59\t5 \r3",
    b"2\t60\t7\r",
    b"   ",
    b"",
    b"\t\t",
    b"2\t5\xe92\t1",  # invalid continuation byte
    b"2\t\xff\t1",  # invalid start byte
    b"2\t61\t4\xe2\r",  # a truncated character before a CR
    b"2\t62",
    b"2\t63\t1\t1",
    b"2\t64\tabc",  # a bad row does not claim its key ...
    b"2\t64\t3",  # ... so this one is kept
    b"2\t64\t4",  # and this one is its duplicate
    b"2\t51\t10",
    b"+2\t051\t1",  # the same key, written otherwise
    b"2\t65\t9\xe2",  # a truncated character at the end of the file
]
ODD_ARTISTS = [
    b"id\tname\turl\tpictureURL",
    b"1\t\xe3\x80\x80Bj\xc3\xb6rk\x1f \thttp://a\t",
    b"2\tB\tC\thttp://b\thttp://b.jpg",
    b"3\t  \t\t",
    b"1\tAgain\thttp://x\thttp://x.jpg",
    b"4\tBj\xf6rk\thttp://b\thttp://b.jpg",
]
ODD_TAGS = [
    b"tagID\ttagValue",
    b"1\tmetal",
    b"2\tbj\xf6rk",
    b"2\tagain",
    b"3\t\xa0x\xa0",
]


@pytest.mark.parametrize(
    ("spec", "lines"), [(PLAYS, ODD_PLAYS), (ARTISTS, ODD_ARTISTS), (TAGS, ODD_TAGS)]
)
def test_read_table_agrees_with_a_row_by_row_reading(tmp_path, spec, lines):
    path = tmp_path / spec.filename
    path.write_bytes(b"\n".join(lines))
    good, bad = read_rows(path, spec)
    df, quarantined_rows = read_table(path, spec)
    assert df.rows() == good
    assert quarantined_rows == bad
    assert bad


def test_whitespace_is_what_str_strip_removes():
    assert set(WHITESPACE) == {c for c in map(chr, range(0x110000)) if c.isspace()}
