"""`linernotes batch ... executor=beam` on the DirectRunner: one row or one dead-letter entry
per listener, Beam counters, resume; never the Prism runner (it downloads a binary)."""

import json
import sys

import pytest
from linernotes.cli import get_app
from typer.testing import CliRunner

from .conftest import assert_exactly_once, fail_override, write_ids

runner = CliRunner()
BEAM = ["executor=beam", "generator=template", "executor.params.batch_size=8"]


def batch(listeners, out, *overrides):
    result = runner.invoke(
        get_app(), ["batch", "--listeners", str(listeners), "--out", str(out), "--json", *overrides]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def beam_run(mirror_ids, fail_for, tmp_path_factory):
    """50 listeners on the DirectRunner (in memory): 48 served, one the ranker fails on,
    one unknown."""
    tmp = tmp_path_factory.mktemp("beam")
    ids = [*mirror_ids[100:148], "no-such-listener", mirror_ids[148]]
    listeners = write_ids(tmp / "ids.txt", ids)
    overrides = [*BEAM, fail_override(mirror_ids[148])]
    return ids, listeners, overrides, tmp / "out", batch(listeners, tmp / "out", *overrides)


def test_every_listener_is_one_row_or_one_dead_letter_entry(beam_run):
    ids, *_, report = beam_run
    assert report["executor"] == "beam" and report["processed"] == 50
    results, dead = assert_exactly_once(report["path"], ids)
    assert results.height == 48 and results["story"].null_count() == 0
    assert dict(zip(dead["listener"], dead["stage"], strict=True)) == {
        "no-such-listener": "request",
        ids[-1]: "rank",
    }
    assert "apache_beam.runners.portability.prism_runner" not in sys.modules


def test_the_beam_counters_are_reported(beam_run):
    *_, report = beam_run
    assert report["counters"] == {"stories": 48, "fallbacks": 0, "blocked_drafts": 0, "failures": 2}


def test_a_beam_rerun_does_only_the_missing_listeners(beam_run):
    ids, listeners, overrides, out, report = beam_run
    shards = sorted((out / report["run_id"]).glob("part-*.parquet"))
    shards[0].unlink()
    shards[1].unlink()
    again = batch(listeners, out, *overrides)
    assert again["run_id"] == report["run_id"]
    assert again["skipped"] == 50 - again["processed"] and 0 < again["processed"] <= 16
    assert again["counters"]["stories"] == again["processed"]
    assert_exactly_once(report["path"], ids)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["multi_processing", "multi_threading"])
def test_two_workers(mode, mirror_ids, tmp_path):
    ids = [*mirror_ids[200:219], "no-such-listener"]
    listeners = write_ids(tmp_path / "ids.txt", ids)
    report = batch(
        listeners,
        tmp_path / "out",
        *BEAM,
        "executor.params.batch_size=4",
        "executor.params.direct_num_workers=2",
        f"executor.params.direct_running_mode={mode}",
    )
    assert report["counters"] == {"stories": 19, "fallbacks": 0, "blocked_drafts": 0, "failures": 1}
    assert_exactly_once(report["path"], ids)


def test_pending_jobs_go_in_order_to_files_beam_can_glob(tmp_path):
    import polars as pl
    from apache_beam.io.filesystems import FileSystems
    from linernotes_batch.beam import write_pending
    from linernotes_batch.store import Store

    store = Store(f"file://{tmp_path}")
    (tmp_path / "pending").mkdir()
    (tmp_path / "pending" / "jobs-00000-of-00009.parquet").write_text("an earlier run's")
    jobs = [f"listener-{i}" for i in range(10)]
    pattern = write_pending(store, jobs, 4)
    assert pattern == f"{tmp_path}/pending/jobs-*.parquet"  # no file:// for Beam
    files = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    assert [f.rsplit("/", 1)[1] for f in files] == [
        f"jobs-{i:05d}-of-00004.parquet" for i in range(4)
    ]
    assert pl.read_parquet(files)["job"].to_list() == jobs
    write_pending(store, jobs[:1], 4)
    assert [p.name for p in (tmp_path / "pending").iterdir()] == ["jobs-00000-of-00001.parquet"]


def test_context_jobs_run_on_beam(mirror_ids, tmp_path):
    from linernotes_batch.listeners import read_jobs

    a, b = mirror_ids[300:302]
    path = tmp_path / "jobs.jsonl"
    path.write_text(
        f'{{"listener": "{a}"}}\n{{"listener": "{a}", "mood": "Mellow"}}\n'
        f'{{"listener": "{b}", "activity": "running", "seed": "Madonna"}}\n'
    )
    report = batch(path, tmp_path / "out", *BEAM)
    assert report["counters"]["stories"] == 3
    jobs = read_jobs(path)
    results, _ = assert_exactly_once(report["path"], jobs)
    moods = dict(zip(results["job"], results["context"].struct.field("mood"), strict=True))
    assert moods == {jobs[0]: None, jobs[1]: "mellow", jobs[2]: None}
