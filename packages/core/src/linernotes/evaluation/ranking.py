"""``linernotes eval ranking``: every ranker on the same candidates of the seeded holdout split.

The candidates are the pipeline's own: the union of the configured retrievers'
proposals (each up to its quota, ``candidates`` in all), fitted on the
training view, with the listener's input history excluded. Every ranker
orders the same lists, so the comparison is fair; the share of held-out items
that the lists contain (``candidate_recall``) bounds every ranker's recall.
Rankers are fitted on :attr:`linernotes.split.Holdout.train` and never see a
held-out item.

The report compares every ranker with the best baseline (the
:data:`BASELINES` member with the highest NDCG@10) by a paired bootstrap over
listeners, overall and per listening activity: the split's listeners in
thirds by the plays in their input history (light, medium, heavy).
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

BASELINES = ("popularity", "itemknn", "ease", "rp3beta", "ials")
"""Rankers that every comparison includes."""

METRICS = ("recall@10", "recall@20", "ndcg@10", "map@10")

ACTIVITY = ("light", "medium", "heavy")
"""Listener groups by the plays in their input history, in thirds of the split."""


@dataclass
class RankerResult:
    """One ranker's numbers on the split."""

    name: str
    component: str
    params: dict[str, Any]
    metrics: dict[str, float]
    ndcg_ci: tuple[float, float]
    vs_best: tuple[float, float, float]
    fit_seconds: float
    requests_per_second: float
    fit_stats: dict[str, float] = field(default_factory=dict)
    by_activity: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class RankingEvaluation:
    """The side-by-side comparison: setup, per-ranker results, per-listener NDCG@10.

    ``vs_best`` of each result is its NDCG@10 relative to ``best_baseline``'s
    with a 95% paired bootstrap interval; ``by_activity`` holds the same
    (``ndcg@10``, ``vs_best``, ``low``, ``high``) per activity group, whose
    listener counts and play ranges are in ``activity``.
    """

    dataset: str
    split: str
    seed: int
    listeners: int
    candidates: int
    retrievers: dict[str, int]
    candidate_recall: float
    best_baseline: str
    activity: dict[str, dict[str, int]]
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


def tag_matrix(catalog):
    """Unit-length tag vectors (listener counts per tag, idf-weighted over the tagged
    items), a sparse row per catalog item in ``catalog.item_ids`` order (empty where
    untagged), and the tags of its columns."""
    import polars as pl
    import scipy.sparse as sp

    tags = catalog.item_tags.filter(pl.col("item_id").is_in(catalog.item_ids))
    names = tags["tag"].unique().sort().to_list()
    column = {t: n for n, t in enumerate(names)}
    index = catalog.item_index
    m = sp.csr_matrix(
        (
            np.log1p(tags["listeners"].to_numpy().astype(float)),
            ([index[i] for i in tags["item_id"]], [column[t] for t in tags["tag"]]),
        ),
        shape=(len(catalog.item_ids), len(names)),
    )
    tagged = tags["item_id"].n_unique()
    df = np.bincount(m.indices, minlength=len(names))
    m = m @ sp.diags(np.log(tagged / np.maximum(df, 1)) + 1.0)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
    return (sp.diags(1 / np.where(norms > 0, norms, 1)) @ m).tocsr(), names


def tag_vectors(catalog) -> dict[str, np.ndarray]:
    """Unit-length tag vectors (:func:`tag_matrix`'s rows, dense) by tagged item id."""
    m, _ = tag_matrix(catalog)
    tagged = np.flatnonzero(np.diff(m.indptr))
    dense = m[tagged].toarray()
    return {catalog.item_ids[n]: dense[k] for k, n in enumerate(tagged)}


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

    plays = np.array([sum(r.listener.history.values()) for r in requests])
    groups = activity_groups(plays)
    ndcg = {name: v["ndcg@10"] for name, v in per_listener.items()}
    best = max((n for n in ndcg if n in BASELINES), key=lambda n: ndcg[n].mean())
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(requests), size=(bootstrap, len(requests)))
    group_draws = {g: rng.integers(0, len(m), size=(bootstrap, len(m))) for g, m in groups.items()}
    results = []
    for name, component, params, metrics, fit_s, rank_s, stats in fitted:
        means = ndcg[name][draws].mean(axis=1)
        by_activity = {}
        for group, members in groups.items():
            ours, theirs = ndcg[name][members], ndcg[best][members]
            versus = paired_difference(ours, theirs, group_draws[group])
            by_activity[group] = {
                "ndcg@10": float(ours.mean()),
                **dict(zip(("vs_best", "low", "high"), versus, strict=True)),
            }
        results.append(
            RankerResult(
                name,
                component,
                params,
                metrics,
                tuple(map(float, np.percentile(means, [2.5, 97.5]))),
                paired_difference(ndcg[name], ndcg[best], draws),
                fit_s,
                len(requests) / rank_s if rank_s > 0 else float("inf"),
                stats,
                by_activity,
            )  # fmt: skip
        )
    activity = {
        g: {"listeners": len(m), "min_plays": int(plays[m].min()), "max_plays": int(plays[m].max())}
        for g, m in groups.items()
    }
    return RankingEvaluation(
        catalog.name, split, seed, len(requests), int(cfg.candidates),
        {n: int(e.quota) for n, e in cfg.retrievers.items()}, ceiling, best, activity, results,
        {name: v.tolist() for name, v in ndcg.items()},
    )  # fmt: skip


