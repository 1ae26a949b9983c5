"""Kill an executor mid-run (SIGKILL), run it again: every listener exactly once."""

import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from linernotes_batch import read_dead_letter, read_results

from .conftest import assert_exactly_once, write_ids


def batch(listeners, out, *extra) -> list[str]:
    return [
        sys.executable,
        "-m",
        "linernotes.cli",
        "batch",
        "--listeners",
        str(listeners),
        "--out",
        str(out),
        "generator=template",
        "executor.params.batch_size=2",
        *extra,
    ]


EXECUTORS = {"local": [], "beam": ["executor=beam", "executor.params.job_shards=4"]}


def pending_jobs(run) -> list[str]:
    """The job ids of the Beam executor's source files, and check there are 4 of them."""
    shards = sorted((run / "pending").glob("jobs-*.parquet"))
    assert [p.name for p in shards] == [f"jobs-{i:05d}-of-00004.parquet" for i in range(4)]
    return pl.read_parquet(shards)["job"].to_list()


@pytest.mark.parametrize("executor", ["local", pytest.param("beam", marks=pytest.mark.slow)])
def test_a_killed_run_resumes_and_every_listener_is_there_exactly_once(
    executor, mirror_ids, tmp_path
):
    ids = [*mirror_ids[:59], "no-such-listener"]
    listeners = write_ids(tmp_path / "ids.txt", ids)
    out = tmp_path / "out"
    first = subprocess.Popen(
        batch(listeners, out, *EXECUTORS[executor]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while first.poll() is None and time.monotonic() < deadline:
        if any(out.glob("*/part-*.parquet")):
            os.kill(first.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    first.wait()
    assert first.returncode == -signal.SIGKILL, first.stderr.read().decode()[-2000:]
    (run,) = out.iterdir()
    before = {p.name: p.stat().st_mtime_ns for p in run.rglob("part-*.parquet")}
    assert 0 < len(before) < 30, "the run was not killed mid-way"
    done = read_results(str(run)).height + read_dead_letter(str(run)).height
    if executor == "beam":
        assert pending_jobs(run) == ids  # the source: every job, in order, in 4 files

    second = subprocess.run(
        batch(listeners, out, *EXECUTORS[executor], "--json"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 0, second.stderr[-2000:]
    report = json.loads(second.stdout)
    assert report["run_id"] == run.name
    assert report["skipped"] == done and report["processed"] == len(ids) - done
    after = {p.name: p.stat().st_mtime_ns for p in run.rglob("part-*.parquet")}
    assert {k: after[k] for k in before} == before  # done shards were not rewritten
    assert not [p for p in run.rglob(".tmp-*")]
    results, dead = assert_exactly_once(str(run), ids)
    assert dead["listener"].to_list() == ["no-such-listener"]
    assert results.height == 59
    if executor == "beam":  # the rerun's source: only the jobs the first run had not done
        first_done = set(ids) - set(pending_jobs(run))
        assert len(first_done) == done and set(pending_jobs(run)) | first_done == set(ids)
