"""A run's folder on any filesystem pyarrow opens, with atomic writes.

A local path, or a ``file://``, ``gs://``, ``s3://`` or ``hdfs://`` URI. Every
write goes to a temporary file in the same folder, then is renamed into place:
a reader (or a resumed run) sees a whole file or none, never half of one.
"""

from __future__ import annotations

import uuid
from pathlib import Path

TMP = ".tmp-"


class Store:
    """One folder; names are file names inside it (``child`` opens a subfolder)."""

    def __init__(self, uri: str):
        from pyarrow import fs

        if "://" in uri:
            self.uri = uri.rstrip("/")
            self.fs, self.root = fs.FileSystem.from_uri(self.uri)
        else:
            self.uri = str(Path(uri).resolve())
            self.fs, self.root = fs.LocalFileSystem(), self.uri

    def child(self, name: str) -> Store:
        """The subfolder ``name``."""
        return Store(f"{self.uri}/{name}")

    def path(self, name: str) -> str:
        """The filesystem path of file ``name``."""
        return f"{self.root}/{name}"

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write file ``name`` atomically (temporary file, then rename), replacing it if present."""
        self.fs.create_dir(self.root, recursive=True)
        tmp = self.path(f"{TMP}{uuid.uuid4().hex}-{name}")
        with self.fs.open_output_stream(tmp) as out:
            out.write(data)
        self.fs.move(tmp, self.path(name))

    def write_table(self, name: str, table) -> None:
        """Write a pyarrow table as the Parquet file ``name``, atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        self.write_bytes(name, sink.getvalue().to_pybytes())

    def read_bytes(self, name: str) -> bytes | None:
        """The contents of file ``name``, or None if it does not exist."""
        from pyarrow import fs

        if self.fs.get_file_info(self.path(name)).type != fs.FileType.File:
            return None
        with self.fs.open_input_stream(self.path(name)) as f:
            return f.read()

    def _entries(self):
        """The folder's entries (none if it does not exist)."""
        from pyarrow import fs

        if self.fs.get_file_info(self.root).type != fs.FileType.Directory:
            return []
        return self.fs.get_file_info(fs.FileSelector(self.root))

    def files(self, suffix: str = ".parquet") -> list[str]:
        """Names of the finished files ending in ``suffix``, sorted (temporary files left out)."""
        from pyarrow import fs

        names = (i.base_name for i in self._entries() if i.type == fs.FileType.File)
        return sorted(n for n in names if n.endswith(suffix) and not n.startswith(TMP))

    def folders(self) -> list[str]:
        """Names of the subfolders, sorted."""
        from pyarrow import fs

        return sorted(i.base_name for i in self._entries() if i.type == fs.FileType.Directory)

    def read_table(self, schema, columns: list[str] | None = None):
        """Every finished Parquet file of the folder as one pyarrow table of ``schema``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        names = self.files()
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        if not names:
            return schema.empty_table()
        return pq.read_table(
            [self.path(n) for n in names], filesystem=self.fs, schema=schema, columns=columns
        )

    def clear(self) -> None:
        """Delete every file and subfolder of the folder (if it exists)."""
        self.fs.delete_dir_contents(self.root, missing_dir_ok=True)

    def remove_tmp(self) -> int:
        """Delete temporary files a killed writer left behind; returns how many."""
        stale = [i.path for i in self._entries() if i.base_name.startswith(TMP)]
        for path in stale:
            self.fs.delete_file(path)
        return len(stale)
