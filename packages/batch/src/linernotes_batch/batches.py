"""One batch of jobs through the pipeline, with failures isolated, and its Parquet shards.

Both executors use these: the local one in a loop, the Beam one in its DoFns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass

from linernotes import Request, hookimpl

from .listeners import parse_job
from .rows import dead_letter_schema, dead_row, result_row, result_schema, to_table
from .store import Store

DEAD_LETTER = "dead_letter"
"""The run folder's subfolder of dead-letter shards."""


@dataclass
class Counts:
    """What a batch (or a run) produced: the Beam counters, and the local executor's tally."""

    stories: int = 0
    fallbacks: int = 0
    blocked_drafts: int = 0
    failures: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(a + b for a, b in zip(self.values(), other.values(), strict=True)))

    def values(self) -> tuple[int, ...]:
        return dataclasses.astuple(self)


@dataclass
class BatchOutput:
    """Result rows, dead-letter rows and counts of one batch."""

    rows: list[dict]
    dead: list[dict]
    counts: Counts


class StageErrors:
    """A plugin that remembers, per thread, the stage of the last pipeline error
    (``on_stage_error``), for errors that do not name their stage themselves."""

    name = "linernotes-batch-stage-errors"

    def __init__(self):
        self._local = threading.local()

    @hookimpl
    def on_stage_error(self, stage, requests, error):
        self._local.stage = stage

    def take(self) -> str | None:
        """The stage of the last error in this thread since the last call, if any."""
        stage, self._local.stage = getattr(self._local, "stage", None), None
        return stage


_register_lock = threading.Lock()


def stage_errors() -> StageErrors:
    """The process's :class:`StageErrors` plugin, registered on first use."""
    from linernotes.plugins import get_plugin_manager, register_plugin

    with _register_lock:
        plugin = get_plugin_manager().get_plugin(StageErrors.name)
        if plugin is None:
            plugin = StageErrors()
            register_plugin(plugin, name=StageErrors.name)
        return plugin


class Storyteller:
    """Runs a built pipeline on batches of job ids (a listener id, or a listener in a
    context: :mod:`linernotes_batch.listeners`).

    A batch runs as one pipeline call. If that call raises (a stage failed, or a
    listener id or seed is unknown), the batch runs again one job at a time, and each
    job that still fails becomes a dead-letter row naming its stage: the failing
    stage, or ``request`` when the request itself could not be resolved.
    """

    def __init__(self, pipeline, run_id: str, model: str | None):
        self.pipeline = pipeline
        self.run_id = run_id
        self.model = model
        self.stages = stage_errors()

    def tell(self, jobs: list[str]) -> BatchOutput:
        """Stories for ``jobs``: every one becomes a result row or a dead-letter row."""
        if len(jobs) > 1:
            try:
                results = self.pipeline.run([self.request(j) for j in jobs])
            except Exception:
                pass  # isolate the failing jobs below
            else:
                rows = [
                    result_row(r, j, self.run_id, self.model, len(jobs))
                    for r, j in zip(results, jobs, strict=True)
                ]
                return _output(rows, [])
        rows, dead = [], []
        for job in jobs:
            self.stages.take()
            try:
                (result,) = self.pipeline.run([self.request(job)])
            except Exception as e:
                stage = getattr(e, "stage", None) or self.stages.take() or "request"
                dead.append(dead_row(self.run_id, job, stage, e))
            else:
                rows.append(result_row(result, job, self.run_id, self.model, 1))
        return _output(rows, dead)

    def request(self, job: str) -> Request:
        """The pipeline's request for ``job``, built as the server builds it (the seed, an
        artist name, resolved to an item id)."""
        listener, c = parse_job(job)
        return self.pipeline.request(
            listener=listener, time=c.time, mood=c.mood, activity=c.activity, seed=c.seed
        )


def _output(rows: list[dict], dead: list[dict]) -> BatchOutput:
    counts = Counts(
        stories=sum(r["story"] is not None for r in rows),
        fallbacks=sum(bool(r["fallback"]) for r in rows),
        blocked_drafts=sum(r["blocked_drafts"] for r in rows),
        failures=len(dead),
    )
    return BatchOutput(rows, dead, counts)


def shard_name(jobs) -> str:
    """A shard's file name: a hash of its sorted job ids, so a rewrite replaces it."""
    key = "\n".join(sorted(jobs)).encode()
    return f"part-{hashlib.sha256(key).hexdigest()[:16]}.parquet"


def write_results(store: Store, rows: list[dict]) -> None:
    """Write result rows as one atomic shard of the run folder ``store``."""
    if rows:
        table = to_table(rows, result_schema())
        store.write_table(shard_name(r["job"] for r in rows), table)


def write_dead_letter(store: Store, rows: list[dict]) -> None:
    """Write dead-letter rows as one atomic shard of the run's dead-letter folder."""
    if rows:
        table = to_table(rows, dead_letter_schema())
        store.child(DEAD_LETTER).write_table(shard_name(r["job"] for r in rows), table)