def activity_groups(plays: Sequence[float]) -> dict[str, np.ndarray]:
    """Listener positions in thirds by ``plays`` (ties keep the listener order): the
    :data:`ACTIVITY` groups, lightest first."""
    order = np.argsort(np.asarray(plays), kind="stable")
    parts = zip(ACTIVITY, np.array_split(order, 3), strict=True)
    return {g: np.sort(part) for g, part in parts if len(part)}


def paired_difference(
    a: np.ndarray, b: np.ndarray, draws: np.ndarray
) -> tuple[float, float, float]:
    """``mean(a) / mean(b) - 1`` and its 95% paired bootstrap interval over ``draws`` (rows of
    listener positions), or zeros when ``b`` is all zero."""
    if b.mean() <= 0:
        return (0.0, 0.0, 0.0)
    rel = a[draws].mean(axis=1) / np.maximum(b[draws].mean(axis=1), 1e-12) - 1
    return (float(a.mean() / b.mean() - 1), *map(float, np.percentile(rel, [2.5, 97.5])))


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
    best = evaluation.best_baseline
    ranked = sorted(evaluation.results, key=lambda r: -r.metrics["ndcg@10"])
    head = ["ranker", *METRICS, "NDCG@10 95% CI", "coverage@10", "novelty@10", "diversity@10",
            f"vs {best} [95% CI]", "fit s", "req/s"]  # fmt: skip
    rows = [_row(r) for r in ranked]
    groups = evaluation.activity
    activity_head = ["ranker"] + [
        f"{g} ({a['listeners']} listeners, {a['min_plays']:,}-{a['max_plays']:,} plays)"
        for g, a in groups.items()
    ]
    activity_rows = [[r.name] + [_versus(r.by_activity[g], best) for g in groups] for r in ranked]
    setup = (
        f"{evaluation.listeners} {evaluation.split} listeners, seed {evaluation.seed}; "
        f"candidates: union of {', '.join(f'{n} ({q})' for n, q in evaluation.retrievers.items())}"
        f", {evaluation.candidates} in all; they hold {evaluation.candidate_recall:.1%} of the "
        "held-out items (the recall ceiling)."
    )
    versus = (
        f"vs {best}: relative NDCG@10 difference from the best baseline, with its 95% paired "
        "bootstrap interval over listeners."
    )
    activity = (
        "NDCG@10 by listening activity (thirds of the listeners by the plays in their input "
        f"history), and in brackets the difference from {best} in that group."
    )
    if path.suffix == ".md":
        text = "\n".join([
            f"# Ranking evaluation: {evaluation.dataset}", "", setup, "", versus, "",
            f"![NDCG@10 per ranker]({plot.name})", "", *_markdown(head, rows), "",
            "## By listening activity", "", activity, "", *_markdown(activity_head, activity_rows),
            "",
        ])  # fmt: skip
    else:
        from html import escape

        text = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Ranking evaluation</title>"
            "<style>body{font-family:sans-serif;max-width:80rem;margin:2rem auto}table{"
            "border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
            "text-align:right}td:first-child{text-align:left}</style></head><body>"
            f"<h1>Ranking evaluation: {escape(evaluation.dataset)}</h1>"
            f"<p>{escape(setup)}</p><p>{escape(versus)}</p>"
            f"<img src='{escape(plot.name)}' alt='NDCG@10 per ranker'>"
            f"{_html(head, rows)}<h2>By listening activity</h2><p>{escape(activity)}</p>"
            f"{_html(activity_head, activity_rows)}</body></html>\n"
        )
    path.write_text(text)
    return path


def _row(r: RankerResult) -> list[str]:
    m = r.metrics
    return [
        r.name,
        *(f"{m[k]:.4f}" for k in METRICS),
        f"[{r.ndcg_ci[0]:.4f}, {r.ndcg_ci[1]:.4f}]",
        f"{m['coverage@10']:.3f}",
        f"{m['novelty@10']:.2f}",
        f"{m['diversity@10']:.3f}",
        f"{r.vs_best[0]:+.1%} [{r.vs_best[1]:+.1%}, {r.vs_best[2]:+.1%}]",
        f"{r.fit_seconds:.1f}",
        f"{r.requests_per_second:.0f}",
    ]


def _versus(group: dict[str, float], best: str) -> str:
    return (
        f"{group['ndcg@10']:.4f} ({group['vs_best']:+.1%} [{group['low']:+.1%}, "
        f"{group['high']:+.1%}])"
    )


def _markdown(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


def _html(head: list[str], rows: list[list[str]]) -> str:
    from html import escape

    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{cells}</tr>{body}</table>"
