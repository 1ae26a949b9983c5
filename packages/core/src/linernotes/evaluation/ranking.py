"""``linernotes eval ranking``: every ranker on the same candidates of the seeded holdout split.

The candidates are the pipeline's own: the union of the configured retrievers'
proposals (each up to its quota, ``candidates`` in all), fitted on the
training view, with the listener's input history excluded. Every ranker
orders the same lists, so the comparison is fair; the share of held-out items
that the lists contain (``candidate_recall``) bounds every ranker's recall.
Rankers are fitted on :attr:`linernotes.split.Holdout.train` and never see a
held-out item.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..metrics import average_precision_at_k, ndcg_at_k, recall_at_k

BASELINES = ("popularity", "itemknn", "ease", "rp3beta")
"""Rankers that every comparison includes."""

METRICS = ("recall@10", "recall@20", "ndcg@10", "map@10")


@dataclass
class RankerResult:
    """One ranker's numbers on the split."""

    name: str
    component: str
    params: dict[str, Any]
    metrics: dict[str, float]
    ndcg_ci: tuple[float, float]
    vs_ease: tuple[float, float, float] | None
    fit_seconds: float
    requests_per_second: float
    fit_stats: dict[str, float] = field(default_factory=dict)


@dataclass
class RankingEvaluation:
    """The side-by-side comparison: setup, per-ranker results, per-listener NDCG@10."""

    dataset: str
    split: str
    seed: int
    listeners: int
    candidates: int
    retrievers: dict[str, int]
    candidate_recall: float
    results: list[RankerResult]
    per_listener_ndcg: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        out = dataclasses.asdict(self)
        out.pop("per_listener_ndcg")
        return out


def novelty(ranked: Sequence[str], popularity: dict[str, float], listeners: int) -> float:
    """Mean self-information ``-log2(p)`` of the items; ``p``: the share of listeners playing it."""
    if not ranked:
        return 0.0
    return float(np.mean([-math.log2(max(popularity.get(i, 0), 1) / listeners) for i in ranked]))


def intra_list_diversity(ranked: Sequence[str], vectors: dict[str, np.ndarray]) -> float:
    """Mean pairwise cosine distance of the items' tag vectors (items without tags are skipped)."""
    vs = [vectors[i] for i in ranked if i in vectors]
    if len(vs) < 2:
        return 0.0
    return float(np.mean([1.0 - float(a @ b) for a, b in combinations(vs, 2)]))


def tag_vectors(catalog) -> dict[str, np.ndarray]:
    """Unit-length tag vectors (listener counts per tag, idf-weighted) by item id."""
    import polars as pl
    import scipy.sparse as sp

    tags = catalog.item_tags.filter(pl.col("item_id").is_in(catalog.item_ids))
    if tags.height == 0:
        return {}
    names = {t: n for n, t in enumerate(tags["tag"].unique().sort().to_list())}
    items = {i: n for n, i in enumerate(tags["item_id"].unique().sort().to_list())}
    m = sp.csr_matrix(
        (
            np.log1p(tags["listeners"].to_numpy().astype(float)),
            ([items[i] for i in tags["item_id"]], [names[t] for t in tags["tag"]]),
        ),
        shape=(len(items), len(names)),
    )
    df = np.bincount(m.indices, minlength=len(names))
    m = m @ sp.diags(np.log(len(items) / df) + 1.0)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    m = sp.diags(1 / np.where(norms > 0, norms, 1)) @ m
    dense = m.toarray()
    return {i: dense[n] for i, n in items.items()}


