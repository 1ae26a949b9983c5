import inspect

import pytest
from linernotes.config import GROUPS, compose, config_dir
from linernotes.errors import ConfigError
from linernotes.registry import get_registry
from omegaconf import OmegaConf

KIND = {
    "dataset": "dataset",
    "retrievers": "retriever",
    "ranker": "ranker",
    "generator": "generator",
    "safety": "safety_filter",
    "rerankers": "ranker",
}


def options(group):
    return sorted(p.stem for p in (config_dir() / group).glob("*.yaml"))


def components_of(group, cfg):
    node = cfg[group]
    return list(node.values()) if group in ("retrievers", "rerankers", "safety") else [node]


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes(group, option):
    cfg = compose([f"{group}={option}"])
    assert cfg.k >= 1


@pytest.mark.parametrize("group,option", [(g, o) for g in KIND for o in options(g)])
def test_every_option_lists_exactly_its_components_parameters(group, option):
    cfg = compose([f"{group}={option}"])
    for node in components_of(group, cfg):
        cls = get_registry().get(KIND[group], node.component)
        params = [p for p in inspect.signature(cls).parameters if p != "self"]
        assert sorted(node.params.keys()) == sorted(params), f"{group}/{option}.yaml"
        get_registry().create(KIND[group], node.component, OmegaConf.to_container(node.params))


def test_fallback_lists_its_parameters():
    cfg = compose()
    cls = get_registry().get("generator", cfg.fallback.component)
    assert sorted(cfg.fallback.params) == sorted(inspect.signature(cls).parameters)


def test_overrides_and_experiments_apply():
    cfg = compose(["ranker=popcolisten", "ranker.params.popularity_weight=0.5", "experiment=quick"])
    assert (cfg.k, cfg.candidates, cfg.ranker.params.popularity_weight) == (5, 100, 0.5)
    assert compose(["experiment=quick", "k=3"]).k == 3


def test_a_list_of_options_selects_several_components():
    cfg = compose(["retrievers=[popular]"])
    assert list(cfg.retrievers) == ["popular"]


@pytest.mark.parametrize(
    "override,message",
    [
        (
            "ranker=nope",
            "unknown ranker 'nope'; valid: blend, ease, ials, itemknn, popcolisten, popularity, "
            "rp3beta",
        ),
        ("safety=[grounding,nope]", "unknown safety 'nope'; valid: grounding"),
        (
            "ground.story_pick=1",
            "unknown config key 'ground.story_pick'; valid keys at 'ground': "
            "facts_per_pick, min_shared, story_picks",
        ),
        ("+foo=1", "unknown config key 'foo'; valid keys at the top level: candidates,"),
        ("+safety.grounding.parms=1", "valid keys at 'safety.grounding': component, params"),
        ("k=ten", "bad value for 'k': Value 'ten' of type 'str' could not be converted to Integer"),
    ],
)
def test_mistakes_fail_in_one_line_with_the_valid_choices(override, message):
    with pytest.raises(ConfigError) as e:
        compose([override])
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_plugin_component_can_be_added_from_the_command_line():
    cfg = compose(["+safety.max_words={component: max_words, params: {limit: 20}}"])
    assert cfg.safety.max_words.params.limit == 20


def test_config_dir_can_be_replaced(monkeypatch, tmp_path):
    monkeypatch.setenv("LINERNOTES_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="no config.yaml in"):
        compose()
