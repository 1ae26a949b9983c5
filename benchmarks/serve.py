"""Benchmark of `linernotes serve`: throughput and latency under Locust, on loopback.

    uv run --group bench python benchmarks/serve.py                       # everything
    uv run --group bench python benchmarks/serve.py --scenarios stored,template --seconds 10

Each scenario starts a fresh `linernotes serve` process (the real command, on the mirror's
catalog), records its time to ready and its memory at rest, then runs Locust headless
(benchmarks/serve_locustfile.py: every user asks POST /v1/recommend again as soon as it has
an answer) for --seconds at each number of users, sampling the server's memory:
- stored: generator=template, the story store prefilled with --listeners listeners' stories;
  every request is a store hit;
- template: generator=template, no store (--no-store): every request runs the pipeline;
  half the requests carry a mood, activity or time;
- model: the default model (SmolLM2-135M), no store, the default 2.5 s deadline: reports the
  share of requests that got the verified fallback (at the deadline, or at once when the
  generator's queue is full);
- batching: the default model with no deadline (every answer is the model's story, or its
  verified fallback when no draft passes), at --batching-users users, with --max-batch 1
  against micro-batching (--max-batch 16); runs --batching-seconds each.
Prints Markdown tables: requests answered (without failure) per second, p50/p95/p99
(ms), failures, the share of requests that got the verified fallback at the deadline or at
once because the generator's queue was full, and the server's memory.

Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset) and a warm cache (run any
`linernotes recommend` first). Locust shares the machine's cores with the server: on a
2-core machine the load generator takes about one. Timings depend on load; the load
average is printed with the results.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

os.environ.setdefault("HF_HUB_OFFLINE", "1")
LOCUSTFILE = Path(__file__).with_name("serve_locustfile.py")
TEMPLATE = ["generator=template"]


@dataclass
class Server:
    """A `linernotes serve` process: its URL, start-up seconds, memory at rest and peak."""

    process: subprocess.Popen
    url: str
    ready_seconds: float = 0.0
    rest_mb: float = 0.0
    peak_mb: float = 0.0
    log: Path | None = None
    _sampling: threading.Event = field(default_factory=threading.Event)

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def sample_while(self, fn):
        """Run ``fn()`` while sampling the server's memory; return its result."""
        self._sampling.clear()

        def sample():
            while not self._sampling.wait(0.25):
                self.peak_mb = max(self.peak_mb, self.rss_mb())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            return fn()
        finally:
            self._sampling.set()
            thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(overrides: list[str], options: list[str], folder: Path) -> Server:
    """Start `linernotes serve` and wait until /readyz answers 200."""
    port = free_port()
    log = folder / f"server-{port}.log"
    cmd = [sys.executable, "-m", "linernotes.cli", "serve", *overrides, "--port", str(port)]
    cmd += ["--feedback-store", str(folder / "feedback"), "--log-level", "warning", *options]
    began = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    server = Server(process, f"http://127.0.0.1:{port}", log=log)
    while True:
        if process.poll() is not None:
            sys.exit(f"the server exited: {' '.join(cmd)}\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + "/readyz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.ready_seconds = time.perf_counter() - began
    time.sleep(1)
    server.rest_mb = server.peak_mb = server.rss_mb()
    return server


def stop(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(60)
    except subprocess.TimeoutExpired:
        server.process.kill()


def deadline_counts(url: str) -> dict[str, float]:
    """The server's deadline counters: met, missed (the fallback at the deadline) and busy
    (the fallback at once: the queue was full)."""
    text = httpx.get(url + "/metrics", timeout=10).text

    def count(result: str) -> float:
        found = re.search(rf'linernotes_deadlines_total{{result="{result}"}} (\S+)', text)
        return float(found.group(1)) if found else 0.0

    return {result: count(result) for result in ("met", "missed", "busy")}


def locust(url: str, users: int, seconds: int, listeners: Path, context: str, folder: Path):
    """One headless Locust run; its aggregated row of the stats CSV."""
    prefix = folder / f"locust-{users}-{time.monotonic_ns()}"
    cmd = ["locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--host", url]
    cmd += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--csv", str(prefix)]
    cmd += ["--stop-timeout", "0", "--loglevel", "WARNING"]
    env = {**os.environ, "LINERNOTES_BENCH_LISTENERS": str(listeners)}
    env["LINERNOTES_BENCH_CONTEXT"] = context
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(f"{prefix}_stats.csv") as f:
        return next(row for row in csv.DictReader(f) if row["Name"] == "Aggregated")


def listener_ids(n: int) -> list[str]:
    """The mirror's first ``n`` listener ids."""
    from linernotes.config import compose
    from linernotes.datasets import load_catalog

    return list(load_catalog(compose().dataset, progress=False).listener_ids[:n])


def measure(
    label: str,
    server: Server,
    users: list[int],
    seconds: int,
    listeners: Path,
    context: str,
    folder: Path,
) -> list[str]:
    """Locust at each number of users: one Markdown row each."""
    rows = []
    for n in users:
        before = deadline_counts(server.url)
        stats = server.sample_while(
            lambda n=n: locust(server.url, n, seconds, listeners, context, folder)
        )
        after = deadline_counts(server.url)
        seen = {result: after[result] - before[result] for result in after}
        timed = sum(seen.values())
        share = f"{seen['missed'] / timed:.0%} / {seen['busy'] / timed:.0%}" if timed else "—"
        ok = (int(stats["Request Count"]) - int(stats["Failure Count"])) / seconds
        rows.append(
            f"| {label} | {n} | {int(stats['Request Count'])} | {ok:.2f} "
            f"| {stats['50%']} | {stats['95%']} | {stats['99%']} | {stats['Failure Count']} "
            f"| {share} | {server.peak_mb:.0f} |"
        )
        print(rows[-1], file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", default="stored,template,model,batching")
    parser.add_argument("--users", default="1,8,32", help="concurrent users per run")
    parser.add_argument("--seconds", type=int, default=20, help="per stored/template run")
    parser.add_argument("--model-users", default="1,8,32")
    parser.add_argument("--model-seconds", type=int, default=60, help="per model run")
    parser.add_argument("--batching-users", type=int, default=16)
    parser.add_argument("--batching-seconds", type=int, default=300, help="per micro-batching run")
    parser.add_argument(
        "--listeners", type=int, default=500, help="listeners the requests choose from"
    )
    args = parser.parse_args()
    chosen = {s.strip() for s in args.scenarios.split(",") if s.strip()}
    unknown = chosen - {"stored", "template", "model", "batching"}
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    users = [int(u) for u in args.users.split(",")]
    model_users = [int(u) for u in args.model_users.split(",")]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows, starts = [], []
    with tempfile.TemporaryDirectory(prefix="linernotes-serve-bench-") as tmp:
        folder = Path(tmp)
        ids = listener_ids(args.listeners)
        listeners = folder / "listeners.txt"
        listeners.write_text("\n".join(ids) + "\n")

        def scenario(name, label, overrides, options, run):
            if name not in chosen:
                return
            server = start(overrides, options, folder)
            starts.append(f"| {label} | {server.ready_seconds:.1f} | {server.rest_mb:.0f} |")
            try:
                run(server)
            finally:
                stop(server)

        def stored(server: Server) -> None:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                for listener in ids:  # prefill the store: one story per listener
                    client.post("/v1/recommend", json={"listener": listener}).raise_for_status()
            rows.extend(measure("stored", server, users, args.seconds, listeners, "none", folder))

        scenario("stored", "stored (template)", TEMPLATE, ["--store", str(folder / "s.db")], stored)
        scenario(
            "template",
            "template, no store",
            TEMPLATE,
            ["--no-store"],
            lambda s: rows.extend(
                measure("on demand: template", s, users, args.seconds, listeners, "mixed", folder)
            ),
        )
        scenario(
            "model",
            "model, no store",
            [],
            ["--no-store"],
            lambda s: rows.extend(
                measure(
                    "on demand: model, 2.5 s deadline",
                    s,
                    model_users,
                    args.model_seconds,
                    listeners,
                    "mixed",
                    folder,
                )
            ),
        )
        for max_batch in (1, 16):
            scenario(
                "batching",
                f"model, max-batch {max_batch}",
                [],
                ["--no-store", "--deadline-ms", "0", "--max-batch", str(max_batch)],
                lambda s, b=max_batch: rows.extend(
                    measure(
                        f"model, no deadline, max-batch {b}",
                        s,
                        [args.batching_users],
                        args.batching_seconds,
                        listeners,
                        "mixed",
                        folder,
                    )
                ),
            )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| server | time to ready (s) | memory at rest (MB) |\n|---|---|---|")
    print("\n".join(starts) + "\n")
    print(
        "| scenario | users | requests | answered/s | p50 ms | p95 ms | p99 ms | failures "
        "| fallback: at deadline / queue full | peak memory (MB) |"
        "\n|---|---|---|---|---|---|---|---|---|---|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
