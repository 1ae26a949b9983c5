"""How the cost grows with the catalog: time, throughput and peak memory per stage, by scale.

    uv run python benchmarks/scale.py                            # scales 0.1,0.3,1,3,10
    uv run python benchmarks/scale.py --scales 30,100 --memory-gb 12 --timeout 900
    uv run python benchmarks/scale.py --scales ""                # table and plot only

For each scale a synthetic catalog is written once with `linernotes data synth` (kept
under --work), then every stage runs in a fresh subprocess under a memory cap
(RLIMIT_AS) and a timeout, so peaks do not mix and a stage that blows up is recorded as
failed rather than ending the run:

- prepare: the catalog bundle from the raw files (`linernotes data prepare --force`);
- fit ...: each component of the default config fitted alone with a cold fitted-state
  cache: the retrievers, the ranker, the blend's feature models and the safety filters;
- serve ...: one batch of --listeners listeners through `Pipeline.run` (retrieve, rank,
  ground, screen, then the template story and its safety review), fitted state warm;
  where the catalog has fewer listeners, their time is scaled up to --listeners.

Writes --work/scale.json, docs/img/scale.png (seconds against listeners, log-log) and
prints a Markdown table with each stage's exponent: the slope of log seconds on log
listeners over the scales where it succeeded (1 is linear), and over its last two. Needs
LINERNOTES_DATA_MIRROR (the synthetic data is fitted on the real data). Results of
earlier runs in the same --work are kept, so scales can be added one run at a time.
The load average is printed: on a shared machine the timings move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ["generator=template", "dataset=synth"]
FEATURES = ("ease", "itemknn", "rp3beta", "ials")  # the blend's feature models
SERVE_STAGES = ("retrieve", "rank", "ground", "screen", "generate", "safety")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="0.1,0.3,1,3,10", help="comma separated")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "ln-scale")
    parser.add_argument("--listeners", type=int, default=500, help="served in one batch")
    parser.add_argument("--memory-gb", type=float, default=12.0, help="address space per stage")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per stage")
    parser.add_argument("--overrides", default="", help="more Hydra overrides, comma separated")
    only = "only the stages whose name holds one of these words, comma separated (the rest kept)"
    parser.add_argument("--stages", default="", help=only)
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "img" / "scale.png")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    args.work.mkdir(parents=True, exist_ok=True)
    out = args.work / "scale.json"
    results = json.loads(out.read_text()) if out.is_file() else {}
    extra = [o for o in args.overrides.split(",") if o]
    print(f"load average before: {_load()}", flush=True)
    for scale in (float(s) for s in args.scales.split(",") if s):
        data = synthesize(args.work, scale)
        listeners = json.loads((data / "synth.json").read_text())["listeners"]
        cache = args.work / f"cache-{scale:g}"
        shutil.rmtree(cache / "fitted", ignore_errors=True)
        shutil.rmtree(cache / "embeddings", ignore_errors=True)
        row = results.setdefault(f"{scale:g}", {"scale": scale, "listeners": listeners})
        words = [w for w in args.stages.split(",") if w]
        if not words:
            row["stages"] = {}
        for stage in stages(data, extra):
            if words and not any(w in stage["name"] for w in words):
                continue
            spec = {**stage, "data": str(data), "overrides": BASE + extra + stage.get("extra", [])}
            spec["listeners"] = args.listeners
            unfit = [n for n, r in row["stages"].items() if n.startswith("fit") and "failed" in r]
            if stage["kind"] == "serve" and unfit:  # it would fit them again, and fail again
                found = {"serve": {"failed": f"skipped: {unfit[0]} failed"}}
            else:
                found = run_stage(spec, cache, args.memory_gb, args.timeout)
            row["stages"].update(found)
            row["load"] = _load()
            out.write_text(json.dumps(results, indent=1))
            for name, r in found.items():
                print(f"scale {scale:g} ({listeners:,} listeners) {name}: {_cell(r)}", flush=True)
    print(f"load average after: {_load()}\n")
    print(table(results))
    plot(results, args.plot)
    print(f"\nwrote {out} and {args.plot}")


def synthesize(work: Path, scale: float) -> Path:
    """The synthetic raw files of ``scale``, written once into ``work``."""
    data = work / f"synth-{scale:g}"
    if not (data / "synth.json").is_file():
        print(f"writing the synthetic catalog of scale {scale:g} ...", flush=True)
        subprocess.run(
            ["linernotes", "data", "synth", "--scale", str(scale), "--out", str(data)], check=True
        )
    return data


def stages(data: Path, extra: list[str]) -> list[dict]:
    """The stages of the configured pipeline, in the order they run."""
    from linernotes.config import compose

    cfg = compose([*BASE, f"dataset.params.path={data}", *extra])
    found = [{"name": "prepare", "kind": "prepare"}]
    found += [{"name": f"fit retriever {n}", "kind": "retriever", "key": n} for n in cfg.retrievers]
    found.append({"name": f"fit ranker {cfg.ranker.component}", "kind": "ranker"})
    if cfg.ranker.component == "blend":
        for feature in FEATURES:
            params = cfg.ranker.params[feature]
            tune = [f"++ranker.params.{k}={v}" for k, v in params.items()]
            found.append(
                {"name": f"fit {feature}", "kind": "ranker", "extra": [f"ranker={feature}", *tune]}
            )
    found += [{"name": f"fit safety {n}", "kind": "safety_filter", "key": n} for n in cfg.safety]
    found.append({"name": "serve", "kind": "serve"})
    return found


def run_stage(spec: dict, cache: Path, memory_gb: float, timeout: float) -> dict[str, dict]:
    """Run one stage in a capped subprocess: its results by name, or its failure."""
    fit = spec["kind"] not in ("prepare", "serve")
    home = cache / "fit-cold" if fit else cache
    (cache / "catalogs").mkdir(parents=True, exist_ok=True)
    if fit:  # a cold fitted cache that shares the prepared catalogs
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        (home / "catalogs").symlink_to(cache / "catalogs")
    result = home / "result.json"
    result.unlink(missing_ok=True)
    log = cache / f"{spec['name'].replace(' ', '-')}.log"
    env = {**os.environ, "LINERNOTES_CACHE_DIR": str(home), "HF_HUB_OFFLINE": "1"}
    cap = int(memory_gb * 2**30)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    command = [sys.executable, __file__, "--child", json.dumps({**spec, "result": str(result)})]
    with open(log, "w") as err:
        proc = subprocess.Popen(command, env=env, stderr=err, stdout=err, preexec_fn=limit)
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline and not timed_out:
            os.kill(proc.pid, signal.SIGKILL)
            timed_out = True
        time.sleep(0.2)
    peak_gb = usage.ru_maxrss / 2**20
    if fit:
        for sub in ("fitted", "embeddings"):  # the serve stage reads them warm
            if (home / sub).is_dir():
                shutil.copytree(home / sub, cache / sub, dirs_exist_ok=True)
        shutil.rmtree(home / "fitted", ignore_errors=True)
    if result.is_file() and os.waitstatus_to_exitcode(status) == 0:
        found = json.loads(result.read_text())
        for r in found.values():
            r["peak_gb"] = round(peak_gb, 3)
        return found
    tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
    if timed_out:
        why = f"out of time (> {timeout:g} s)"
    elif "MemoryError" in tail[0] or "memory allocation" in log.read_text(errors="replace"):
        why = f"out of memory (> {memory_gb:g} GB)"
    else:
        why = f"exit {os.waitstatus_to_exitcode(status)}: {tail[0][:120]}"
    return {spec["name"]: {"failed": why, "peak_gb": round(peak_gb, 3)}}


def child(spec: dict) -> None:
    """One stage, measured in this process; its results go to ``spec['result']``."""
    from linernotes.config import compose
    from linernotes.datasets import load_catalog, prepare
    from linernotes.registry import get_registry

    cfg = compose(spec["overrides"] + [f"dataset.params.path={spec['data']}"])
    kind = spec["kind"]
    if kind == "prepare":
        dataset = get_registry().create_from("dataset", cfg.dataset)
        start = time.perf_counter()
        bundle = prepare(dataset, force=True, progress=False)
        seconds = time.perf_counter() - start
        found = {"prepare": _measure(seconds, _rows(bundle), "listening rows")}
    elif kind == "serve":
        from linernotes.pipeline import Pipeline

        pipe = Pipeline.from_config(cfg, progress=False)
        ids = pipe.catalog.listener_ids[: spec["listeners"]]
        requests = [pipe.request(listener=i) for i in ids]
        results = pipe.run(requests)
        timings = results[0].trace.timings  # a batch's stage times are on each trace
        share = spec["listeners"] / len(ids)  # a catalog with fewer listeners: scaled up
        found = {
            f"serve {s}": {**_measure(timings[s], len(ids), "listeners"), "served": len(ids)}
            | {"seconds": round(timings[s] * share, 4)}
            for s in SERVE_STAGES
            if s in timings
        }
    else:
        catalog = load_catalog(cfg.dataset, progress=False)
        if kind == "ranker":
            node = cfg.ranker
        elif kind == "retriever":
            node = cfg.retrievers[spec["key"]]
        else:
            node = cfg.safety[spec["key"]]
        component = get_registry().create_from(kind, node)
        start = time.perf_counter()
        component.fit(catalog)
        seconds = time.perf_counter() - start
        found = {spec["name"]: _measure(seconds, catalog.interactions.height, "listening rows")}
    Path(spec["result"]).write_text(json.dumps(found))


def _measure(seconds: float, units: int, unit: str) -> dict:
    per_second = round(units / max(seconds, 1e-9), 1)
    return {"seconds": round(seconds, 4), "per_second": per_second, "unit": unit}


def _rows(bundle: Path) -> int:
    import polars as pl

    return pl.scan_parquet(bundle / "interactions.parquet").select(pl.len()).collect().item()


def exponent(points: list[tuple[int, float]]) -> float | None:
    """The slope of log seconds on log listeners; None with fewer than two points."""
    import numpy as np

    if len(points) < 2:
        return None
    x, y = np.log([p[0] for p in points]), np.log([max(p[1], 1e-4) for p in points])
    return float(np.polyfit(x, y, 1)[0])


def _series(results: dict) -> dict[str, list[tuple[int, float]]]:
    """Each stage's (listeners, seconds) where it succeeded, by scale."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in sorted(results.values(), key=lambda r: r["scale"]):
        for name, r in row.get("stages", {}).items():
            points = series.setdefault(name, [])
            if "seconds" in r:
                points.append((row["listeners"], r["seconds"]))
    return series


