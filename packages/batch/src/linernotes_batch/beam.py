"""The ``beam`` executor: the linernotes pipeline as an Apache Beam job.

    Read jobs (Parquet files) -> Batch (BatchElements) -> Tell stories -> Write results
                                                                       \\-> Write dead letter

The driver writes the pending job ids to ``job_shards`` Parquet files in the run
folder's ``pending/``, and the pipeline reads them with Beam's Parquet source, in
parallel, rather than taking one in-memory list.

``Tell stories`` composes and fits the linernotes pipeline once per DoFn
instance, in ``setup``, and runs it on each batch. Counters (namespace
``linernotes``): ``stories``, ``fallbacks``, ``blocked_drafts``, ``failures``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading

from linernotes.errors import ConfigError

from .batches import DEAD_LETTER, Counts, Storyteller, write_dead_letter, write_results
from .executors import BeamParams
from .store import Store

# Importing Beam logs a warning about optional Google Cloud libraries, and that first
# logging call would give the root logger a handler (so every library's debug lines would
# print). A handler present during the import keeps the root logger as it was.
_quiet = logging.NullHandler()
logging.getLogger().addHandler(_quiet)
try:
    import apache_beam as beam
    from apache_beam.metrics import Metrics
finally:
    logging.getLogger().removeHandler(_quiet)

PENDING = "pending"
"""The run folder's subfolder of pending job ids: the Beam pipeline's source."""
NAMESPACE = "linernotes"
COUNTERS = tuple(f.name for f in dataclasses.fields(Counts))
DIRECT_OPTIONS = ("runner", "direct_num_workers", "direct_running_mode")
QUIET = {"default_sdk_harness_log_level": "WARNING"}
"""Defaults of ``options``: Beam's worker processes log every step at INFO otherwise."""
_SETUP = threading.Lock()
"""Hydra's composition is process-global: worker threads build their pipelines in turn."""


class TellStories(beam.DoFn):
    """Runs the linernotes pipeline on batches of job ids: result rows go to the main
    output, failed jobs to the ``dead_letter`` output (one list of rows per batch)."""

    def __init__(self, overrides: list[str], run_id: str, config_id: str, model: str | None):
        self.overrides = overrides
        self.run_id = run_id
        self.config_id = config_id
        self.model = model
        self.counters = {name: Metrics.counter(NAMESPACE, name) for name in COUNTERS}

    def setup(self):
        from linernotes.config import compose, config_id
        from linernotes.pipeline import Pipeline

        with _SETUP:
            cfg = compose(self.overrides)
            if config_id(cfg) != self.config_id:
                raise ConfigError(
                    f"a Beam worker composed config {config_id(cfg)}, not the run's "
                    f"{self.config_id}; give the workers the same config tree "
                    "(LINERNOTES_CONFIG_DIR) and packages"
                )
            pipeline = Pipeline.from_config(cfg, progress=False)
            self.teller = Storyteller(pipeline, self.run_id, self.model)

    def process(self, batch):
        output = self.teller.tell(list(batch))
        for name, value in zip(COUNTERS, output.counts.values(), strict=True):
            self.counters[name].inc(value)
        if output.rows:
            yield output.rows
        if output.dead:
            yield beam.pvalue.TaggedOutput(DEAD_LETTER, output.dead)


class WriteShards(beam.DoFn):
    """Writes each incoming list of rows as one atomic Parquet shard of the run folder."""

    def __init__(self, uri: str, dead_letter: bool):
        self.uri = uri
        self.dead_letter = dead_letter

    def setup(self):
        self.store = Store(self.uri)

    def process(self, rows):
        (write_dead_letter if self.dead_letter else write_results)(self.store, rows)


def pipeline_options(params: BeamParams):
    """Beam ``PipelineOptions`` from the executor's parameters; ``options`` pass through,
    checked against the options Beam knows."""
    import difflib

    from apache_beam.options.pipeline_options import PipelineOptions

    known = set(PipelineOptions(flags=[]).get_all_options())
    for key in params.options:
        if key in DIRECT_OPTIONS:
            raise ConfigError(f"set executor.params.{key}, not executor.params.options.{key}")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(
                f"unknown Beam pipeline option '{key}' in executor.params.options{hint}"
            )
    return PipelineOptions(
        flags=[],
        runner=params.runner,
        direct_num_workers=params.direct_num_workers,
        direct_running_mode=params.direct_running_mode,
        **{**QUIET, **params.options},
    )


def make_runner(options):
    """The runner to use. For ``DirectRunner``: its batch engine, the FnApiRunner, set up as
    the DirectRunner sets it up, because the DirectRunner first tries the Prism runner,
    which downloads a binary. Other runners by name."""
    from apache_beam.options.pipeline_options import StandardOptions

    name = options.view_as(StandardOptions).runner
    if name != "DirectRunner":
        return name
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options(drop_default=True))
    info = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(info))


def write_pending(store: Store, jobs: list[str], shards: int) -> str:
    """Write ``jobs`` in order to at most ``shards`` Parquet files (one ``job`` column) in
    ``pending/`` of the run folder ``store``, replacing what an earlier invocation left
    there; return their file pattern as Beam's file systems spell it."""
    import pyarrow as pa
    from pyarrow import fs

    folder = store.child(PENDING)
    folder.clear()
    n = min(shards, len(jobs))
    for i in range(n):
        part = jobs[i * len(jobs) // n : (i + 1) * len(jobs) // n]
        folder.write_table(f"jobs-{i:05d}-of-{n:05d}.parquet", pa.table({"job": part}))
    local = isinstance(folder.fs, fs.LocalFileSystem)  # Beam knows no file:// scheme
    return f"{folder.root if local else folder.uri}/jobs-*.parquet"


def run_beam(plan, params: BeamParams) -> Counts:
    """Run ``plan.pending`` through the Beam pipeline, read from sharded files; return its
    counters."""
    pattern = write_pending(plan.store, plan.pending, params.job_shards)
    options = pipeline_options(params)
    pipeline = beam.Pipeline(runner=make_runner(options), options=options)
    size = params.batch_size
    told = (
        pipeline
        | "Read jobs" >> beam.io.ReadFromParquet(pattern, columns=["job"])
        | "Job ids" >> beam.Map(lambda row: row["job"])
        | "Batch" >> beam.BatchElements(min_batch_size=size, max_batch_size=size)
        | "Tell stories"
        >> beam.ParDo(
            TellStories(plan.overrides, plan.run_id, plan.config_id, plan.model)
        ).with_outputs(DEAD_LETTER, main="results")
    )
    told.results | "Write results" >> beam.ParDo(WriteShards(plan.store.uri, dead_letter=False))
    told[DEAD_LETTER] | "Write dead letter" >> beam.ParDo(
        WriteShards(plan.store.uri, dead_letter=True)
    )
    result = pipeline.run()
    result.wait_until_finish()
    return counts(result)


def counts(result) -> Counts:
    """The run's ``linernotes`` counters, summed over steps (committed where the runner
    reports them)."""
    from apache_beam.metrics.metric import MetricsFilter

    totals = dict.fromkeys(COUNTERS, 0)
    for counter in result.metrics().query(MetricsFilter().with_namespace(NAMESPACE))["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] += value
    return Counts(**totals)
