"""Benchmark of `linernotes batch`: listeners per second, local executor against Beam.

    uv run python benchmarks/batch.py                                # 200 + 16 listeners
    uv run python benchmarks/batch.py --listeners 40 --model-listeners 0   # a quick check
    LINERNOTES_CACHE_DIR=/tmp/lnscale/bench/cache-10 uv run python benchmarks/batch.py \
        --data /tmp/lnscale/bench/synth-10 --listeners 2000 --model-listeners 0 \
        --executors beam1,beam2                      # a synthetic catalog (scale 10)

Runs the same listeners (the catalog's first N: the mirror's, or with ``--data`` a
synthetic catalog's) through each executor, every run a fresh `linernotes batch ... --json`
process with an empty output folder:
- local: in process, batched;
- beam, 1 worker: the DirectRunner in memory;
- beam, 2 workers: the DirectRunner with 2 worker processes;
once with the template generator and once with the default model (SmolLM2-135M) on fewer
listeners. Reports, as a Markdown table: the run's seconds (pipeline build included, as a
batch job pays it), listeners per second, and per worker, the CPU seconds of the run's
processes (user + system, Beam's worker processes included; fitting included) and
listeners per CPU second (a worker's rate on a core of its own, whatever the load), the
pipeline's own stage seconds per listener (from the result rows), the peak memory of the
run's processes together
(their resident sets summed, sampled every 0.2 s), Beam's overhead (its run time over the
local run's, minus one) and the 1-minute load average when the run ended.

Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset) and a warm cache (run any
`linernotes recommend` first, or the first run pays the catalog build and model
conversion). Timings depend on load: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXECUTORS = {  # name: (label, workers, overrides)
    "local": ("local", 1, ["executor=local"]),
    "beam1": ("beam, 1 worker (in memory)", 1, ["executor=beam"]),
    "beam2": (
        "beam, 2 worker processes",
        2,
        [
            "executor=beam",
            "executor.params.direct_num_workers=2",
            "executor.params.direct_running_mode=multi_processing",
        ],
    ),
}
GENERATORS = {"template": ["generator=template"], "SmolLM2-135M (default)": []}


def listener_ids(n: int, overrides: list[str]) -> list[str]:
    """The catalog's first ``n`` listener ids."""
    from linernotes.config import compose
    from linernotes.datasets import load_catalog

    return list(load_catalog(compose(overrides).dataset, progress=False).listener_ids[:n])


def tree_rss(proc) -> int:
    """Resident bytes of a process and its descendants, summed (0 once it is gone)."""
    import psutil

    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def run(listeners: Path, overrides: list[str]) -> dict:
    """One `linernotes batch --json` run in a fresh process and output folder: its report,
    its wall time, peak memory of its processes, and the pipeline's stage seconds per
    listener."""
    import psutil
    from linernotes_batch import summarize

    with tempfile.TemporaryDirectory(prefix="linernotes-batch-bench-") as out:
        cmd = [sys.executable, "-m", "linernotes.cli", "batch", "--json"]
        cmd += ["--listeners", str(listeners), "--out", out, *overrides]
        start = time.perf_counter()
        with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
            proc = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, text=True)
            peak, watched = 0, psutil.Process(proc.pid)
            while not (waited := os.wait4(proc.pid, os.WNOHANG))[0]:
                peak = max(peak, tree_rss(watched))
                time.sleep(0.2)
            wall = time.perf_counter() - start
            _, status, usage = waited
            stdout.seek(0), stderr.seek(0)
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"failed: {' '.join(cmd)}\n{stderr.read()[-3000:]}")
            report = json.loads(stdout.read())
        (summary,) = summarize(report["path"])
        if not summary.complete:
            sys.exit(f"not exactly once: {summary.to_dict()}")
    stage_seconds = sum(summary.stage_seconds.values())
    cpu = usage.ru_utime + usage.ru_stime  # Beam's worker processes are reaped: included
    return {
        **report,
        "wall": wall,
        "cpu": cpu,
        "peak_gb": peak / 2**30,
        "stage_seconds": stage_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=200, help="with the template generator")
    parser.add_argument(
        "--model-listeners", type=int, default=16, help="with the default model (0: skip)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--data", help="a synthetic catalog's folder (dataset=synth)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run")
    parser.add_argument(
        "--executors", default=",".join(EXECUTORS), help=f"of: {', '.join(EXECUTORS)}"
    )
    args = parser.parse_args()
    chosen = [e.strip() for e in args.executors.split(",") if e.strip()]
    unknown = set(chosen) - set(EXECUTORS)
    if unknown:
        parser.error(f"unknown executors {sorted(unknown)}; valid: {', '.join(EXECUTORS)}")

    common = list(args.overrides)
    if args.data:
        common = ["dataset=synth", f"dataset.params.path={args.data}", *common]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"overrides: {' '.join(common) or 'none'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for generator, gen_overrides in GENERATORS.items():
            n = args.listeners if generator == "template" else args.model_listeners
            if n == 0:
                continue
            ids = Path(tmp) / f"ids-{n}.txt"
            ids.write_text("\n".join(listener_ids(n, common)) + "\n")
            local = None
            for executor in chosen:
                label, workers, executor_overrides = EXECUTORS[executor]
                overrides = [*common, *gen_overrides, *executor_overrides]
                overrides.append(f"executor.params.batch_size={args.batch_size}")
                r = run(ids, overrides)
                local = r["seconds"] if executor == "local" else local
                overhead = "—" if local is None else f"{r['seconds'] / local - 1:+.0%}"
                rate = r["listeners_per_second"]
                rows.append(
                    f"| {generator} | {label} | {n} | {r['seconds']:.1f} | {r['wall']:.1f} "
                    f"| {rate:.2f} | {rate / workers:.2f} | {r['cpu']:.0f} "
                    f"| {n / r['cpu']:.2f} | {r['stage_seconds'] * 1000:.0f} "
                    f"| {r['peak_gb']:.1f} | {overhead if executor != 'local' else '0'} "
                    f"| {os.getloadavg()[0]:.1f} |"
                )
                print(rows[-1], file=sys.stderr)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"batch size {args.batch_size}\n")
    print(
        "| generator | executor | listeners | run s | process s | listeners/s "
        "| listeners/s/worker | CPU s | listeners/CPU s | pipeline ms/listener | peak GB "
        "| overhead vs local | load |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
