"""Benchmark of retrieval and ranking alone: listeners per second by batch size, and the
latency of one request.

    uv run python benchmarks/ranking_speed.py                    # default config
    uv run python benchmarks/ranking_speed.py --profile /tmp/rank  # and cProfile both stages

Builds the default pipeline (generator=template; the generator is not run) once, then
runs the mirror's listeners through retrieval (every retriever and the merge) and the
ranker, in batches of each size (every listener once per size, at most ``--listeners``),
and one at a time for the latency percentiles. It also times the ranker's three parts on
a batch of 256: features, the model's predictions, and the final ordering. With
``--profile``, the stages of that batch are profiled and the top functions printed.
Everything is measured under the server's process settings
(``linernotes_serve.app.serving_settings``: the fitted pipeline frozen out of the garbage
collector, BLAS on one thread); ``--plain`` measures without them.

Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset) and a warm cache. Timings depend
on load: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overrides", default="generator=template", help="comma separated")
    parser.add_argument("--batch-sizes", default="1,32,256,1024")
    parser.add_argument("--listeners", type=int, default=1024, help="per batch size, at most")
    parser.add_argument("--single", type=int, default=200, help="requests timed one by one")
    parser.add_argument("--profile", help="write cProfile stats to PREFIX.retrieve/.rank")
    parser.add_argument("--plain", action="store_true", help="without the server's settings")
    args = parser.parse_args()
    import linernotes
    from linernotes_serve.app import serving_settings

    pipeline = linernotes.build_pipeline(
        [o for o in args.overrides.split(",") if o], progress=False
    )
    with contextlib.nullcontext() if args.plain else serving_settings():
        measure(pipeline, args)


def measure(pipeline, args) -> None:
    import numpy as np
    from linernotes_rankers._scoring import ordered

    ids = pipeline.catalog.listener_ids
    requests = [pipeline._resolve(pipeline.request(listener=i)) for i in ids]

    def serve(batch):
        start = time.perf_counter()
        merged = pipeline._retrieve(batch)
        middle = time.perf_counter()
        pipeline.ranker.rank(batch, merged)
        return middle - start, time.perf_counter() - middle

    serve(requests[:8])  # warm: lazily loaded models, first-call imports
    print(f"load average before: {load()}\n")
    print("| batch | listeners | listeners/s | retrieve ms/listener | rank ms/listener |")
    print("|---|---|---|---|---|")
    for size in (int(b) for b in args.batch_sizes.split(",")):
        chosen = requests[: max(size, min(args.listeners, len(requests)))]
        spent = np.zeros(2)
        for lo in range(0, len(chosen) - size + 1, size):
            spent += serve(chosen[lo : lo + size])
        done = (len(chosen) // size) * size
        retrieve, rank = spent / done * 1000
        print(f"| {size} | {done} | {done / spent.sum():.0f} | {retrieve:.2f} | {rank:.2f} |")

    single = np.array([sum(serve([r])) for r in requests[-args.single :]]) * 1000
    p50, p99 = np.percentile(single, [50, 99])
    print(f"\none request at a time ({len(single)}): p50 {p50:.1f} ms, p99 {p99:.1f} ms")

    batch = requests[100:356]
    merged = pipeline._retrieve(batch)
    ranker = pipeline.ranker
    start = time.perf_counter()
    x = ranker.features(batch, merged)
    features = time.perf_counter()
    scores = ranker.scorer.predict(x)
    predict = time.perf_counter()
    ordered(merged, scores)
    end = time.perf_counter()
    print(
        f"rank of 256 ({len(x)} candidates): features {features - start:.3f} s, "
        f"predict {predict - features:.3f} s ({len(x) / (predict - features):,.0f} rows/s), "
        f"ordering {end - predict:.3f} s"
    )
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx(
            "pipeline._retrieve(batch)", globals(), locals(), args.profile + ".retrieve"
        )
        cProfile.runctx("ranker.rank(batch, merged)", globals(), locals(), args.profile + ".rank")
        for stage in ("retrieve", "rank"):
            pstats.Stats(f"{args.profile}.{stage}").sort_stats("tottime").print_stats(12)
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
