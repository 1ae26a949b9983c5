"""The SQLite story store: keys, round trips, and concurrent writers."""

from __future__ import annotations

import subprocess
import sys
import threading

from linernotes import Context
from linernotes_serve import SQLiteStoryStore, StoryStore, story_key

WRITER = """
import sys
from linernotes import Context
from linernotes_serve import SQLiteStoryStore, story_key
store = SQLiteStoryStore(sys.argv[1])
for n in range(100):
    store.put(story_key("cfg", f"{sys.argv[2]}-{n}", Context(), 10), "{}")
"""


def test_keys_normalise_the_context():
    a = story_key("cfg", "2", Context(mood="  Late   Night ", activity=""), 10)
    b = story_key("cfg", "2", Context(mood="late night"), 10)
    assert a == b and a.digest == b.digest
    assert a.mood == "late night" and a.activity is None
    for other in (
        story_key("cfg2", "2", Context(mood="late night"), 10),
        story_key("cfg", "3", Context(mood="late night"), 10),
        story_key("cfg", "2", Context(mood="late night"), 5),
        story_key("cfg", "2", Context(time="late night"), 10),
        story_key("cfg", "2", Context(mood="late night", seed="7"), 10),
    ):
        assert other.digest != a.digest


def test_put_get_replace(tmp_path):
    store = SQLiteStoryStore(tmp_path / "deep" / "stories.sqlite")
    assert isinstance(store, StoryStore)
    key = story_key("cfg", "2", Context(mood="calm"), 10)
    assert store.get(key) is None
    store.put(key, '{"story": 1}')
    store.put(key, '{"story": 2}')
    assert store.get(key) == '{"story": 2}'
    assert len(store) == 1
    assert SQLiteStoryStore(tmp_path / "deep" / "stories.sqlite").get(key) == '{"story": 2}'


def test_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "stories.sqlite"
    store = SQLiteStoryStore(path)
    processes = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"p{n}"]) for n in range(2)
    ]

    def write(name: str) -> None:
        for n in range(100):
            store.put(story_key("cfg", f"{name}-{n}", Context(), 10), "{}")

    threads = [threading.Thread(target=write, args=(f"t{n}",)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.wait(60) for p in processes] == [0, 0]
    assert len(store) == 500
    assert store.get(story_key("cfg", "p1-99", Context(), 10)) == "{}"
