"""The story store: finished results, keyed by listener, context, k and config id.

A request whose key is stored is answered from the store without running the
pipeline; results made on demand are written back. :class:`StoryStore` is the
interface (a Redis or Bigtable store only needs ``get`` and ``put``);
:class:`SQLiteStoryStore` is the embedded default. :func:`load_stories` fills a
store with the stories a ``linernotes batch`` run precomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from linernotes import Context, DataError
from linernotes.types import normalize_context

log = logging.getLogger("linernotes.serve")


@dataclass(frozen=True)
class StoryKey:
    """What a stored story answers: a catalog listener in a context, ``k`` picks, one config.

    Build it with :func:`story_key`, which normalises the context.
    """

    config_id: str
    listener: str
    time: str | None
    mood: str | None
    activity: str | None
    seed: str | None
    k: int

    @property
    def digest(self) -> str:
        """A stable 32-hex-digit id of the key."""
        return hashlib.sha256(json.dumps(astuple(self)).encode()).hexdigest()[:32]


def story_key(config_id: str, listener: str, context: Context, k: int) -> StoryKey:
    """The store key of a request for catalog ``listener`` (its context is normalised)."""
    c = normalize_context(context)
    return StoryKey(config_id, listener, c.time, c.mood, c.activity, c.seed, k)


@runtime_checkable
class StoryStore(Protocol):
    """Where finished results live: the JSON text of ``to_json(result)`` by :class:`StoryKey`.

    Implementations must be safe to call from several threads at once.
    """

    def get(self, key: StoryKey) -> str | None:
        """The stored result JSON for ``key``, or None."""
        ...

    def put(self, key: StoryKey, result_json: str) -> None:
        """Store (or replace) the result JSON for ``key``."""
        ...


class SQLiteStoryStore:
    """A :class:`StoryStore` in one SQLite file (WAL mode: readers never wait for a writer;
    concurrent writers, in this process or others, wait up to ``timeout`` seconds)."""

    def __init__(self, path: str | Path, timeout: float = 10.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[sqlite3.Connection] = []
        with self._connection() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS stories (key TEXT PRIMARY KEY, config_id TEXT, "
                "listener TEXT, context TEXT, k INTEGER, result TEXT, updated REAL)"
            )

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (a connection is used by one thread only; :meth:`close`
        closes them all from whichever thread calls it)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            with self._lock:
                self._local.db = db
                self._open.append(db)
        return db

    def get(self, key: StoryKey) -> str | None:
        row = (
            self._connection()
            .execute("SELECT result FROM stories WHERE key = ?", (key.digest,))
            .fetchone()
        )
        return row[0] if row else None

    def put(self, key: StoryKey, result_json: str) -> None:
        context = json.dumps([key.time, key.mood, key.activity, key.seed])
        with self._connection() as db:  # one transaction, committed on exit
            db.execute(
                "INSERT OR REPLACE INTO stories VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key.digest, key.config_id, key.listener, context, key.k, result_json, time.time()),
            )

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM stories").fetchone()[0]

    def close(self) -> None:
        """Close every thread's connection, so that the write-ahead log is folded into the
        file; call it when no request is running. A later call opens new connections."""
        with self._lock:
            connections, self._open = self._open, []
            self._local = threading.local()
        for db in connections:
            db.close()


@dataclass
class Loaded:
    """What :func:`load_stories` did: rows stored, and rows skipped because another config
    made them or they hold no story."""

    loaded: int = 0
    other_config: int = 0
    no_story: int = 0

    def __str__(self) -> str:
        return (
            f"loaded {self.loaded} stories, skipped {self.other_config} from another config "
            f"and {self.no_story} without a story"
        )


BATCH_COLUMNS = ("listener", "context", "k", "config_id", "story", "result")
"""The columns of a ``linernotes batch`` result row that :func:`load_stories` reads."""


def load_stories(store: StoryStore, folder: str | Path, config_id: str) -> Loaded:
    """Put the results of a ``linernotes batch`` output into ``store``, keyed as the server
    keys a request (:func:`story_key`: listener, context, ``k``, config id).

    ``folder`` is a run folder (it holds ``manifest.json``) or an ``--out`` folder of
    runs. Only rows made by ``config_id`` (the serving pipeline's) are stored, and only
    those with a story, as the server stores what it makes; the others are counted.
    Logs one line with the counts.
    """
    import polars as pl

    folder = Path(folder)
    runs = (
        [folder]
        if (folder / "manifest.json").is_file()
        else sorted(p.parent for p in folder.glob("*/manifest.json"))
    )
    if not runs:
        raise DataError(f"no batch run in {folder} (a run folder holds manifest.json)")
    done = Loaded()
    for shard in (s for run in runs for s in sorted(run.glob("part-*.parquet"))):
        missing = [c for c in BATCH_COLUMNS if c not in pl.read_parquet_schema(shard)]
        if missing:
            raise DataError(
                f"{shard} has no '{missing[0]}' column (an older linernotes batch wrote it); "
                "run the batch again"
            )
        rows = pl.read_parquet(shard, columns=list(BATCH_COLUMNS))
        for row in rows.iter_rows(named=True):
            if row["config_id"] != config_id:
                done.other_config += 1
            elif row["story"] is None:
                done.no_story += 1
            else:
                key = story_key(config_id, row["listener"], Context(**row["context"]), row["k"])
                store.put(key, row["result"])
                done.loaded += 1
    log.info("stories from %s: %s (config %s)", folder, done, config_id)
    return done
