"""The `linernotes` command, through typer's runner: exit codes and output."""

import json
import subprocess
import sys

import pytest
import typer
from linernotes import hookimpl
from linernotes.cli import app
from linernotes.feedback import parse_event
from linernotes.plugins import get_plugin_manager, register_plugin, unregister_plugin
from typer.testing import CliRunner

runner = CliRunner()


def run(*args):
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module", autouse=True)
def _prepared(pipeline):
    """Build the catalog once (via the session pipeline) before the CLI reuses the cache."""


def test_recommend_json_has_picks_a_story_and_a_trace():
    result = run("recommend", "--listener", "2", "--json", "generator=template")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert len(out["picks"]) >= 5
    story = out["story"]
    assert story["text"] and story["citations"]
    fact_ids = {f["id"] for f in out["facts"]["facts"]}
    assert set(story["citations"].values()) <= fact_ids
    assert {"retrieve", "rank", "ground", "generate", "safety"} <= set(out["trace"]["timings"])
    assert out["trace"]["components"]["ranker"] == "blend"


def test_recommend_prints_picks_story_and_cited_facts():
    result = run("recommend", "-l", "2", "-k", "3", "generator=template")
    assert result.exit_code == 0, result.output
    assert "by template" in result.stdout
    assert "[1]" in result.stdout
    assert result.stdout.count("colisten") >= 3


def test_overrides_go_last():
    result = run(
        "recommend",
        "-l",
        "2",
        "--json",
        "k=4",
        "ranker=popcolisten",
        "ranker.params.popularity_weight=0.5",
        "generator=template",
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["picks"]) == 4


def test_history_and_context_options():
    result = run(
        "recommend",
        "--history",
        "Radiohead, Portishead",
        "--mood",
        "rainy",
        "--time",
        "late night",
        "--json",
        "generator=template",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["request"]["listener"]["id"] is None
    assert out["request"]["context"]["mood"] == "rainy"
    assert "rainy late night" in out["story"]["text"]


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["recommend", "--listener", "2", "ranker=nope"],
            "unknown ranker 'nope'; valid: blend, ease, ials, itemknn, popcolisten, popularity, "
            "rp3beta",
        ),
        (["recommend", "--listener", "99999", "generator=template"], "unknown listener '99999'"),
        (["recommend", "--history", " , "], "--history is empty"),
        (
            ["recommend", "--history", "zzqqxx wwvvyy", "generator=template"],
            "no artist in the catalog matches",
        ),
        (["recommend"], "say who is listening"),
        (
            ["recommend", "-l", "2", "retrievers.colisten.params.weighting=nope"],
            "weighting must be one of count, log, bm25, tfidf",
        ),
        (["config", "show", "ground.nope=1"], "unknown config key 'ground.nope'"),
    ],
)
def test_mistakes_give_one_red_line_and_a_non_zero_exit(args, message):
    result = run(*args)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["--listener", "99999"], ["--history", "zzqqxx wwvvyy"], ["--seed", "zzqqxx wwvvyy"]],
)
def test_a_wrong_listener_or_name_fails_before_anything_is_fitted(args, monkeypatch):
    from linernotes.pipeline import Pipeline

    def fit(self, progress=False):
        raise AssertionError("fitted before the request was checked")

    monkeypatch.setattr(Pipeline, "fit", fit)
    result = run("recommend", *args)
    assert result.exit_code == 1 and "fitted" not in result.output
    assert "unknown listener" in result.stderr or "no artist in the catalog" in result.stderr


def test_plugins_json_lists_a_component_for_every_stage():
    result = run("plugins", "--json")
    assert result.exit_code == 0
    kinds = {k for p in json.loads(result.stdout) for k in p["components"]}
    assert {"dataset", "retriever", "ranker", "generator", "safety_filter"} <= kinds


def test_plugins_table():
    result = run("plugins")
    assert result.exit_code == 0 and "register_rankers" in result.stdout


def test_config_show_prints_the_composed_config_with_overrides():
    result = run(
        "config", "show", "k=7", "ranker=popcolisten", "ranker.params.popularity_weight=0.3"
    )
    assert result.exit_code == 0
    assert "k: 7" in result.stdout and "popularity_weight: 0.3" in result.stdout


def test_data_info_json_counts():
    result = run("data", "info", "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["items"] == 17632 and info["listeners"] == 1512
    assert info["interactions"] == 74261 and info["social_pairs"] > 0
    assert info["quarantined_rows"] > 0  # tag rows about artists missing from artists.dat


def test_data_prepare_reports_the_quarantine_and_bundle():
    result = run("data", "prepare")
    assert result.exit_code == 0
    assert "ready:" in result.stdout and "malformed rows kept aside" in result.stderr


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys, linernotes.cli; linernotes.cli.get_app(); "
        "print(sorted(m for m in ('polars', 'hydra', 'scipy', 'numpy', 'torch', 'transformers', "
        "'trl', 'apache_beam') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class HelloCommand:
    @hookimpl
    def register_commands(self, cli):
        @cli.command()
        def hello(name: str = "world"):
            """Say hello."""
            typer.echo(f"hello {name}")


def test_a_plugin_adds_a_command():
    register_plugin(HelloCommand(), name="hello-command")
    try:
        cli = typer.Typer()
        cli.command()(lambda: None)  # a second command, so typer keeps subcommand names
        get_plugin_manager().hook.register_commands(cli=cli)
        result = runner.invoke(cli, ["hello", "--name", "linernotes"])
    finally:
        unregister_plugin("hello-command")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello linernotes\n"


def test_recommend_log_appends_an_impression_that_validates(tmp_path):
    log = tmp_path / "impressions.jsonl"
    for _ in range(2):
        result = run(
            "recommend", "-l", "2", "--mood", "mellow", "--log", str(log), "generator=template"
        )
        assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 2 and lines[0]["story_id"] == lines[1]["story_id"]
    event = parse_event(lines[0])
    assert event.event == "impression" and event.listener == "2"
    assert event.context.mood == "mellow"
    assert f"story {event.story_id} by template" in result.stdout
