"""`linernotes eval ranking` on the mirror data, through typer's runner."""

import json
import os
from pathlib import Path

import pytest
from linernotes.cli import app
from linernotes.split import holdout_split
from typer.testing import CliRunner

runner = CliRunner()
FAST = ["ranker=popcolisten"]  # keep the learned blend's fit out of these runs


def run(*args):
    return runner.invoke(app, ["eval", "ranking", *args], env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def holdout():
    from linernotes.catalog import Catalog
    from linernotes.datasets import prepare
    from linernotes.registry import get_registry

    mirror = Path(os.environ.get("LINERNOTES_DATA_MIRROR", ""))
    if not (mirror / "hetrec2011-lastfm-2k").is_dir():
        pytest.skip("needs LINERNOTES_DATA_MIRROR with hetrec2011-lastfm-2k")
    dataset = get_registry().create("dataset", "hetrec2011-lastfm-2k", {})
    return holdout_split(Catalog(prepare(dataset, progress=False)), seed=0)


@pytest.fixture(scope="module")
def listeners_file(holdout, tmp_path_factory):
    path = tmp_path_factory.mktemp("eval") / "listeners.txt"
    path.write_text("# a sample of test listeners\n" + "\n".join(holdout.listeners("test")[:60]))
    return path


@pytest.fixture(scope="module")
def evaluated(listeners_file, tmp_path_factory):
    report = tmp_path_factory.mktemp("report") / "ranking.md"
    result = run("--listeners", str(listeners_file), "--json", "--report", str(report),
                 "--bootstrap", "200", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), report


@pytest.mark.slow
def test_every_ranker_gets_every_metric(evaluated):
    out, _ = evaluated
    names = [r["name"] for r in out["results"]]
    assert sorted(names) == ["ease", "itemknn", "popcolisten", "popularity", "rp3beta"]
    assert out["listeners"] == 60 and out["split"] == "test"
    assert 0 < out["candidate_recall"] <= 1
    for r in out["results"]:
        m = r["metrics"]
        assert set(m) == {"recall@10", "recall@20", "ndcg@10", "map@10", "coverage@10",
                          "novelty@10", "diversity@10"}  # fmt: skip
        assert 0 <= m["recall@10"] <= m["recall@20"] <= out["candidate_recall"]
        assert r["ndcg_ci"][0] <= m["ndcg@10"] <= r["ndcg_ci"][1]
        assert r["fit_seconds"] >= 0 and r["requests_per_second"] > 0
    by = {r["name"]: r for r in out["results"]}
    assert by["ease"]["fit_stats"]["items"] > 1000 and by["ease"]["fit_stats"]["peak_bytes"] > 0
    assert by["ease"]["vs_ease"][0] == 0
    assert by["popularity"]["metrics"]["novelty@10"] < by["itemknn"]["metrics"]["novelty@10"]


@pytest.mark.slow
def test_the_report_shows_the_table_and_the_plot(evaluated):
    out, report = evaluated
    assert out["report"] == str(report)
    text = report.read_text()
    assert "![NDCG@10 per ranker](ranking-ndcg.png)" in text
    assert "| ease |" in text and "recall ceiling" in text
    assert (report.parent / "ranking-ndcg.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_same_seed_same_numbers(evaluated, listeners_file):
    first, _ = evaluated
    again = run("--listeners", str(listeners_file), "--json", "--bootstrap", "200", *FAST)
    second = json.loads(again.stdout)

    def quality(out):
        return {r["name"]: (r["metrics"], r["ndcg_ci"]) for r in out["results"]}

    assert quality(first) == quality(second)


@pytest.mark.slow
def test_the_table_names_the_rankers_and_the_html_report_embeds_the_plot(listeners_file, tmp_path):
    report = tmp_path / "ranking.html"
    result = run("--listeners", str(listeners_file), "--report", str(report),
                 "--rankers", "popularity", "--bootstrap", "50", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("ease", "itemknn", "popularity", "ndcg@10", "vs ease", "report:"):
        assert name in result.stdout
    assert "<img src='ranking-ndcg.png'" in report.read_text()


def test_listeners_outside_the_split_are_refused(holdout, tmp_path):
    path = tmp_path / "listeners.txt"
    path.write_text(holdout.listeners("validation")[0] + "\n")
    result = run("--listeners", str(path), *FAST)
    assert result.exit_code == 1
    assert "not in the test split" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--rankers", " , "], "--rankers is empty"),
        (["--split", "train"], "unknown split 'train'; valid: validation, test"),
        (["--rankers", "nope"], "unknown ranker 'nope'; valid:"),
        (["--listeners", "/nonexistent/ids.txt"], "cannot read listeners file"),
    ],
)
def test_mistakes_are_one_red_line(args, message):
    result = run(*args, *FAST)
    assert result.exit_code == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_report_needs_a_known_format(listeners_file, tmp_path):
    result = run("--listeners", str(listeners_file), "--report", str(tmp_path / "r.pdf"), *FAST)
    assert result.exit_code == 1 and "report must end in .md or .html" in result.stderr
