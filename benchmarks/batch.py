"""Benchmark of `linernotes batch`: listeners per second, local executor against Beam.

    uv run python benchmarks/batch.py                                # 200 + 16 listeners
    uv run python benchmarks/batch.py --listeners 40 --model-listeners 0   # a quick check

Runs the same listeners (the mirror's first N) through each executor, every run a fresh
`linernotes batch ... --json` process with an empty output folder:
- local: in process, batched;
- beam, 1 worker: the DirectRunner in memory;
- beam, 2 workers: the DirectRunner with 2 worker processes;
once with the template generator and once with the default model (SmolLM2-135M) on fewer
listeners. Reports, as a Markdown table: the run's seconds (pipeline build included, as a
batch job pays it), listeners per second, the pipeline's own stage seconds per listener
(from the result rows), and Beam's overhead: its run time over the local run's, minus one.

Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset) and a warm cache (run any
`linernotes recommend` first, or the first run pays the catalog build and model
conversion). Timings depend on load: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXECUTORS = {  # name: (label, overrides)
    "local": ("local", ["executor=local"]),
    "beam1": ("beam, 1 worker (in memory)", ["executor=beam"]),
    "beam2": (
        "beam, 2 worker processes",
        [
            "executor=beam",
            "executor.params.direct_num_workers=2",
            "executor.params.direct_running_mode=multi_processing",
        ],
    ),
}
GENERATORS = {"template": ["generator=template"], "SmolLM2-135M (default)": []}


def listener_ids(n: int) -> list[str]:
    """The mirror's first ``n`` listener ids."""
    from linernotes.config import compose
    from linernotes.datasets import load_catalog

    return list(load_catalog(compose().dataset, progress=False).listener_ids[:n])


def run(listeners: Path, overrides: list[str]) -> dict:
    """One `linernotes batch --json` run in a fresh process and output folder: its report,
    its wall time, and the pipeline's stage seconds per listener."""
    from linernotes_batch import summarize

    with tempfile.TemporaryDirectory(prefix="linernotes-batch-bench-") as out:
        cmd = [sys.executable, "-m", "linernotes.cli", "batch", "--json"]
        cmd += ["--listeners", str(listeners), "--out", out, *overrides]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout)
        (summary,) = summarize(report["path"])
        if not summary.complete:
            sys.exit(f"not exactly once: {summary.to_dict()}")
    return {**report, "wall": wall, "stage_seconds": sum(summary.stage_seconds.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listeners", type=int, default=200, help="with the template generator")
    parser.add_argument(
        "--model-listeners", type=int, default=16, help="with the default model (0: skip)"
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--executors", default=",".join(EXECUTORS), help=f"of: {', '.join(EXECUTORS)}"
    )
    args = parser.parse_args()
    chosen = [e.strip() for e in args.executors.split(",") if e.strip()]
    unknown = set(chosen) - set(EXECUTORS)
    if unknown:
        parser.error(f"unknown executors {sorted(unknown)}; valid: {', '.join(EXECUTORS)}")

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for generator, gen_overrides in GENERATORS.items():
            n = args.listeners if generator == "template" else args.model_listeners
            if n == 0:
                continue
            ids = Path(tmp) / f"ids-{n}.txt"
            ids.write_text("\n".join(listener_ids(n)) + "\n")
            local = None
            for executor in chosen:
                label, executor_overrides = EXECUTORS[executor]
                overrides = [*gen_overrides, *executor_overrides]
                overrides.append(f"executor.params.batch_size={args.batch_size}")
                r = run(ids, overrides)
                local = r["seconds"] if executor == "local" else local
                overhead = "—" if local is None else f"{r['seconds'] / local - 1:+.0%}"
                rows.append(
                    f"| {generator} | {label} | {n} | {r['seconds']:.1f} | {r['wall']:.1f} "
                    f"| {r['listeners_per_second']:.2f} | {r['stage_seconds'] * 1000:.0f} "
                    f"| {overhead if executor != 'local' else '0'} |"
                )
                print(rows[-1], file=sys.stderr)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"batch size {args.batch_size}\n")
    print(
        "| generator | executor | listeners | run s | process s | listeners/s "
        "| pipeline ms/listener | overhead vs local |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
