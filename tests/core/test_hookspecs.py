"""Every hook is documented and tested (after datasette's test_plugin_hooks_are_documented)."""

import inspect
import re
from pathlib import Path

import pytest
from linernotes import hookspecs

ROOT = Path(__file__).parents[2]
HOOKS = [
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "linernotes_spec")
]


def test_there_are_hooks():
    assert {
        "register_retrievers",
        "register_rankers",
        "register_generators",
        "register_safety_filters",
        "register_datasets",
        "register_commands",
        "before_stage",
        "after_stage",
        "on_stage_error",
    } <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    assert len(inspect.getdoc(getattr(hookspecs, hook)) or "") > 40


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    docs = (ROOT / "docs" / "plugins.md").read_text()
    assert re.search(rf"^### `{hook}\(", docs, re.M), (
        f"docs/plugins.md lacks a '### `{hook}(' section"
    )


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_tested(hook):
    here = Path(__file__).resolve()
    sources = [p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p.resolve() != here]
    sources += [p.read_text() for p in (ROOT / "packages").rglob("test_*.py")]
    assert any(f"def {hook}(" in s for s in sources), f"no test implements {hook}"
