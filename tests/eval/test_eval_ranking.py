"""`linernotes eval ranking` on the mirror data, through typer's runner."""

import json
import os
from pathlib import Path

import numpy as np
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
    assert sorted(names) == ["ease", "ials", "itemknn", "popcolisten", "popularity", "rp3beta"]
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
    baselines = [n for n in names if n != "popcolisten"]
    best = out["best_baseline"]
    assert best == max(baselines, key=lambda n: by[n]["metrics"]["ndcg@10"])
    assert by[best]["vs_best"] == [0.0, 0.0, 0.0]
    worst = by["popularity"]["vs_best"]
    assert worst[1] <= worst[0] <= worst[2] < 0
    assert [a["listeners"] for a in out["activity"].values()] == [20, 20, 20]
    light, medium, heavy = out["activity"].values()
    assert light["max_plays"] <= medium["min_plays"] <= medium["max_plays"] <= heavy["min_plays"]
    for r in out["results"]:
        assert list(r["by_activity"]) == ["light", "medium", "heavy"]
    groups = by["popularity"]["by_activity"].values()
    assert np.mean([g["ndcg@10"] for g in groups]) == pytest.approx(
        by["popularity"]["metrics"]["ndcg@10"]
    )  # equal thirds: the mean of the groups is the mean
    assert by["popularity"]["metrics"]["novelty@10"] < by["itemknn"]["metrics"]["novelty@10"]


@pytest.mark.slow
def test_the_report_shows_the_table_and_the_plot(evaluated):
    out, report = evaluated
    assert out["report"] == str(report)
    text = report.read_text()
    assert "![NDCG@10 per ranker](ranking-ndcg.png)" in text
    assert "| ease |" in text and "recall ceiling" in text
    assert "## By listening activity" in text and "light (20 listeners" in text
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
    for name in ("ease", "ials", "itemknn", "popularity", "ndcg@10", "vs ", "heavy", "report:"):
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


@pytest.mark.slow
def test_metrics_agree_with_ranx_on_a_real_run(holdout):
    """Recall@10, NDCG@10 and MAP@10 of RP3beta's test-split ranking, per listener, against the
    ranx library's. ranx's MAP divides by every relevant item (TREC), linernotes' by at most k
    of them, hence the factor (1 on this split, where no listener has more than 10)."""
    from linernotes.metrics import average_precision_at_k, ndcg_at_k, recall_at_k
    from linernotes.pipeline import Pipeline
    from linernotes.registry import get_registry
    from ranx import Qrels, Run, evaluate

    reg = get_registry()
    retriever = reg.create("retriever", "colisten", {})
    retriever.fit(holdout.train)
    ranker = reg.create("ranker", "rp3beta", {})
    ranker.fit(holdout.train)
    requests = holdout.requests("test")
    truth = holdout.truth("test")
    pipe = Pipeline(holdout.train, {"colisten": (retriever, 200)}, None, None, None, {}, None)
    lists = [[c.item_id for c in cs] for cs in ranker.rank(requests, pipe._retrieve(requests))]
    ids = [r.listener.id for r in requests]
    pairs = list(zip(ids, lists, strict=True))
    qrels = Qrels({q: dict.fromkeys(truth[q], 1) for q in ids})
    run = Run({q: {i: -float(n) for n, i in enumerate(items)} for q, items in pairs})
    theirs = evaluate(qrels, run, ["recall@10", "ndcg@10", "map@10"], return_mean=False)
    ours = {
        "recall@10": [recall_at_k(items, truth[q], 10) for q, items in pairs],
        "ndcg@10": [ndcg_at_k(items, truth[q], 10) for q, items in pairs],
        "map@10": [
            average_precision_at_k(items, truth[q], 10) * min(10, len(truth[q])) / len(truth[q])
            for q, items in pairs
        ],
    }
    assert len(ids) > 1000
    for metric, values in ours.items():
        assert np.mean(values) > 0.05, metric
        np.testing.assert_allclose(values, theirs[metric], rtol=0, atol=1e-6, err_msg=metric)


def test_activity_groups_are_thirds_by_plays():
    from linernotes.evaluation.ranking import activity_groups

    groups = activity_groups([50, 10, 30, 20, 60, 40, 70])
    assert {g: m.tolist() for g, m in groups.items()} == {
        "light": [1, 2, 3],
        "medium": [0, 5],
        "heavy": [4, 6],
    }
    assert list(activity_groups([5])) == ["light"]


def test_paired_difference_is_the_relative_mean_with_a_paired_interval():
    from linernotes.evaluation.ranking import paired_difference

    rng = np.random.default_rng(0)
    base = rng.uniform(0.1, 0.5, size=200)
    draws = rng.integers(0, 200, size=(500, 200))
    point, low, high = paired_difference(base * 1.1, base, draws)
    assert point == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    point, low, high = paired_difference(base + rng.normal(0, 0.05, 200), base, draws)
    assert low < point < high and high - low < 0.1
    assert paired_difference(base, np.zeros(200), draws) == (0.0, 0.0, 0.0)
