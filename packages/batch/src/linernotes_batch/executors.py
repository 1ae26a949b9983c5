"""The ``executor`` config group: which executor runs a batch job, and its checked parameters."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from linernotes.errors import ConfigError, choices

RUNNING_MODES = ("in_memory", "multi_threading", "multi_processing")


@dataclass(frozen=True)
class LocalParams:
    """In-process execution: ``batch_size`` listeners per pipeline call (and per shard)."""

    batch_size: int = 32

    def check(self) -> None:
        if self.batch_size < 1:
            raise ConfigError(
                f"executor.params.batch_size must be at least 1, got {self.batch_size}"
            )


@dataclass(frozen=True)
class BeamParams:
    """An Apache Beam pipeline.

    ``job_shards`` is how many Parquet files the pending job ids are written to, for
    the pipeline's file source to read in parallel;
    ``runner`` is a Beam runner name (``DirectRunner`` runs here, without Prism);
    ``direct_num_workers`` and ``direct_running_mode`` set the DirectRunner's
    parallelism; ``options`` pass through to Beam's ``PipelineOptions`` (e.g.
    ``project``, ``region``, ``temp_location`` for Dataflow, ``flink_master``,
    ``spark_master_url``).
    """

    batch_size: int = 32
    job_shards: int = 16
    runner: str = "DirectRunner"
    direct_num_workers: int = 1
    direct_running_mode: str = "in_memory"
    options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        LocalParams(self.batch_size).check()
        if self.job_shards < 1:
            raise ConfigError(
                f"executor.params.job_shards must be at least 1, got {self.job_shards}"
            )
        if self.direct_num_workers < 1:
            raise ConfigError(
                f"executor.params.direct_num_workers must be at least 1, "
                f"got {self.direct_num_workers}"
            )
        if self.direct_running_mode not in RUNNING_MODES:
            raise ConfigError(
                f"unknown executor.params.direct_running_mode '{self.direct_running_mode}'; "
                f"valid: {choices(RUNNING_MODES)}"
            )


EXECUTORS: dict[str, type] = {"local": LocalParams, "beam": BeamParams}


def executor_params(node) -> LocalParams | BeamParams:
    """The checked parameters of a composed ``executor`` node (``{component, params}``).

    Raises :class:`ConfigError` in one line for an unknown executor, an unknown
    parameter (listing the valid ones) or a bad value.
    """
    from omegaconf import OmegaConf

    name = node.component
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor '{name}'; valid: {choices(EXECUTORS)}")
    cls = EXECUTORS[name]
    params = OmegaConf.to_container(node.params) if node.params is not None else {}
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown parameter '{unknown[0]}' of executor '{name}'; valid: {choices(valid)}"
        )
    value = cls(**params)
    value.check()
    return value
