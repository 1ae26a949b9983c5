import json
import os
import subprocess
import sys
from importlib.metadata import EntryPoint

import pluggy
import pytest
from linernotes import hookspecs, plugins
from linernotes.errors import PluginError


def _plugins_json(env_value):
    env = dict(os.environ)
    if env_value is None:
        env.pop("LINERNOTES_LOAD_PLUGINS", None)
    else:
        env["LINERNOTES_LOAD_PLUGINS"] = env_value
    out = subprocess.run(
        [sys.executable, "-m", "linernotes.cli", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return {p["distribution"] for p in json.loads(out.stdout)}


def test_all_installed_plugins_load_by_default():
    assert {
        "linernotes",
        "linernotes-retrievers",
        "linernotes-rankers",
        "linernotes-generators",
        "linernotes-safety",
    } <= _plugins_json(None)


def test_allow_list_restricts_plugin_packages():
    assert _plugins_json("linernotes-rankers") == {"linernotes", "linernotes-rankers"}
    assert _plugins_json("") == {"linernotes"}


def test_a_plugin_that_fails_to_import_is_named(monkeypatch):
    broken = EntryPoint(
        name="broken-plugin", value="no_such_module_for_linernotes", group="linernotes"
    )
    monkeypatch.setattr(plugins, "entry_points", lambda group: [broken])
    pm = pluggy.PluginManager("linernotes")
    pm.add_hookspecs(hookspecs)
    pm._linernotes_dists = {}
    with pytest.raises(PluginError, match="plugin 'broken-plugin' .* failed to import"):
        plugins._load(pm)


def test_plugin_info_lists_hooks_and_components():
    infos = {i.distribution: i for i in plugins.plugin_info()}
    rankers = infos["linernotes-rankers"]
    assert rankers.hooks == ["register_rankers"]
    assert list(rankers.components) == ["ranker"]
    assert sorted(rankers.components["ranker"]) == [
        "blend", "blocklist", "ease", "ials", "itemknn", "mmr", "popcolisten", "popularity",
        "rp3beta",
    ]  # fmt: skip
    assert rankers.version
