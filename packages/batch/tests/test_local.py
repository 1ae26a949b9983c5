"""The local executor on the mirror's listeners: exactly once, dead letter, resume, run folders."""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from linernotes.errors import ConfigError, DataError
from linernotes_batch import run_batch, summarize

from .conftest import assert_exactly_once, fail_override, write_ids

TEMPLATE = ["generator=template", "executor.params.batch_size=8"]


@pytest.fixture(scope="module")
def done(mirror_ids, fail_for, tmp_path_factory):
    """One local run over 22 listeners: 20 real ones, one the ranker fails on, one unknown."""
    tmp = tmp_path_factory.mktemp("local")
    ids = [*mirror_ids[:20], "no-such-listener", mirror_ids[20]]
    listeners = write_ids(tmp / "ids.txt", ids)
    overrides = [*TEMPLATE, fail_override(mirror_ids[20])]
    report = run_batch(overrides, listeners, str(tmp / "out"), progress=False)
    return ids, listeners, overrides, tmp / "out", report


def test_every_listener_is_a_row_or_a_dead_letter_entry_once(done):
    ids, _, _, _, report = done
    results, dead = assert_exactly_once(report.path, ids)
    assert (report.requested, report.skipped, report.processed) == (22, 0, 22)
    assert report.counts.stories == results.height == 20
    assert report.counts.failures == dead.height == 2
    stages = dict(zip(dead["listener"], dead["stage"], strict=True))
    assert stages == {"no-such-listener": "request", ids[-1]: "rank"}
    errors = dict(zip(dead["listener"], dead["error"], strict=True))
    assert errors["no-such-listener"].startswith("DataError: unknown listener 'no-such-listener'")
    assert "ValueError: cannot rank for" in errors[ids[-1]]


def test_the_results_are_one_parquet_table_readable_with_polars(done):
    *_, report = done
    frame = pl.read_parquet(f"{report.path}/part-*.parquet")
    assert frame.height == 20 and frame["listener"].n_unique() == 20
    row = frame.row(0, named=True)
    assert row["run_id"] == report.run_id and row["config_id"] == report.run_id.split("-")[0]
    assert len(row["picks"]) == 10 and row["story"] and row["generator"] == "template"
    assert row["citations"] and row["verdicts"]
    assert {v["filter"] for v in row["verdicts"]} == {
        "unicode",
        "injection",
        "pii",
        "toxicity",
        "grounding",
    }
    assert row["timings"]["generate"] is not None and row["model"] is None
    assert json.loads(row["components"])["generator"] == "template"


def test_the_run_folder_records_its_config_and_listeners(done):
    ids, *_, report = done
    run = Path(report.path)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["run_id"] == report.run_id and manifest["listeners"] == 22
    assert manifest["config"]["generator"]["component"] == "template"
    assert (run / "listeners.txt").read_text().split() == ids


def test_a_rerun_of_the_same_run_skips_every_done_listener(done):
    ids, listeners, overrides, out, report = done
    shards = sorted(p.name for p in out.rglob("*.parquet"))
    again = run_batch(overrides, listeners, str(out), progress=False)
    assert again.run_id == report.run_id
    assert (again.skipped, again.processed, again.counts.stories) == (22, 0, 0)
    assert sorted(p.name for p in out.rglob("*.parquet")) == shards


def test_a_resumed_run_does_only_what_is_missing(done, tmp_path):
    ids, listeners, overrides, out, report = done
    shutil.copytree(out, tmp_path / "out")
    run = tmp_path / "out" / report.run_id
    removed = pl.read_parquet(sorted(run.glob("part-*.parquet"))[0])["listener"].to_list()
    sorted(run.glob("part-*.parquet"))[0].unlink()
    again = run_batch(overrides, listeners, str(tmp_path / "out"), progress=False)
    assert again.processed == len(removed) and again.skipped == 22 - len(removed)
    assert again.counts.stories == len(removed)
    assert_exactly_once(str(run), ids)


def test_the_summary_checks_exactly_once(done, tmp_path):
    ids, _, _, out, report = done
    (summary,) = summarize(str(out))
    assert summary.complete and summary.run_id == report.run_id
    assert (summary.requested, summary.results, summary.dead_letter) == (22, 20, 2)
    assert summary.failures == {"rank": 1, "request": 1}
    assert summary.generators == {"template": 20} and summary.stories == 20
    assert set(summary.stage_seconds) >= {"retrieve", "rank", "generate", "safety"}
    run = tmp_path / "run"
    shutil.copytree(report.path, run)
    first, second = sorted(run.glob("part-*.parquet"))[:2]
    shutil.copy(first, run / "part-copy.parquet")
    second.unlink()
    (broken,) = summarize(str(run))
    assert not broken.complete
    assert broken.duplicates == pl.read_parquet(first).height
    assert broken.missing == pl.read_parquet(f"{report.path}/{second.name}").height


def test_a_run_folder_belongs_to_one_config_and_one_listener_set(done, mirror_ids, tmp_path):
    ids, listeners, overrides, out, report = done
    with pytest.raises(ConfigError, match=f"run '{report.run_id}' .* was made with config"):
        run_batch(["generator=template"], listeners, str(out), run_id=report.run_id)
    other = write_ids(tmp_path / "other.txt", mirror_ids[:3])
    with pytest.raises(ConfigError, match="was asked for another set of 22 listeners"):
        run_batch(overrides, other, str(out), run_id=report.run_id)
    with pytest.raises(ConfigError, match="bad run id"):
        run_batch(overrides, other, str(out), run_id="../up")


def test_bad_input_fails_before_anything_is_written(tmp_path):
    with pytest.raises(DataError, match="cannot read listeners file"):
        run_batch(TEMPLATE, tmp_path / "missing.txt", str(tmp_path / "out"))
    with pytest.raises(DataError, match="names no listener"):
        run_batch(TEMPLATE, write_ids(tmp_path / "empty.txt", []), str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="unknown Beam pipeline option 'projct'"):
        run_batch(
            [*TEMPLATE, "executor=beam", "+executor.params.options.projct=x"],
            write_ids(tmp_path / "ids.txt", ["2"]),
            str(tmp_path / "out"),
        )
    assert not (tmp_path / "out").exists()


def test_all_means_every_listener_of_the_dataset(mirror_ids, tmp_path):
    from linernotes.config import compose
    from linernotes_batch.job import plan_run

    plan = plan_run(compose(TEMPLATE), TEMPLATE, "all", str(tmp_path))
    assert plan.listeners == mirror_ids and plan.pending == mirror_ids
    assert (tmp_path / plan.run_id / "listeners.txt").read_text().split() == mirror_ids
