"""The example plugin (examples/linernotes-hello) is discovered through its entry point and used."""

import json

from linernotes.cli import app
from typer.testing import CliRunner

runner = CliRunner()
MAX_WORDS = "+safety.max_words={component: max_words, params: {limit: %d}}"


def test_the_example_plugin_is_discovered():
    out = json.loads(runner.invoke(app, ["plugins", "--json"]).stdout)
    hello = next(p for p in out if p["distribution"] == "linernotes-hello")
    assert hello["components"] == {"safety_filter": ["max_words"]}
    assert hello["hooks"] == ["register_safety_filters"]


def test_the_example_filter_runs_in_the_pipeline(pipeline):
    strict = runner.invoke(
        app, ["recommend", "-l", "2", "--json", "generator=template", MAX_WORDS % 5]
    )
    assert strict.exit_code == 0, strict.output
    result = json.loads(strict.stdout)
    assert result["story"] is None
    verdicts = [v for r in result["reviews"] for v in r["verdicts"] if v["filter"] == "max_words"]
    assert verdicts and all(v["action"] == "block" for v in verdicts)
    assert "over the limit of 5" in verdicts[0]["reasons"][0]

    loose = json.loads(
        runner.invoke(
            app, ["recommend", "-l", "2", "--json", "generator=template", MAX_WORDS % 500]
        ).stdout
    )
    assert loose["story"] is not None
