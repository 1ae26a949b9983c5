"""Hydra composition of the pipeline config, with one-line errors that list valid choices.

The config tree lives in the repository's ``conf/`` (shipped inside the
``linernotes`` wheel as ``linernotes/conf``); ``LINERNOTES_CONFIG_DIR`` points
at another tree. Overrides use Hydra's syntax, the same in the CLI and here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from .errors import ConfigError, choices

CONFIG_ENV = "LINERNOTES_CONFIG_DIR"
GROUPS = (
    "dataset",
    "retrievers",
    "ranker",
    "rerankers",
    "generator",
    "safety",
    "executor",
    "tune",
    "experiment",
)
# Groups that say how a job runs, not what the pipeline computes: not part of config_id.
JOB_GROUPS = ("executor", "tune")


@dataclass
class Component:
    """Schema of one configured component: its registered name and constructor parameters."""

    component: str = "???"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RetrieverEntry(Component):
    """A configured retriever, how many candidates it may contribute, and its weight
    in the merge (weighted reciprocal rank fusion)."""

    quota: int = 200
    weight: float = 1.0


@dataclass
class Ground:
    """How fact packs are built: picks the story covers, facts per pick, evidence needed."""

    story_picks: int = 5
    facts_per_pick: int = 4
    min_shared: int = 2


@dataclass
class Schema:
    """The root of every composed config; unknown keys and wrong types fail composition."""

    dataset: Component = field(default_factory=Component)
    retrievers: dict[str, Any] = field(default_factory=dict)  # name -> RetrieverEntry
    ranker: Component = field(default_factory=Component)
    rerankers: dict[str, Any] = field(default_factory=dict)  # name -> Component, in order
    generator: Component = field(default_factory=Component)
    fallback: Component = field(default_factory=Component)
    safety: dict[str, Any] = field(default_factory=dict)  # name -> Component
    k: int = 10
    candidates: int = 500
    drafts: int = 1
    exclude_heard: bool = True
    ground: Ground = field(default_factory=Ground)
    executor: Component = field(default_factory=Component)  # linernotes batch (linernotes-batch)
    tune: Component = field(default_factory=Component)  # linernotes tune (linernotes-tuning)


# Named collections of components (checked by key, so '+safety.x={...}' can add one).
ENTRIES: dict[str, type] = {
    "retrievers": RetrieverEntry,
    "rerankers": Component,
    "safety": Component,
}


def config_dir() -> Path:
    """The config tree in use."""
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else Path(str(files("linernotes") / "conf"))


def compose(overrides: Sequence[str] = ()):
    """Compose the pipeline config (an omegaconf ``DictConfig``) with Hydra overrides.

    Raises :class:`ConfigError` in one line naming the valid choices for an
    unknown group option, key or value.
    """
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides)
    try:
        cfg = _hydra_compose(overrides)
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        raise ConfigError(_explain(e, overrides)) from None
    OmegaConf.resolve(cfg)
    unknown = _unknown_key(cfg, Schema)  # '+key=...' bypasses Hydra's struct check
    if unknown:
        key, valid = unknown
        parent = key.rpartition(".")[0]
        where = f"'{parent}'" if parent else "the top level"
        raise ConfigError(f"unknown config key '{key}'; valid keys at {where}: {choices(valid)}")
    return cfg


def _hydra_compose(overrides: list[str]):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="linernotes_schema", node=Schema)
    folder = config_dir()
    if not (folder / "config.yaml").is_file():
        raise ConfigError(f"no config.yaml in {folder} (set {CONFIG_ENV} to a config folder)")
    with initialize_config_dir(config_dir=str(folder), version_base="1.3"):
        return hydra_compose("config", overrides=overrides)


def config_id(cfg) -> str:
    """A short, stable hash of what a composed config computes (job groups left out)."""
    from omegaconf import OmegaConf

    tree = {k: v for k, v in OmegaConf.to_container(cfg).items() if k not in JOB_GROUPS}
    return hashlib.sha256(OmegaConf.to_yaml(tree, sort_keys=True).encode()).hexdigest()[:12]


def _explain(error: Exception, overrides: list[str]) -> str:
    """Turn a Hydra/omegaconf error into one line that lists the valid choices."""
    text, cause = str(error), error.__cause__
    while cause is not None:
        text, cause = f"{text}\n{cause}", cause.__cause__
    m = re.search(r"Could not (?:find|load) '([^']+)/([^'/]+)'", text)
    if m:
        group, option = m.groups()
        return f"unknown {group} '{option}'; valid: {choices(_options(group))}"
    m = re.search(r"Could not override '([^']+)'", text) or re.search(
        r"Could not append to config\. An item is already at '([^']+)'", text
    )
    key = m.group(1) if m else None
    if key is None:
        m = re.search(r"full_key: ([\w.]+)", text)
        key = m.group(1) if m else None
    if key is not None:
        parent, _, leaf = key.rpartition(".")
        valid = _keys(parent, [o for o in overrides if not _is_about(o, key)])
        if valid is not None and leaf not in valid:
            where = f"'{parent}'" if parent else "the top level"
            return f"unknown config key '{key}'; valid keys at {where}: {choices(valid)}"
        reason = next((line.strip() for line in text.splitlines()[1:] if line.strip()), text)
        return f"bad value for '{key}': {reason}"
    m = re.search(r"Key '([^']+)' not in '(\w+)'", text)
    if m:
        return f"unknown config key '{m.group(1)}' in '{m.group(2)}'"
    return " ".join(text.split())


def _unknown_key(node, schema: type, path: str = "") -> tuple[str, list[str]] | None:
    """The first key of ``node`` that dataclass ``schema`` lacks, with the valid keys."""
    hints = typing.get_type_hints(schema)
    for key in node:
        full = f"{path}.{key}" if path else str(key)
        if key not in hints:
            return full, list(hints)
        hint, value = hints[key], node[key]
        if dataclasses.is_dataclass(hint):
            found = _unknown_key(value, hint, full)
        elif not path and key in ENTRIES:
            found = next(
                (
                    f
                    for name in value
                    if (f := _unknown_key(value[name], ENTRIES[key], f"{full}.{name}"))
                ),
                None,
            )
        else:
            found = None
        if found:
            return found
    return None


def _is_about(override: str, key: str) -> bool:
    return override.lstrip("+~").split("=", 1)[0] == key


def _options(group: str) -> list[str]:
    folder = config_dir() / group
    return [p.stem for p in folder.glob("*.yaml")] if folder.is_dir() else []


def _keys(parent: str, overrides: list[str]) -> list[str] | None:
    from omegaconf import DictConfig, OmegaConf

    try:
        cfg = _hydra_compose(overrides)
    except Exception:
        return None
    node = OmegaConf.select(cfg, parent) if parent else cfg
    return list(node.keys()) if isinstance(node, DictConfig) else None
