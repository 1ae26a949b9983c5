"""The content-keyed catalog cache, and where raw files come from (mirror or download)."""

from __future__ import annotations

import functools
import os
import re
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from linernotes.catalog import Catalog
from linernotes.datasets import content_key, prepare
from linernotes.datasets.hetrec import SPECS, HetRec2011
from linernotes.errors import DataError

DATASET = HetRec2011.name
OLD = 1_000_000_000  # an mtime (2001) no build can produce


def build(dataset: HetRec2011 | None = None, force: bool = False) -> Path:
    return prepare(dataset or HetRec2011(), force=force, progress=False)


def age(path: Path) -> None:
    """Back-date a file, so a rewrite shows whatever the file system's mtime resolution."""
    os.utime(path, (OLD, OLD))


# -- the cache key -------------------------------------------------------------------------


def test_unchanged_sources_reuse_the_bundle(hetrec_mirror):
    first = build()
    manifest = first / "manifest.json"
    age(manifest)
    (first / "marker").write_text("still here")

    again = build()

    assert again == first
    assert manifest.stat().st_mtime == OLD
    assert (again / "marker").is_file()
    assert [p.name for p in first.parent.iterdir()] == [first.name]


def test_changed_source_gets_a_new_bundle(hetrec_mirror):
    first = build()
    plays = hetrec_mirror.lines("user_artists.dat")
    user, artist, count = plays[1].split(b"\t")
    plays[1] = b"\t".join([user, artist, str(int(count) + 1).encode()])  # one more play
    hetrec_mirror.write("user_artists.dat", plays)

    second = build()

    assert second != first
    assert second.parent == first.parent
    assert (first / "manifest.json").is_file()  # the old bundle is left alone
    assert Catalog(second).history(user.decode())[artist.decode()] == int(count) + 1
    assert Catalog(first).history(user.decode())[artist.decode()] == int(count)


def test_changed_genres_or_parameters_get_a_new_bundle(hetrec_mirror):
    first = build()
    genres = hetrec_mirror.root / "musicbrainz-genres" / "genre.csv"
    genres.write_bytes(genres.read_bytes() + b"x,made-up genre,,\n")
    second = build()
    third = build(HetRec2011(tags_per_item=1))
    assert len({first, second, third}) == 3


def test_reverting_a_change_finds_the_first_bundle(hetrec_mirror):
    original = hetrec_mirror.lines("user_friends.dat")
    first = build()
    hetrec_mirror.write("user_friends.dat", original[:-1])
    assert build() != first
    hetrec_mirror.write("user_friends.dat", original)
    age(first / "manifest.json")
    assert build() == first
    assert (first / "manifest.json").stat().st_mtime == OLD


def test_force_rebuilds_in_place(hetrec_mirror):
    first = build()
    age(first / "manifest.json")
    (first / "marker").write_text("gone after a rebuild")

    again = build(force=True)

    assert again == first
    assert (again / "manifest.json").stat().st_mtime > OLD
    assert not (again / "marker").exists()
    assert Catalog(again).items.height == 2000
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no leftover build folder


