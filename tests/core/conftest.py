"""Shared fixtures for the data tests: small, writable copies of the real mirror.

The real mirror (read-only) is never modified or copied into the repository:
each test gets a truncated copy under ``tmp_path`` that it may corrupt, with
``LINERNOTES_DATA_MIRROR`` and ``LINERNOTES_CACHE_DIR`` pointing into ``tmp_path``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

DATASET = "hetrec2011-lastfm-2k"
GENRES = "musicbrainz-genres"
KEEP = 2000  # data lines kept per file (tags.dat is kept whole)


def _source_root() -> Path | None:
    """The real mirror: ``$LINERNOTES_DATA_MIRROR`` if it holds the dataset, else the shared one."""
    for candidate in (os.environ.get("LINERNOTES_DATA_MIRROR"), "/work/shared/data"):
        if candidate and (Path(candidate) / DATASET / "artists.dat").is_file():
            return Path(candidate)
    return None


def _field(line: bytes, i: int) -> bytes:
    return line.split(b"\t")[i]


@pytest.fixture(scope="session")
def hetrec_source() -> dict[str, list[bytes]]:
    """Truncated raw files as byte lines (header first, no line ends), plus ``genre.csv`` bytes.

    ``user_artists.dat`` and ``user_taggedartists.dat`` keep only rows whose
    artist is among the kept artists, so a clean copy quarantines nothing.
    """
    root = _source_root()
    if root is None:
        pytest.skip("the HetRec 2011 mirror is not available")
    raw = root / DATASET

    def lines(name: str) -> list[bytes]:
        return (raw / name).read_bytes().splitlines()

    artists = lines("artists.dat")[: KEEP + 1]
    artist_ids = {_field(x, 0) for x in artists[1:]}
    tags = lines("tags.dat")
    tag_ids = {_field(x, 0) for x in tags[1:]}
    plays = lines("user_artists.dat")
    taggings = lines("user_taggedartists.dat")
    return {
        "artists.dat": artists,
        "tags.dat": tags,
        "user_artists.dat": plays[:1] + [x for x in plays[1:] if _field(x, 1) in artist_ids][:KEEP],
        "user_friends.dat": lines("user_friends.dat")[: KEEP + 1],
        "user_taggedartists.dat": taggings[:1]
        + [x for x in taggings[1:] if _field(x, 1) in artist_ids and _field(x, 2) in tag_ids][
            :KEEP
        ],
        "genre.csv": [(root / GENRES / "genre.csv").read_bytes()],
    }


@dataclass
class Mirror:
    """A writable mirror: ``root`` is what LINERNOTES_DATA_MIRROR names, ``folder`` the dataset."""

    root: Path
    cache: Path

    @property
    def folder(self) -> Path:
        return self.root / DATASET

    def lines(self, name: str) -> list[bytes]:
        """A raw file's lines as bytes (header is index 0, i.e. file line ``i + 1``)."""
        return (self.folder / name).read_bytes().splitlines()

    def write(self, name: str, lines: list[bytes]) -> None:
        (self.folder / name).write_bytes(b"".join(x + b"\n" for x in lines))


@pytest.fixture(scope="session")
def make_hetrec_mirror(hetrec_source):
    """A function writing a fresh truncated mirror (dataset and genres) into a folder."""

    def make(root: Path, cache: Path) -> Mirror:
        m = Mirror(root, cache)
        m.folder.mkdir(parents=True)
        for name, lines in hetrec_source.items():
            if name.endswith(".dat"):
                m.write(name, lines)
        (root / GENRES).mkdir()
        (root / GENRES / "genre.csv").write_bytes(hetrec_source["genre.csv"][0])
        return m

    return make


@pytest.fixture
def hetrec_mirror(tmp_path, monkeypatch, make_hetrec_mirror) -> Mirror:
    """A fresh truncated mirror in ``tmp_path``; the environment points at it and a fresh cache."""
    m = make_hetrec_mirror(tmp_path / "mirror", tmp_path / "cache")
    monkeypatch.setenv("LINERNOTES_DATA_MIRROR", str(m.root))
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(m.cache))
    return m
