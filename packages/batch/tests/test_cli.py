"""`linernotes batch` and `linernotes batch summary` through typer's runner."""

import json

import pytest
from linernotes.cli import get_app
from typer.testing import CliRunner

from .conftest import write_ids

runner = CliRunner()


def run(*args):
    return runner.invoke(get_app(), list(args))


@pytest.fixture(scope="module")
def out(mirror_ids, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    listeners = write_ids(tmp / "ids.txt", [*mirror_ids[:6], "nobody"])
    result = run(
        "batch", "--listeners", str(listeners), "--out", str(tmp / "out"), "generator=template"
    )
    assert result.exit_code == 0, result.output
    return tmp, listeners, result.stdout


def test_batch_runs_a_job_and_says_what_it_did(out):
    _, _, stdout = out
    assert "7 listeners: 0 already done, 7 processed" in stdout
    assert "stories 6, fallbacks 0, blocked drafts 0, failures 1 (see dead_letter/)" in stdout


def test_batch_run_is_the_same_command(out):
    tmp, listeners, _ = out
    result = run(
        "batch", "run", "-l", str(listeners), "--out", str(tmp / "out"), "generator=template"
    )
    assert result.exit_code == 0, result.output
    assert "7 already done, 0 processed" in result.stdout


def test_summary_shows_counts_failures_and_the_exactly_once_check(out):
    tmp, _, _ = out
    result = run("batch", "summary", str(tmp / "out"))
    assert result.exit_code == 0, result.output
    for text in ("exactly once", "yes", "request 1", "template 6", "nobody (request):"):
        assert text in result.stdout
    as_json = json.loads(run("batch", "summary", str(tmp / "out"), "--json").stdout)
    assert as_json[0]["complete"] and as_json[0]["results"] == 6 and as_json[0]["dead_letter"] == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["--listeners", "missing.txt", "--out", "o"],
            "error: cannot read listeners file missing.txt",
        ),
        (["--listeners", "all", "--out", "o", "executor=spark"], "error: unknown executor 'spark'"),
        (["summary", "."], "error: no batch run in ."),
    ],
)
def test_mistakes_are_one_red_line(args, message):
    result = run("batch", *args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_help_explains_both_commands():
    result = run("batch", "--help")
    assert result.exit_code == 0
    for text in ("--listeners all|FILE --out DIR", "summary", "executor=beam"):
        assert text in result.stdout
    words = " ".join(run("batch", "run", "--help").stdout.split())
    assert "or a dead-letter entry, for every listener exactly once" in words
    assert "Run the same command again to resume a killed run" in words