def test_content_key_reads_bytes_and_skips_dotfiles(tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.dat").write_bytes(b"x\ty\n1\t2\n")
    key = content_key("1", {"src": folder})
    (folder / ".complete").write_text("http://example.invalid/a.zip")
    assert content_key("1", {"src": folder}) == key
    assert content_key("2", {"src": folder}) != key
    assert content_key("1", {"src": folder}, {"k": 3}) != key
    (folder / "a.dat").write_bytes(b"x\ty\n1\t3\n")
    assert content_key("1", {"src": folder}) != key


# -- the download path ---------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    requests: list[str]

    def do_GET(self):  # noqa: N802 (the http.server name)
        self.requests.append(self.path)
        super().do_GET()

    def log_message(self, format, *args):  # noqa: A002
        pass


@pytest.fixture
def server(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path/www``; yields (base URL, requests)."""
    www = tmp_path / "www"
    www.mkdir()
    requests: list[str] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www, requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def offline_cache(tmp_path, monkeypatch) -> Path:
    """No mirror: raw files must be downloaded into a fresh cache."""
    monkeypatch.delenv("LINERNOTES_DATA_MIRROR", raising=False)
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):  # reach 127.0.0.1 directly
        monkeypatch.delenv(proxy, raising=False)
        monkeypatch.delenv(proxy.lower(), raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(cache))
    return cache


def _zip(path: Path, files: dict[str, list[bytes]], top: str) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, lines in files.items():
            if name.endswith(".dat"):
                z.writestr(top + name, b"".join(x + b"\n" for x in lines))


@pytest.mark.parametrize("top", [f"{DATASET}/", ""], ids=["top-folder", "flat"])
def test_download_extracts_and_caches_raw_files(server, offline_cache, hetrec_source, top):
    base, www, requests = server
    _zip(www / f"{DATASET}.zip", hetrec_source, top)
    (www / "genre.csv").write_bytes(hetrec_source["genre.csv"][0])
    dataset = HetRec2011(url=f"{base}/{DATASET}.zip", genres_url=f"{base}/genre.csv")

    bundle = build(dataset)

    catalog = Catalog(bundle)
    assert catalog.items.height == len(hetrec_source["artists.dat"]) - 1 == 2000
    assert catalog.quarantine.height == 0
    assert sorted(requests) == sorted([f"/{DATASET}.zip", "/genre.csv"])
    raw = offline_cache / "raw" / DATASET
    for spec in SPECS:
        assert (raw / top / spec.filename).read_bytes().splitlines() == hetrec_source[spec.filename]
    assert not list(raw.rglob("*.zip"))  # extracted, then deleted
    assert (raw / ".complete").read_text() == dataset.url
    genres = offline_cache / "raw" / "musicbrainz-genres"
    assert (genres / "genre.csv").read_bytes() == hetrec_source["genre.csv"][0]
    assert (genres / ".complete").read_text() == dataset.genres_url
    assert not list((offline_cache / "raw").glob("*.partial"))
    assert bundle.parent == offline_cache / "catalogs" / DATASET

    assert build(dataset) == bundle
    assert len(requests) == 2  # the second prepare did not download again


def test_download_404_raises_and_leaves_nothing(server, offline_cache):
    base, _, requests = server
    url = f"{base}/missing/{DATASET}.zip"
    with pytest.raises(DataError, match=re.escape(f"could not download {url}")) as e:
        build(HetRec2011(url=url, genres_url=f"{base}/genre.csv"))
    assert "404" in str(e.value)
    assert "LINERNOTES_DATA_MIRROR" in str(e.value)
    assert requests == [f"/missing/{DATASET}.zip"]
    raw = offline_cache / "raw"
    assert not (raw / DATASET).exists()
    assert not (raw / f"{DATASET}.partial").exists()
    assert not (offline_cache / "catalogs").exists()


def test_failed_genres_download_keeps_the_good_dataset(server, offline_cache, hetrec_source):
    base, www, requests = server
    _zip(www / f"{DATASET}.zip", hetrec_source, "")
    dataset = HetRec2011(url=f"{base}/{DATASET}.zip", genres_url=f"{base}/genre.csv")
    with pytest.raises(DataError, match=re.escape(f"could not download {base}/genre.csv")):
        build(dataset)
    raw = offline_cache / "raw"
    assert sorted(p.name for p in raw.iterdir()) == [DATASET]
    # once the genres are there, only they are downloaded
    (www / "genre.csv").write_bytes(hetrec_source["genre.csv"][0])
    assert Catalog(build(dataset)).items.height == 2000
    assert requests == [f"/{DATASET}.zip", "/genre.csv", "/genre.csv"]


def test_download_that_is_not_the_dataset_raises(server, offline_cache):
    base, www, _ = server
    (www / "page.html").write_text("<html>not a zip</html>")
    with pytest.raises(DataError, match=r"dataset 'hetrec2011-lastfm-2k' lacks artists\.dat"):
        build(HetRec2011(url=f"{base}/page.html", genres_url=f"{base}/genre.csv"))


# -- the mirror ----------------------------------------------------------------------------


def test_mirror_without_the_dataset_raises_naming_the_folder(tmp_path, monkeypatch):
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    monkeypatch.setenv("LINERNOTES_DATA_MIRROR", str(empty))
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path / "cache"))
    message = f"LINERNOTES_DATA_MIRROR={empty} has no folder '{DATASET}'"
    with pytest.raises(DataError, match=re.escape(message)):
        build()
    assert not (tmp_path / "cache").exists()  # nothing downloaded instead


def test_mirror_lacking_a_file_raises_naming_it(hetrec_mirror):
    (hetrec_mirror.folder / "tags.dat").unlink()
    message = f"{hetrec_mirror.folder}: dataset '{DATASET}' lacks tags.dat"
    with pytest.raises(DataError, match=re.escape(message)):
        build()


def test_mirror_without_genres_raises(hetrec_mirror):
    (hetrec_mirror.root / "musicbrainz-genres" / "genre.csv").unlink()
    with pytest.raises(DataError, match=r"dataset 'musicbrainz-genres' lacks genre\.csv"):
        build()
