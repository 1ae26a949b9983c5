"""Kill the local executor mid-run (SIGKILL), run it again: every listener exactly once."""

import json
import os
import signal
import subprocess
import sys
import time

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


def test_a_killed_run_resumes_and_every_listener_is_there_exactly_once(mirror_ids, tmp_path):
    ids = [*mirror_ids[:59], "no-such-listener"]
    listeners = write_ids(tmp_path / "ids.txt", ids)
    out = tmp_path / "out"
    first = subprocess.Popen(
        batch(listeners, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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

    second = subprocess.run(
        batch(listeners, out, "--json"), capture_output=True, text=True, timeout=300
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