def table(results: dict) -> str:
    """A Markdown table: seconds and peak memory per stage and scale, and the exponent."""
    rows = sorted(results.values(), key=lambda r: r["scale"])
    head = " | ".join(f"{r['scale']:g} ({r['listeners']:,})" for r in rows)
    lines = [
        f"| stage | {head} | exponent | last two | throughput at the largest scale |",
        "|---" * (len(rows) + 4) + "|",
    ]
    for name, points in _series(results).items():
        if points and not any(s for _, s in points):
            continue  # nothing to fit (e.g. filters with fixed rules)
        cells = [_cell(r["stages"][name]) if name in r["stages"] else "" for r in rows]
        slope = exponent(points)
        slope = "" if slope is None else f"{slope:.2f}"
        local = exponent(points[-2:])
        local = "" if local is None else f"{local:.2f}"
        done = [r["stages"][name] for r in rows if "seconds" in r["stages"].get(name, {})]
        last = done[-1] if done else None
        speed = ""
        if last and last["seconds"] >= 0.01:
            speed = f"{last['per_second']:,.0f} {last['unit']}/s"
        lines.append(f"| {name} | {' | '.join(cells)} | {slope} | {local} | {speed} |")
    return "\n".join(lines)


def _cell(r: dict) -> str:
    if "failed" in r:
        return f"failed: {r['failed']}"
    return f"{r['seconds']:.3g} s, {r['peak_gb']:.2g} GB"  # the process's peak RSS


def plot(results: dict, path: Path) -> None:
    """Seconds against listeners per stage, log-log, with the linear slope for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6))
    ax.set_prop_cycle(color=plt.get_cmap("tab20").colors)
    for name, points in _series(results).items():
        if len(points) > 1 and any(s for _, s in points):
            x, y = zip(*points, strict=True)
            style = "--" if name.startswith("serve") else "-"  # per batch, not per catalog
            ax.plot(x, y, style, marker="o", label=f"{name} ({exponent(points):.2f})")
    ax.set(xscale="log", yscale="log", xlabel="listeners", ylabel="seconds")
    ax.set_title("Cost by scale (legend: exponent of seconds on listeners)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
