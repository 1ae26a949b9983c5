"""Batch tests: a re-ranker that fails for chosen listeners, listener files, exactly-once checks."""

from pathlib import Path

import pytest
from linernotes import DataError, hookimpl
from linernotes.plugins import register_plugin, unregister_plugin
from linernotes_batch import read_dead_letter, read_results

ERRORS = {"ValueError": ValueError, "DataError": DataError}


class FailFor:
    """A re-ranker that raises ``error`` when a batch holds one of ``listeners``
    (comma-separated ids); otherwise it keeps the ranking."""

    name = "fail_for"

    def __init__(self, listeners: str = "", error: str = "ValueError"):
        self.listeners = set(listeners.split(","))
        self.error = ERRORS[error]

    def fit(self, catalog):
        pass

    def rank(self, requests, candidates):
        bad = [r.listener.id for r in requests if r.listener.id in self.listeners]
        if bad:
            raise self.error(f"cannot rank for {bad[0]}")
        return [list(c) for c in candidates]


class FailForPlugin:
    @hookimpl
    def register_rankers(self, register):
        register(FailFor)


@pytest.fixture(scope="module")
def fail_for():
    """Registers ``fail_for``; use it with :func:`fail_override` (in-process runs only)."""
    register_plugin(FailForPlugin(), name="batch-test-fail-for")
    yield
    unregister_plugin("batch-test-fail-for")


def fail_override(listeners: str, error: str = "ValueError") -> str:
    """The override that adds the ``fail_for`` re-ranker."""
    params = f"{{listeners: '{listeners}', error: {error}}}"
    return f"+rerankers.fail={{component: fail_for, params: {params}}}"


@pytest.fixture(scope="session")
def mirror_ids(pipeline):
    """The mirror's listener ids (the session pipeline also warms the shared cache)."""
    return list(pipeline.catalog.listener_ids)


def write_ids(path: Path, ids) -> Path:
    path.write_text("# listeners\n" + "\n".join(ids) + "\n")
    return path


def assert_exactly_once(run: str, requested) -> tuple:
    """Every job of ``requested`` (listener ids, for a plain file) is in the results or the
    dead letter, once; returns both."""
    results, dead = read_results(run), read_dead_letter(run)
    seen = results["job"].to_list() + dead["job"].to_list()
    assert sorted(seen) == sorted(requested)
    return results, dead
