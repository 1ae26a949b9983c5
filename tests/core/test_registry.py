import pytest
from linernotes.errors import ConfigError, PluginError
from linernotes.registry import Registry, get_registry


class GoodRanker:
    name = "good"

    def __init__(self, weight: float = 0.5):
        self.weight = weight

    def fit(self, catalog):
        pass

    def rank(self, requests, candidates):
        return [list(c) for c in candidates]


def test_registers_a_valid_component_and_creates_it_with_params():
    reg = Registry()
    reg.add("ranker", GoodRanker, "mine")
    assert reg.create("ranker", "good", {"weight": 0.2}).weight == 0.2


def test_rejects_an_instance():
    with pytest.raises(PluginError, match="register a class, not an instance"):
        Registry().add("ranker", GoodRanker(), "mine")


def test_rejects_a_class_without_a_name():
    class Nameless(GoodRanker):
        name = ""

    with pytest.raises(PluginError, match="'name'"):
        Registry().add("ranker", Nameless, "mine")


def test_names_the_missing_methods():
    class NoRank:
        name = "norank"

        def fit(self, catalog):
            pass

    with pytest.raises(PluginError, match="missing method\\(s\\) rank; a ranker needs fit, rank"):
        Registry().add("ranker", NoRank, "mine")


def test_rejects_a_duplicate_name_and_names_its_owner():
    reg = Registry()
    reg.add("ranker", GoodRanker, "first-plugin")
    with pytest.raises(PluginError, match="already taken by 'first-plugin'"):
        reg.add("ranker", GoodRanker, "second-plugin")


def test_unknown_component_lists_valid_names():
    reg = Registry()
    reg.add("ranker", GoodRanker, "mine")
    with pytest.raises(ConfigError, match="unknown ranker 'nope'; valid: good"):
        reg.get("ranker", "nope")


def test_unknown_parameter_lists_valid_parameters():
    reg = Registry()
    reg.add("ranker", GoodRanker, "mine")
    with pytest.raises(ConfigError, match="has no parameter 'wieght'; valid: weight"):
        reg.create("ranker", "good", {"wieght": 1})


def test_installed_plugins_register_every_stage():
    reg = get_registry()
    assert "colisten" in reg.entries["retriever"]
    assert "popcolisten" in reg.entries["ranker"]
    assert "template" in reg.entries["generator"]
    assert "grounding" in reg.entries["safety_filter"]
    assert "hetrec2011-lastfm-2k" in reg.entries["dataset"]
