"""``linernotes eval retrieval``: how much of what listeners went on to play each retriever finds.

On the seeded holdout split (:mod:`linernotes.split`) every configured
retriever is fitted on the training view and asked for ``depth`` candidates
per listener of the split (its input history excluded). The union is what the
pipeline merges: each retriever's top ``quota`` fused by weighted reciprocal
rank (:func:`linernotes.pipeline.merge`), at most ``candidates`` in all; its
recall@k counts the union's top ``k``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, choices
from ..metrics import recall_at_k

KS = (50, 200, 500)
UNION = "union"


@dataclass
class RetrieverResult:
    """One retriever's (or the union's) numbers on the split.

    ``candidates`` is the mean list length; ``unique_share`` the mean share of
    its candidates that no other retriever proposed (for the union: proposed by
    one retriever only); latency is for one request at a time, throughput for
    the whole split in one batch.
    """

    name: str
    component: str
    quota: int
    weight: float
    recall: dict[str, float]
    candidates: float
    unique_share: float
    latency_ms_p50: float
    latency_ms_p99: float
    listeners_per_second: float
    fit_seconds: float


@dataclass
class RetrievalEvaluation:
    """Setup and per-retriever results; the union comes last."""

    dataset: str
    split: str
    seed: int
    listeners: int
    depth: int
    budget: int
    results: list[RetrieverResult]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def evaluate_retrieval(
    overrides: Sequence[str] = (),
    retrievers: Sequence[str] = (),
    listeners: Sequence[str] | None = None,
    split: str = "test",
    seed: int = 0,
    depth: int = max(KS),
    latency_requests: int = 100,
    progress: bool = True,
) -> RetrievalEvaluation:
    """Evaluate the configured retrievers (or the ``conf/retrievers`` options named in
    ``retrievers``) and their union on the holdout ``split``.

    ``listeners`` restricts the split's listeners; ``latency_requests`` of them
    are timed one by one. Same arguments, same recall numbers.
    """

    from ..config import compose
    from ..datasets import load_catalog
    from ..pipeline import merge
    from ..registry import get_registry
    from ..split import SPLITS, holdout_split

    if split not in SPLITS:
        raise ConfigError(f"unknown split '{split}'; valid: {choices(SPLITS)}")
    if depth < 1 or latency_requests < 1:
        raise ConfigError("depth and latency_requests must be at least 1")
    chosen = [f"retrievers=[{','.join(retrievers)}]"] if retrievers else []
    cfg = compose([*overrides, *chosen])
    if not cfg.retrievers:
        raise ConfigError("no retrievers configured; choose some, e.g. retrievers=[colisten]")
    reg = get_registry()

    catalog = load_catalog(cfg.dataset, progress=progress)
    holdout = holdout_split(catalog, seed=seed)
    truth = holdout.truth(split)
    ids = holdout.select(split, listeners)
    requests = holdout.requests(split, ids)
    timed = requests[:latency_requests]
    entries = dict(cfg.retrievers.items())
    fitted: dict[str, Any] = {}
    fit_seconds: dict[str, float] = {}
    found: dict[str, list[list[str]]] = {}
    rows: list[RetrieverResult] = []
    with _progress(progress) as bar:
        task = bar.add_task("fitting and retrieving", total=len(entries) + 1)
        for name, entry in entries.items():
            bar.update(task, description=f"{name}: fitting")
            start = time.perf_counter()
            fitted[name] = reg.create_from("retriever", entry)
            fitted[name].fit(holdout.train)
            fit_seconds[name] = time.perf_counter() - start
            bar.update(task, description=f"{name}: retrieving")

            def one(reqs, r=fitted[name]):
                return r.retrieve(reqs, depth)

            lists, speed, p50, p99 = _measure(one, requests, timed)
            found[name] = [[c.item_id for c in cs] for cs in lists]
            rows.append(_row(name, entry, found[name], requests, truth, speed, p50, p99))
            rows[-1].fit_seconds = fit_seconds[name]
            bar.advance(task)

        weights = {name: float(e.weight) for name, e in entries.items()}

        def union(reqs):
            lists = {n: fitted[n].retrieve(reqs, int(e.quota)) for n, e in entries.items()}
            return [
                merge(
                    {n: lists[n][i] for n in lists},
                    weights,
                    cfg.candidates,
                    set(r.listener.history),
                )
                for i, r in enumerate(reqs)
            ]

        bar.update(task, description="union")
        merged, speed, p50, p99 = _measure(union, requests, timed)
        bar.advance(task)
    for row in rows:
        row.unique_share = _unique_share(row.name, found)
    single = [float(np.mean([len(c.sources) == 1 for c in cs])) for cs in merged if cs]
    union_row = _row(
        UNION, None, [[c.item_id for c in cs] for cs in merged], requests, truth, speed, p50, p99
    )
    union_row.unique_share = float(np.mean(single)) if single else 0.0
    union_row.quota = int(cfg.candidates)
    union_row.fit_seconds = sum(fit_seconds.values())
    rows.append(union_row)
    return RetrievalEvaluation(
        catalog.name, split, seed, len(requests), depth, int(cfg.candidates), rows
    )


def _measure(fn: Callable, requests: list, timed: list) -> tuple[list, float, float, float]:
    """Run ``fn`` on the whole batch (throughput) and on each timed request alone (latency)."""
    start = time.perf_counter()
    out = fn(requests)
    speed = len(requests) / max(time.perf_counter() - start, 1e-9)
    latencies = []
    for req in timed:
        start = time.perf_counter()
        fn([req])
        latencies.append((time.perf_counter() - start) * 1000)
    p50, p99 = np.percentile(latencies, [50, 99]) if latencies else (0.0, 0.0)
    return out, speed, float(p50), float(p99)


def _row(name, entry, lists, requests, truth, speed, p50, p99) -> RetrieverResult:
    recall = {
        f"recall@{k}": float(
            np.mean(
                [
                    recall_at_k(ids, truth[r.listener.id], k)
                    for r, ids in zip(requests, lists, strict=True)
                ]
            )
        )
        for k in KS
    }
    return RetrieverResult(
        name=name,
        component=entry.component if entry is not None else UNION,
        quota=int(entry.quota) if entry is not None else 0,
        weight=float(entry.weight) if entry is not None else 0.0,
        recall=recall,
        candidates=float(np.mean([len(x) for x in lists])) if lists else 0.0,
        unique_share=0.0,
        latency_ms_p50=p50,
        latency_ms_p99=p99,
        listeners_per_second=speed,
        fit_seconds=0.0,
    )


def _unique_share(name: str, found: dict[str, list[list[str]]]) -> float:
    """Mean share of ``name``'s candidates that no other retriever proposed."""
    shares = []
    for n, own in enumerate(found[name]):
        if not own:
            continue
        others = set().union(*(found[o][n] for o in found if o != name))
        shares.append(sum(i not in others for i in own) / len(own))
    return float(np.mean(shares)) if shares else 0.0


def _progress(enabled: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=True,
    )
