"""Run folders on pyarrow filesystems: atomic writes, temporary files never read."""

import pyarrow as pa
from linernotes_batch.store import TMP, Store

SCHEMA = pa.schema([("listener", pa.string()), ("n", pa.int64())])


def test_tables_are_written_whole_and_read_back_together(tmp_path):
    store = Store(str(tmp_path / "run"))
    store.write_table("a.parquet", pa.table({"listener": ["1", "2"], "n": [1, 2]}, schema=SCHEMA))
    store.write_table("b.parquet", pa.table({"listener": ["3"], "n": [3]}, schema=SCHEMA))
    assert store.files() == ["a.parquet", "b.parquet"]
    assert store.read_table(SCHEMA, ["listener"]).column("listener").to_pylist() == ["1", "2", "3"]
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(TMP)]


def test_a_rewrite_replaces_the_file(tmp_path):
    store = Store(str(tmp_path))
    store.write_bytes("x.txt", b"one")
    store.write_bytes("x.txt", b"two")
    assert store.read_bytes("x.txt") == b"two"
    assert store.read_bytes("missing.txt") is None


def test_a_killed_writers_temporary_file_is_ignored_then_removed(tmp_path):
    store = Store(str(tmp_path))
    store.write_table("a.parquet", pa.table({"listener": ["1"], "n": [1]}, schema=SCHEMA))
    (tmp_path / f"{TMP}dead-b.parquet").write_bytes(b"PAR1 half a file")
    assert store.files() == ["a.parquet"]
    assert store.read_table(SCHEMA).num_rows == 1
    assert store.remove_tmp() == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet"]


def test_a_missing_folder_is_empty(tmp_path):
    store = Store(str(tmp_path / "nothing"))
    assert store.files() == [] and store.folders() == []
    assert store.read_table(SCHEMA).num_rows == 0
    assert store.remove_tmp() == 0


def test_file_uris_and_subfolders(tmp_path):
    Store(str(tmp_path)).child("sub").write_bytes("x.parquet", b"data")
    store = Store(tmp_path.as_uri())
    assert store.folders() == ["sub"]
    assert store.child("sub").files() == ["x.parquet"]
    assert store.child("sub").read_bytes("x.parquet") == b"data"
