"""The one plugin manager: built-in plugins plus entry points of the group ``linernotes``.

Set ``LINERNOTES_LOAD_PLUGINS`` to a comma-separated list of distribution names
to load only those plugin packages (an empty value loads none); core's own
built-in plugin always loads.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points

import pluggy

from . import hookspecs
from .errors import PluginError

GROUP = "linernotes"
ALLOW_ENV = "LINERNOTES_LOAD_PLUGINS"
BUILTIN = ("linernotes.datasets.plugin",)


@dataclass
class PluginInfo:
    """What ``linernotes plugins`` shows about one loaded plugin."""

    name: str
    distribution: str | None
    version: str | None
    hooks: list[str]
    components: dict[str, list[str]] = field(default_factory=dict)


def _allowed() -> set[str] | None:
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return None
    return {x.strip() for x in value.split(",") if x.strip()}


def _load(pm: pluggy.PluginManager) -> None:
    for module in BUILTIN:
        pm.register(importlib.import_module(module), name=module)
    allowed = _allowed()
    for ep in entry_points(group=GROUP):
        dist = ep.dist.name if ep.dist else ep.name
        if allowed is not None and dist not in allowed and ep.name not in allowed:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as e:
            raise PluginError(
                f"plugin '{ep.name}' ({ep.value}) failed to import: {type(e).__name__}: {e}"
            ) from e
        pm.register(plugin, name=ep.name)
        pm._linernotes_dists[ep.name] = ep.dist  # type: ignore[attr-defined]


def lazy_exports(package: str, where: dict[str, str]):
    """A module ``__getattr__`` (PEP 562) that imports ``name`` from ``package.where[name]``
    on first use, so a plugin package's ``__init__`` stays cheap to import."""

    def __getattr__(name: str):
        if name in where:
            return getattr(importlib.import_module(f".{where[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__


_pm: pluggy.PluginManager | None = None


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading plugins on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager(GROUP)
        pm.add_hookspecs(hookspecs)
        pm._linernotes_dists = {}  # type: ignore[attr-defined]
        _load(pm)
        _pm = pm
    return _pm


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object (a module or class with ``@hookimpl`` functions) at run time."""
    get_plugin_manager().register(plugin, name=name)
    from . import registry

    registry.reset()


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered by :func:`register_plugin`."""
    get_plugin_manager().unregister(name=name)
    from . import registry

    registry.reset()


def plugin_info() -> list[PluginInfo]:
    """Every loaded plugin with its distribution, version, hooks and registered components."""
    from .registry import get_registry

    pm = get_plugin_manager()
    reg = get_registry()
    dists = pm._linernotes_dists  # type: ignore[attr-defined]
    infos = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda x: x[0]):
        dist = dists.get(name)
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        comps: dict[str, list[str]] = {}
        for kind, entries in reg.entries.items():
            own = sorted(n for n, e in entries.items() if e.plugin == name)
            if own:
                comps[kind] = own
        if dist is None and name in BUILTIN:
            from importlib.metadata import version

            dist_name, ver = "linernotes", version("linernotes")
        else:
            dist_name, ver = (dist.name, dist.version) if dist else (None, None)
        infos.append(PluginInfo(name, dist_name, ver, hooks, comps))
    return infos
