"""`linernotes eval retrieval` on the mirror's Last.fm data, through typer's runner."""

import json

import pytest
from linernotes.cli import app
from linernotes.split import holdout_split
from typer.testing import CliRunner

runner = CliRunner()
RETRIEVERS = ["colisten", "tags", "social", "context"]


@pytest.fixture(scope="module")
def listeners_file(pipeline, tmp_path_factory):
    ids = holdout_split(pipeline.catalog, seed=0).listeners("test")[:60]
    path = tmp_path_factory.mktemp("eval") / "listeners.txt"
    path.write_text("# a sample of the test split\n" + "\n".join(ids) + "\n")
    return path, ids


def run_json(*args):
    result = runner.invoke(app, ["eval", "retrieval", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_reports_every_metric_for_every_retriever_and_the_union(listeners_file):
    path, ids = listeners_file
    out = run_json("--listeners", str(path), "--latency-requests", "5")
    assert out["listeners"] == len(ids) and out["split"] == "test"
    rows = {r["name"]: r for r in out["results"]}
    assert list(rows) == [*RETRIEVERS, "union"]
    for row in rows.values():
        recall = row["recall"]
        assert list(recall) == ["recall@50", "recall@200", "recall@500"]
        assert 0 <= recall["recall@50"] <= recall["recall@200"] <= recall["recall@500"] <= 1
        assert 0 <= row["candidates"] <= out["depth"]
        assert 0 <= row["unique_share"] <= 1
        assert 0 <= row["latency_ms_p50"] <= row["latency_ms_p99"]
        assert row["listeners_per_second"] > 0
    assert rows["colisten"]["recall"]["recall@200"] > 0.3
    assert rows["context"]["candidates"] == 0  # holdout requests carry no context
    assert rows["union"]["candidates"] <= out["budget"]


def test_the_table_and_a_chosen_list_of_retrievers(listeners_file):
    path, _ = listeners_file
    result = runner.invoke(
        app,
        ["eval", "retrieval", "--listeners", str(path), "--retrievers", "popular,colisten",
         "--latency-requests", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for word in ("R@200", "popular", "colisten", "union", "lst/s"):
        assert word in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--retrievers", "nope"], "unknown retrievers 'nope'"),
        (["--retrievers", " , "], "--retrievers is empty"),
        (["--split", "train"], "unknown split 'train'; valid: test, validation"),
        (["--listeners", "/nonexistent/ids.txt"], "cannot read listeners file"),
    ],
)
def test_mistakes_give_one_red_line(args, message):
    result = runner.invoke(app, ["eval", "retrieval", *args])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines


def test_a_listener_outside_the_split_is_named(tmp_path, pipeline):
    path = tmp_path / "ids.txt"
    path.write_text("2\n999999\n")
    result = runner.invoke(app, ["eval", "retrieval", "--listeners", str(path)])
    assert result.exit_code == 1 and "not in the test split" in result.stderr


@pytest.mark.slow
def test_the_union_beats_colistening_alone_on_the_test_split():
    out = run_json("--latency-requests", "5")
    rows = {r["name"]: r["recall"]["recall@200"] for r in out["results"]}
    assert rows["union"] > rows["colisten"] + 0.02
