"""The story store: finished results, keyed by listener, context, k and config id.

A request whose key is stored is answered from the store without running the
pipeline; results made on demand are written back. :class:`StoryStore` is the
interface (a Redis or Bigtable store only needs ``get`` and ``put``);
:class:`SQLiteStoryStore` is the embedded default.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from linernotes import Context


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


def normalize_context(context: Context) -> Context:
    """The context with its free-text fields lower-cased, spaces collapsed, empty ones None."""

    def norm(text: str | None) -> str | None:
        return " ".join((text or "").split()).lower() or None

    return Context(norm(context.time), norm(context.mood), norm(context.activity), context.seed)


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
        with self._connection() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS stories (key TEXT PRIMARY KEY, config_id TEXT, "
                "listener TEXT, context TEXT, k INTEGER, result TEXT, updated REAL)"
            )

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not be shared across threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=self.timeout)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
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
