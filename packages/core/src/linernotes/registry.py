"""The registry of components, filled by the ``register_*`` hooks and checked on the way in."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from .components import KINDS
from .errors import ConfigError, PluginError, choices
from .plugins import get_plugin_manager

HOOKS = {
    "dataset": "register_datasets",
    "retriever": "register_retrievers",
    "ranker": "register_rankers",
    "generator": "register_generators",
    "safety_filter": "register_safety_filters",
}


@dataclass
class Entry:
    """A registered component class and the plugin that registered it."""

    cls: type
    plugin: str


@dataclass
class Registry:
    """Component classes by kind and name."""

    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(self, kind: str, cls: Any, plugin: str) -> None:
        """Check ``cls`` against the kind's protocol and its name for uniqueness, then keep it."""
        protocol = KINDS[kind]
        what = f"plugin '{plugin}' registered {kind} {cls!r}"
        if not isinstance(cls, type):
            raise PluginError(f"{what}: register a class, not an instance")
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"{what}: the class needs a non-empty string attribute 'name'")
        needed = [m for m in _methods(protocol) if not callable(getattr(cls, m, None))]
        if needed:
            raise PluginError(
                f"{what}: missing method(s) {', '.join(needed)}; a {kind} needs "
                f"{', '.join(_methods(protocol))}"
            )
        if name in self.entries[kind]:
            other = self.entries[kind][name].plugin
            raise PluginError(f"{what}: the {kind} name '{name}' is already taken by '{other}'")
        self.entries[kind][name] = Entry(cls, plugin)

    def get(self, kind: str, name: str) -> type:
        """The class registered as ``name``, or a ConfigError listing the valid names."""
        try:
            return self.entries[kind][name].cls
        except KeyError:
            raise ConfigError(
                f"unknown {kind} '{name}'; valid: {choices(self.entries[kind])}"
            ) from None

    def create_from(self, kind: str, node: Any) -> Any:
        """Instantiate a component from a config node with ``component`` and ``params``."""
        from omegaconf import OmegaConf

        return self.create(kind, node.component, OmegaConf.to_container(node.params, resolve=True))

    def create(self, kind: str, name: str, params: dict[str, Any] | None = None) -> Any:
        """Instantiate a component, rejecting parameters its constructor does not take."""
        cls = self.get(kind, name)
        params = dict(params or {})
        sig = inspect.signature(cls)
        accepts_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        valid = [p for p in sig.parameters if p != "self"]
        unknown = [p for p in params if p not in valid]
        if unknown and not accepts_any:
            raise ConfigError(
                f"{kind} '{name}' has no parameter '{unknown[0]}'; valid: {choices(valid)}"
            )
        try:
            return cls(**params)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{kind} '{name}': {e}") from e


def _methods(protocol: type) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


_registry: Registry | None = None


def get_registry() -> Registry:
    """The registry, built from every loaded plugin's ``register_*`` hooks on first use."""
    global _registry
    if _registry is None:
        reg = Registry()
        pm = get_plugin_manager()
        for kind, hook_name in HOOKS.items():
            hook = getattr(pm.hook, hook_name)
            for impl in hook.get_hookimpls():

                def register(cls: Any, _kind: str = kind, _plugin: str = impl.plugin_name) -> None:
                    reg.add(_kind, cls, _plugin)

                impl.function(register=register)
        _registry = reg
    return _registry


def reset() -> None:
    """Forget the registry so the next :func:`get_registry` rebuilds it (after plugin changes)."""
    global _registry
    _registry = None