def read_listeners(path: Path) -> list[str]:
    """Listener ids from a file, one per line (blank lines and ``#`` comments skipped)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise DataError(f"cannot read listeners file {path}: {e.strerror}") from None
    ids = [x.split("#", 1)[0].strip() for x in lines]
    ids = list(dict.fromkeys(i for i in ids if i))
    if not ids:
        raise DataError(f"{path} names no listener (one id per line)")
    return ids


def evaluate_ranking(
    overrides: Sequence[str] = (),
    rankers: Sequence[str] = (),
    listeners: Sequence[str] | None = None,
    split: str = "test",
    seed: int = 0,
    bootstrap: int = 1000,
    progress: bool = True,
) -> RankingEvaluation:
    """Compare rankers on the holdout ``split`` (``test``, or ``validation`` for tuning).

    Compared: the configured ranker (with ``overrides``), the :data:`BASELINES`
    and every ranker option named in ``rankers`` (``conf/ranker/<name>.yaml``).
    ``listeners`` restricts the split's listeners. Same arguments, same numbers.
    """
    from omegaconf import OmegaConf

    from ..config import compose
    from ..datasets import load_catalog
    from ..pipeline import Pipeline
    from ..registry import get_registry
    from ..split import SPLITS, holdout_split

    if split not in SPLITS:
        raise ConfigError(f"unknown split '{split}'; valid: {', '.join(SPLITS)}")
    cfg = compose(list(overrides))
    reg = get_registry()

    specs = {cfg.ranker.component: cfg.ranker}
    for name in [*BASELINES, *rankers]:
        node = compose([f"ranker={name}"]).ranker
        specs.setdefault(node.component, node)
    catalog = load_catalog(cfg.dataset, progress=progress)
    holdout = holdout_split(catalog, seed=seed)
    truth = holdout.truth(split)
    ids = holdout.select(split, listeners)
    requests = holdout.requests(split, ids)
    train = holdout.train

    with _progress(progress) as bar:
        task = bar.add_task("retrieving candidates", total=len(specs) + 1)
        retrievers = {
            n: (reg.create_from("retriever", e), int(e.quota)) for n, e in cfg.retrievers.items()
        }
        for r, _ in retrievers.values():
            r.fit(train)
        weights = {n: float(e.get("weight", 1.0)) for n, e in cfg.retrievers.items()}
        pipe = Pipeline(
            train, retrievers, None, None, None, {}, None,
            candidates=cfg.candidates, exclude_heard=True, weights=weights,
        )  # fmt: skip
        candidates = pipe._retrieve(requests)
        bar.advance(task)
        pool = [{c.item_id for c in cs} for cs in candidates]
        ceiling = float(
            np.mean([len(p & truth[r.listener.id]) / len(truth[r.listener.id]) for r, p in
                     zip(requests, pool, strict=True)])
        )  # fmt: skip
        pop = dict(zip(train.item_ids, train.popularity.tolist(), strict=True))
        n_listeners = len(train.listener_ids)
        vectors = tag_vectors(train)
        per_listener: dict[str, dict[str, np.ndarray]] = {}
        fitted = []
        for name, node in specs.items():
            bar.update(task, description=f"fitting and ranking with {name}")
            params = OmegaConf.to_container(node.params, resolve=True)
            if "cache" in params:
                params["cache"] = False  # time the real fit
            ranker = reg.create("ranker", node.component, params)
            start = time.perf_counter()
            ranker.fit(train)
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            ranked = ranker.rank(requests, candidates)
            rank_seconds = time.perf_counter() - start
            lists = [[c.item_id for c in cs] for cs in ranked]
            rows = {m: [] for m in (*METRICS, "novelty@10", "diversity@10")}
            for req, items in zip(requests, lists, strict=True):
                rel = truth[req.listener.id]
                rows["recall@10"].append(recall_at_k(items, rel, 10))
                rows["recall@20"].append(recall_at_k(items, rel, 20))
                rows["ndcg@10"].append(ndcg_at_k(items, rel, 10))
                rows["map@10"].append(average_precision_at_k(items, rel, 10))
                rows["novelty@10"].append(novelty(items[:10], pop, n_listeners))
                rows["diversity@10"].append(intra_list_diversity(items[:10], vectors))
            per_listener[name] = {m: np.array(v) for m, v in rows.items()}
            metrics = {m: float(np.mean(v)) for m, v in rows.items()}
            shown = {i for items in lists for i in items[:10]}
            metrics["coverage@10"] = len(shown) / len(train.item_ids)
            fitted.append((name, node.component, params, metrics, fit_seconds, rank_seconds,
                           dict(getattr(ranker, "fit_stats", {}) or {})))  # fmt: skip
            bar.advance(task)

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(requests), size=(bootstrap, len(requests)))
    ease = per_listener.get("ease", {}).get("ndcg@10")
    results = []
    for name, component, params, metrics, fit_s, rank_s, stats in fitted:
        ndcg = per_listener[name]["ndcg@10"]
        means = ndcg[draws].mean(axis=1)
        vs = None
        if ease is not None and ease.mean() > 0:
            rel = means / ease[draws].mean(axis=1) - 1
            vs = (
                float(ndcg.mean() / ease.mean() - 1),
                *map(float, np.percentile(rel, [2.5, 97.5])),
            )
        results.append(
            RankerResult(
                name,
                component,
                params,
                metrics,
                tuple(map(float, np.percentile(means, [2.5, 97.5]))),
                vs,
                fit_s,
                len(requests) / rank_s if rank_s > 0 else float("inf"),
                stats,
            )  # fmt: skip
        )
    return RankingEvaluation(
        catalog.name, split, seed, len(requests), int(cfg.candidates),
        {n: int(e.quota) for n, e in cfg.retrievers.items()}, ceiling, results,
        {name: v["ndcg@10"].tolist() for name, v in per_listener.items()},
    )  # fmt: skip


def _progress(enabled: bool):
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
        disable=not enabled, transient=True,
    )  # fmt: skip


def check_report_path(path: Path) -> Path:
    """``path`` if it names a report format (``.md`` or ``.html``), else a ConfigError."""
    path = Path(path)
    if path.suffix not in (".md", ".html"):
        raise ConfigError(f"report must end in .md or .html, got '{path.name}'")
    return path


def write_report(evaluation: RankingEvaluation, path: Path) -> Path:
    """Write a Markdown (``.md``) or HTML (``.html``) report with an NDCG@10 plot next to it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = check_report_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plot = path.with_name(path.stem + "-ndcg.png")
    results = sorted(evaluation.results, key=lambda r: r.metrics["ndcg@10"])
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(results) + 1.5))
    means = [r.metrics["ndcg@10"] for r in results]
    errors = [[m - r.ndcg_ci[0] for m, r in zip(means, results, strict=True)],
              [r.ndcg_ci[1] - m for m, r in zip(means, results, strict=True)]]  # fmt: skip
    ax.barh([r.name for r in results], means, xerr=errors, color="#4c72b0", capsize=4)
    ax.set_xlabel(f"NDCG@10 (95% bootstrap CI over {evaluation.listeners} listeners)")
    ax.set_title(f"{evaluation.dataset}, {evaluation.split} split, seed {evaluation.seed}")
    fig.tight_layout()
    fig.savefig(plot, dpi=120)
    plt.close(fig)
    head = ["ranker", *METRICS, "coverage@10", "novelty@10", "diversity@10", "vs EASE",
            "fit s", "req/s"]  # fmt: skip
    rows = [_row(r) for r in sorted(evaluation.results, key=lambda r: -r.metrics["ndcg@10"])]
    setup = (
        f"{evaluation.listeners} {evaluation.split} listeners, seed {evaluation.seed}; "
        f"candidates: union of {', '.join(f'{n} ({q})' for n, q in evaluation.retrievers.items())}"
        f", {evaluation.candidates} in all; they hold {evaluation.candidate_recall:.1%} of the "
        "held-out items (the recall ceiling)."
    )
    if path.suffix == ".md":
        table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        table += ["| " + " | ".join(r) + " |" for r in rows]
        text = "\n".join([f"# Ranking evaluation: {evaluation.dataset}", "", setup, "",
                          f"![NDCG@10 per ranker]({plot.name})", "", *table, ""])  # fmt: skip
    else:
        from html import escape

        cells = "".join(f"<th>{escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
        text = (
            f"<!doctype html><html><head><meta charset='utf-8'><title>Ranking evaluation</title>"
            f"</head><body><h1>Ranking evaluation: {escape(evaluation.dataset)}</h1>"
            f"<p>{escape(setup)}</p><img src='{escape(plot.name)}' alt='NDCG@10 per ranker'>"
            f"<table border='1'><tr>{cells}</tr>{body}</table></body></html>\n"
        )
    path.write_text(text)
    return path


def _row(r: RankerResult) -> list[str]:
    m = r.metrics
    vs = (
        "-"
        if r.vs_ease is None
        else f"{r.vs_ease[0]:+.1%} [{r.vs_ease[1]:+.1%}, {r.vs_ease[2]:+.1%}]"
    )
    return [
        r.name,
        *(f"{m[k]:.4f}" for k in METRICS),
        f"{m['coverage@10']:.3f}",
        f"{m['novelty@10']:.2f}",
        f"{m['diversity@10']:.3f}",
        vs,
        f"{r.fit_seconds:.1f}",
        f"{r.requests_per_second:.0f}",
    ]
