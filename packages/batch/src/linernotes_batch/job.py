"""A batch job: which jobs, which run, what is done, and the executor for the rest.

A job is a listener, or a listener in a context, named by its job id
(:mod:`linernotes_batch.listeners`); a plain file of ids asks for one job per listener.
Layout of a run (``OUT/<run_id>/``)::

    manifest.json          run id, config id and config, job count and hash
    listeners.txt          the job ids asked for, one per line
    part-<hash>.parquet    result shards: one row per job (linernotes_batch.rows)
    dead_letter/part-<hash>.parquet
                           jobs that failed: job, listener, stage, error
    pending/jobs-*.parquet (beam) the jobs its last invocation had left: its source

Every file is written atomically. A job is done when it is in a result or a
dead-letter shard; a rerun of the same run skips the done jobs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from linernotes.errors import ConfigError, DataError

from .batches import DEAD_LETTER, Counts
from .executors import executor_params
from .listeners import read_jobs
from .store import Store

MANIFEST = "manifest.json"
LISTENERS = "listeners.txt"
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass
class Plan:
    """A run ready to execute: its folder, config and the jobs still to do (``listeners``
    are the job ids asked for: listener ids, for a plain file of ids)."""

    run_id: str
    store: Store
    cfg: object
    overrides: list[str]
    config_id: str
    model: str | None
    listeners: list[str]
    done: set[str]

    @property
    def pending(self) -> list[str]:
        """The jobs asked for that are in no shard yet, in the order asked."""
        return [i for i in self.listeners if i not in self.done]


@dataclass
class RunReport:
    """What one invocation did: jobs asked for, skipped as already done, processed."""

    run_id: str
    path: str
    executor: str
    requested: int
    skipped: int
    processed: int
    seconds: float
    counts: Counts = field(default_factory=Counts)

    @property
    def listeners_per_second(self) -> float:
        return self.processed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "path": self.path,
            "executor": self.executor,
            "requested": self.requested,
            "skipped": self.skipped,
            "processed": self.processed,
            "seconds": round(self.seconds, 3),
            "listeners_per_second": round(self.listeners_per_second, 3),
            "counters": dataclasses.asdict(self.counts),
        }


def plan_run(
    cfg,
    overrides: Sequence[str],
    listeners: str | Path,
    out: str,
    run_id: str | None = None,
    progress: bool = False,
) -> Plan:
    """Pick the jobs (``"all"`` listeners, or a listeners file: ids, CSV or JSONL), open the
    run folder of the composed config ``cfg`` (from ``overrides``) and find what is done.

    The run id defaults to ``<config id>-<hash of the job set>``, so the same config on
    the same jobs is the same run, whichever executor runs it. A run folder made by
    another config or for other jobs is a :class:`ConfigError`.
    """
    from linernotes.config import config_id
    from omegaconf import OmegaConf

    if str(listeners) == "all":
        from linernotes.datasets import load_catalog

        ids = list(load_catalog(cfg.dataset, progress=progress).listener_ids)
    else:
        ids = read_jobs(Path(listeners))
    cid = config_id(cfg)
    digest = hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()
    run_id = run_id or f"{cid}-{digest[:8]}"
    if not RUN_ID.match(run_id):
        raise ConfigError(
            f"bad run id {run_id!r}: use letters, digits, '.', '_' and '-' (at most 100)"
        )
    store = Store(out).child(run_id)
    _open_run(store, run_id, cid, digest, ids, OmegaConf.to_container(cfg))
    store.remove_tmp()
    store.child(DEAD_LETTER).remove_tmp()
    return Plan(
        run_id=run_id,
        store=store,
        cfg=cfg,
        overrides=list(overrides),
        config_id=cid,
        model=OmegaConf.select(cfg, "generator.params.model", default=None),
        listeners=ids,
        done=done_jobs(store),
    )


def _open_run(store: Store, run_id, cid, digest, ids, config) -> None:
    """Check the run folder's manifest against this run, or start the run: write its
    listeners, then its manifest."""
    raw = store.read_bytes(MANIFEST)
    if raw is not None:
        manifest = json.loads(raw)
        if manifest["config_id"] != cid:
            raise ConfigError(
                f"run '{run_id}' in {store.uri} was made with config {manifest['config_id']}, "
                f"not {cid}; choose another --run-id or --out"
            )
        if manifest["listeners_sha256"] != digest:
            raise ConfigError(
                f"run '{run_id}' in {store.uri} was asked for another set of "
                f"{manifest['listeners']} listeners; choose another --run-id or --out"
            )
        return
    store.write_bytes(LISTENERS, ("\n".join(ids) + "\n").encode())
    store.write_bytes(
        MANIFEST,
        json.dumps(
            {
                "run_id": run_id,
                "config_id": cid,
                "listeners": len(ids),
                "listeners_sha256": digest,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "config": config,
            },
            indent=2,
        ).encode(),
    )


def done_jobs(store: Store) -> set[str]:
    """Job ids already in a result or dead-letter shard of the run folder ``store``."""
    from .rows import dead_letter_schema, result_schema

    done = set(store.read_table(result_schema(), ["job"]).column("job").to_pylist())
    dead = store.child(DEAD_LETTER).read_table(dead_letter_schema(), ["job"])
    return done | set(dead.column("job").to_pylist())


def requested_listeners(store: Store) -> list[str]:
    """The job ids a run asked for (its ``listeners.txt``)."""
    raw = store.read_bytes(LISTENERS)
    if raw is None:
        raise DataError(f"{store.uri} is not a batch run folder (no {LISTENERS})")
    return [line for line in raw.decode().splitlines() if line]


def run_batch(
    overrides: Sequence[str] = (),
    listeners: str | Path = "all",
    out: str = "stories",
    run_id: str | None = None,
    progress: bool = True,
) -> RunReport:
    """Write a story (or a dead-letter entry) for every job not yet done in the run.

    ``listeners`` is ``"all"`` (every listener of the catalog) or a listeners file: ids,
    or a CSV or JSONL file of listeners with contexts (:func:`~.listeners.read_jobs`);
    the ``executor`` config group (``local`` or ``beam``) says how the work runs.
    """
    from linernotes.config import compose

    cfg = compose(list(overrides))
    name, params = cfg.executor.component, executor_params(cfg.executor)
    if name == "beam":
        from .beam import pipeline_options

        pipeline_options(params)  # bad options fail here, before the run folder is made
    plan = plan_run(cfg, overrides, listeners, out, run_id, progress)
    pending = plan.pending
    start = time.perf_counter()
    counts = Counts()
    if pending:
        if name == "beam":
            from .beam import run_beam

            counts = run_beam(plan, params)
        else:
            from .local import run_local

            counts = run_local(plan, params, progress)
    return RunReport(
        run_id=plan.run_id,
        path=plan.store.uri,
        executor=name,
        requested=len(plan.listeners),
        skipped=len(plan.listeners) - len(pending),
        processed=len(pending),
        seconds=time.perf_counter() - start,
        counts=counts,
    )
