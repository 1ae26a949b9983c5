"""Benchmark of the pipeline's own work per request (no HTTP), by batch size and stage.

    uv run python benchmarks/pipeline.py                       # generator=template
    uv run python benchmarks/pipeline.py --overrides ranker=popcolisten --batch-sizes 1,32

Builds the pipeline once, then runs distinct requests of the mirror's listeners (every
other one with a mood) in batches of each size, each listener once per size, and prints
a Markdown table: milliseconds per request in all and per stage (from the result traces).
This is what an on-demand request costs `linernotes serve` before HTTP and JSON, under
the server's process settings (``serving_settings``; ``--plain``: without them).

Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset) and a warm cache. Timings depend
on load: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
STAGES = ("retrieve", "rank", "ground", "screen", "generate", "safety")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overrides", default="generator=template", help="comma separated")
    parser.add_argument("--batch-sizes", default="1,8,32")
    parser.add_argument("--requests", type=int, default=128, help="per batch size")
    parser.add_argument("--plain", action="store_true", help="without the server's settings")
    args = parser.parse_args()
    import linernotes
    from linernotes_serve.app import serving_settings

    overrides = [o for o in args.overrides.split(",") if o]
    pipeline = linernotes.build_pipeline(overrides, progress=False)
    with contextlib.nullcontext() if args.plain else serving_settings():
        measure(pipeline, overrides, args)


def measure(pipeline, overrides: list[str], args) -> None:
    ids = pipeline.catalog.listener_ids
    pipeline.run([pipeline.request(listener=i) for i in ids[:8]])  # warm caches
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"overrides: {' '.join(overrides) or '(defaults)'}\n")
    print("| batch | requests | ms/request | " + " | ".join(STAGES) + " |")
    print("|---" * (3 + len(STAGES)) + "|")
    for size in (int(b) for b in args.batch_sizes.split(",")):
        chosen = ids[100 : 100 + args.requests]
        requests = [
            pipeline.request(listener=i, mood="calm" if n % 2 else None)
            for n, i in enumerate(chosen)
        ]
        stages = dict.fromkeys(STAGES, 0.0)
        start = time.perf_counter()
        for lo in range(0, len(requests), size):
            results = pipeline.run(requests[lo : lo + size])
            for stage in STAGES:  # a batch's stage time is on each of its traces
                stages[stage] += results[0].trace.timings.get(stage, 0.0)
        per = (time.perf_counter() - start) / len(requests) * 1000
        cells = " | ".join(f"{stages[s] / len(requests) * 1000:.1f}" for s in STAGES)
        print(f"| {size} | {len(requests)} | {per:.1f} | {cells} |")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
