"""The ``linernotes`` command: thin wrappers over the library, one red line per error."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from .errors import LinernotesError

app = typer.Typer(
    help="Grounded stories about what to play next. Hydra overrides go last, "
    "e.g. `linernotes recommend --listener 2 ranker=popcolisten k=5`.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the composed configuration.", no_args_is_help=True)
data_app = typer.Typer(help="Prepare and inspect datasets.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Offline evaluation on the seeded holdout split (linernotes.split).", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")
app.add_typer(eval_app, name="eval")

Overrides = Annotated[
    list[str] | None,
    typer.Argument(
        help="Hydra overrides, e.g. ranker=popcolisten k=5 generator.params.seed=3",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ListenersFile = Annotated[
    Path | None,
    typer.Option(help="A file of listener ids, one per line, to restrict the test listeners."),
]
Split = Annotated[str, typer.Option(help="Holdout split: test (report) or validation (tuning).")]


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def handled(fn):
    """Print a LinernotesError as one red line on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except LinernotesError as e:
            from rich.markup import escape

            _console(stderr=True).print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@handled
def recommend(
    overrides: Overrides = None,
    listener: Annotated[
        str | None, typer.Option("--listener", "-l", help="A listener id of the catalog.")
    ] = None,
    history: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated artist names for an anonymous listener (matched forgivingly)."
        ),
    ] = None,
    mood: Annotated[str | None, typer.Option(help="Context: mood, e.g. 'mellow'.")] = None,
    activity: Annotated[str | None, typer.Option(help="Context: activity, e.g. 'running'.")] = None,
    time: Annotated[
        str | None, typer.Option("--time", help="Context: time, e.g. 'late night'.")
    ] = None,
    seed: Annotated[
        str | None, typer.Option(help="Context: a seed artist name to start from.")
    ] = None,
    k: Annotated[
        int | None, typer.Option("-k", help="Number of picks (default: config k).", min=1)
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            help="Append an impression event (story id, context, text, facts) to this JSONL "
            "file, for `linernotes feedback ingest`."
        ),
    ] = None,
    as_json: Json = False,
):
    """Rank what a listener should play next and write a grounded story about it."""
    from .pipeline import build_pipeline
    from .types import to_json

    names = [n.strip() for n in (history or "").split(",") if n.strip()]
    if history is not None and not names:
        raise LinernotesError("--history is empty; give comma-separated artist names")
    if listener is None and not names and not seed and not (mood or activity or time):
        raise LinernotesError(
            "say who is listening: --listener ID, --history NAMES or --seed NAME, "
            "or give a context: --mood, --activity or --time"
        )
    pipe = build_pipeline(overrides or [], fit=False)
    request = pipe.request(
        listener=listener, history=names, k=k, time=time, mood=mood, activity=activity, seed=seed
    )
    request = pipe._resolve(request)  # a wrong id or name fails before the fitting
    pipe.fit(progress=True)
    result = pipe.recommend(request)
    if log is not None:
        from .feedback import log_impressions

        log_impressions([result], log)
    if as_json:
        typer.echo(to_json(result, indent=2))
        return
    _show_result(result)


def _show_result(result) -> None:
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    out = _console()
    table = Table(title=f"Next for {result.request.listener.id or 'you'}", title_justify="left")
    for col in ("#", "artist", "score", "from"):
        table.add_column(col, justify="right" if col in ("#", "score") else "left")
    for n, pick in enumerate(result.picks, 1):
        table.add_row(str(n), escape(pick.item.name), f"{pick.score:.3f}", ", ".join(pick.sources))
    out.print(table)
    for event in result.trace.events:
        out.print(f"[yellow]note:[/yellow] {escape(event)}")
    if result.story is None:
        out.print("[red]no story passed the safety filters[/red]")
        return
    title = f"story {result.story.id} by {result.story.generator}" + (
        " (fallback)" if result.story.fallback else ""
    )
    out.print(Panel(escape(result.story.text), title=title, title_align="left"))
    facts = {f.id: f for f in result.facts.facts}
    for n, fact_id in sorted(result.story.citations.items()):
        out.print(f"  [dim][{n}][/dim] {escape(facts[fact_id].text)}")
    timing = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in result.trace.timings.items())
    out.print(f"[dim]{timing}[/dim]")


@app.command()
@handled
def plugins(as_json: Json = False):
    """List every loaded plugin with its version, hooks and registered components."""
    import dataclasses

    from .plugins import plugin_info

    infos = plugin_info()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return
    from rich.table import Table

    table = Table("plugin", "version", "hooks", "components")
    for i in infos:
        comps = "; ".join(f"{k}: {', '.join(v)}" for k, v in i.components.items())
        table.add_row(i.distribution or i.name, i.version or "-", ", ".join(i.hooks), comps)
    _console().print(table)


@config_app.command("show")
@handled
def config_show(overrides: Overrides = None):
    """Print the composed config as YAML."""
    from omegaconf import OmegaConf

    from .config import compose

    typer.echo(OmegaConf.to_yaml(compose(overrides or [])), nl=False)


def _catalog(overrides: list[str], force: bool = False):
    from .config import compose
    from .datasets import load_catalog

    return load_catalog(compose(overrides).dataset, force=force)


@data_app.command("prepare")
@handled
def data_prepare(
    overrides: Overrides = None,
    force: Annotated[bool, typer.Option(help="Rebuild even if a cached bundle exists.")] = False,
):
    """Fetch (mirror or download) and prepare the configured dataset's catalog bundle."""
    catalog = _catalog(overrides or [], force=force)
    _report(catalog)
    _console().print(f"[green]ready:[/green] {catalog.path}")


def _report(catalog) -> None:
    q = catalog.quarantine
    if q.height:
        err = _console(stderr=True)
        per_file = q.group_by("file").len().sort("file").iter_rows()
        summary = ", ".join(f"{f}: {n}" for f, n in per_file)
        err.print(
            f"[yellow]warning:[/yellow] {q.height} malformed rows kept aside ({summary}); "
            f"see {catalog.path / 'quarantine.parquet'}"
        )
        for row in q.head(5).iter_rows(named=True):
            err.print(f"  {row['file']}:{row['line']}: {row['reason']}")


@data_app.command("info")
@handled
def data_info(overrides: Overrides = None, as_json: Json = False):
    """Counts, sizes and the cache location of the configured dataset."""
    from .datasets import cache_dir

    catalog = _catalog(overrides or [])
    info = {**catalog.info(), "cache_dir": str(cache_dir())}
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.table import Table

    table = Table("what", "value", show_header=False)
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v:,}" for k, v in value.items())
        elif isinstance(value, int):
            value = f"{value:,}"
        table.add_row(key, str(value))
    _console().print(table)
    _report(catalog)


@data_app.command("synth")
@handled
def data_synth(
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the raw files into (new or empty).")
    ],
    scale: Annotated[
        float,
        typer.Option(
            help="Size relative to HetRec 2011: 1 ~ 1,512 listeners and 17,632 artists, "
            "100 ~ 151k listeners and 1.76M artists."
        ),
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same bytes.")] = 0,
    as_json: Json = False,
):
    """Write a synthetic Last.fm catalog with HetRec 2011's statistics, at any scale.

    The files have HetRec's format, so `linernotes data prepare dataset=synth
    dataset.params.path=DIR` (or any command with those overrides) reads them.
    """
    from .datasets.synth import synthesize

    if not scale > 0:
        raise LinernotesError(f"--scale must be a positive number, got {scale}")
    summary = synthesize(out, scale=scale, seed=seed, progress=scale >= 10 and not as_json)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    labels = {"listeners": "listeners", "artists": "artists", "plays": "listening rows"}
    labels |= {"taggings": "taggings", "friend_rows": "friend rows"}
    counts = ", ".join(f"{summary[k]:,} {v}" for k, v in labels.items())
    _console().print(f"[green]wrote:[/green] {out} ({counts})")
    _console().print(f"use it with: dataset=synth dataset.params.path={out}")


@eval_app.command("retrieval")
@handled
def eval_retrieval(
    overrides: Overrides = None,
    retrievers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated conf/retrievers options to evaluate instead of the "
            "configured list, e.g. colisten,tags,embedding."
        ),
    ] = None,
    listeners: ListenersFile = None,
    split: Split = "test",
    seed: Annotated[int, typer.Option(help="Seed of the holdout split.")] = 0,
    latency_requests: Annotated[
        int, typer.Option(help="Requests timed one at a time for latency.", min=1)
    ] = 100,
    as_json: Json = False,
):
    """Recall@50/200/500, candidates, unique share, latency and throughput per retriever and
    for their union, on the seeded holdout split."""
    from .evaluation.ranking import read_listeners
    from .evaluation.retrieval import evaluate_retrieval

    names = [n.strip() for n in (retrievers or "").split(",") if n.strip()]
    if retrievers is not None and not names:
        raise LinernotesError("--retrievers is empty; give comma-separated retriever options")
    result = evaluate_retrieval(
        overrides or [],
        retrievers=names,
        listeners=read_listeners(listeners) if listeners is not None else None,
        split=split,
        seed=seed,
        latency_requests=latency_requests,
        progress=not as_json,
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
        return
    from rich.table import Table

    table = Table(
        title=f"Retrieval on {result.dataset}, {result.split} split (seed {result.seed}), "
        f"{result.listeners} listeners",
        title_justify="left",
    )
    heads = ["retriever", "R@50", "R@200", "R@500", "cands", "unique", "p50 ms", "p99 ms", "lst/s"]
    for h in heads:
        table.add_column(h, justify="left" if h == "retriever" else "right")
    for r in result.results:
        table.add_row(
            r.name,
            *(f"{v:.3f}" for v in r.recall.values()),
            f"{r.candidates:.0f}",
            f"{r.unique_share:.2f}",
            f"{r.latency_ms_p50:.1f}",
            f"{r.latency_ms_p99:.1f}",
            f"{r.listeners_per_second:.0f}",
        )
    _console().print(table)


@eval_app.command("ranking")
@handled
def eval_ranking(
    overrides: Overrides = None,
    rankers: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated conf/ranker options to compare besides the configured ranker "
            "and the baselines (popularity, itemknn, ease, rp3beta, ials), e.g. popcolisten."
        ),
    ] = None,
    listeners: ListenersFile = None,
    split: Split = "test",
    seed: Annotated[int, typer.Option(help="Seed of the holdout split and the bootstrap.")] = 0,
    bootstrap: Annotated[
        int,
        typer.Option(help="Bootstrap resamples of the listeners for confidence intervals.", min=1),
    ] = 1000,
    report: Annotated[
        Path | None,
        typer.Option(help="Write a Markdown (.md) or HTML (.html) report with an NDCG@10 plot."),
    ] = None,
    as_json: Json = False,
):
    """Recall@10/20, NDCG@10, MAP@10, coverage, novelty, diversity, fit time and throughput
    of every ranker, side by side on the same candidates of the seeded holdout split, each
    compared with the best baseline (paired bootstrap), overall and for light, medium and
    heavy listeners."""
    from .evaluation.ranking import (
        METRICS,
        check_report_path,
        evaluate_ranking,
        read_listeners,
        write_report,
    )

    names = [n.strip() for n in (rankers or "").split(",") if n.strip()]
    if rankers is not None and not names:
        raise LinernotesError("--rankers is empty; give comma-separated ranker options")
    if report is not None:
        check_report_path(report)
    result = evaluate_ranking(
        overrides or [],
        rankers=names,
        listeners=read_listeners(listeners) if listeners is not None else None,
        split=split,
        seed=seed,
        bootstrap=bootstrap,
        progress=not as_json,
    )
    written = write_report(result, report) if report is not None else None
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "report": written and str(written)}, indent=2))
        return
    from rich.table import Table

    table = Table(
        title=f"Ranking on {result.dataset}, {result.split} split (seed {result.seed}), "
        f"{result.listeners} listeners; the candidates hold {result.candidate_recall:.1%} "
        "of the held-out items",
        title_justify="left",
    )
    best = result.best_baseline
    heads = ["ranker", *METRICS, "cov@10", "nov@10", "ILD@10", f"vs {best} [95% CI]", "fit s",
             "req/s"]  # fmt: skip
    for h in heads:
        table.add_column(h, justify="left" if h == "ranker" else "right")
    for r in sorted(result.results, key=lambda r: -r.metrics["ndcg@10"]):
        m = r.metrics
        table.add_row(
            r.name,
            *(f"{m[k]:.4f}" for k in METRICS),
            f"{m['coverage@10']:.3f}",
            f"{m['novelty@10']:.2f}",
            f"{m['diversity@10']:.3f}",
            f"{r.vs_best[0]:+.1%} [{r.vs_best[1]:+.1%}, {r.vs_best[2]:+.1%}]",
            f"{r.fit_seconds:.1f}",
            f"{r.requests_per_second:.0f}",
        )
    _console().print(table)
    groups = Table(
        title=f"NDCG@10 by listening activity (thirds by input plays), vs {best}",
        title_justify="left",
    )
    groups.add_column("ranker")
    for g, a in result.activity.items():
        groups.add_column(f"{g} ({a['min_plays']:,}-{a['max_plays']:,} plays)", justify="right")
    for r in sorted(result.results, key=lambda r: -r.metrics["ndcg@10"]):
        groups.add_row(
            r.name, *(f"{a['ndcg@10']:.4f} ({a['vs_best']:+.1%})" for a in r.by_activity.values())
        )
    _console().print(groups)
    if written is not None:
        _console().print(f"[green]report:[/green] {written}")


@eval_app.command("stories")
@handled
def eval_stories(
    overrides: Overrides = None,
    listeners: Annotated[
        Path | None,
        typer.Option(help="A file of listener ids, one per line (default: the test split's)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="How many listeners to serve.", min=1)] = 50,
    compare: Annotated[
        list[str] | None,
        typer.Option(
            help="Also evaluate with these extra overrides (space-separated; repeatable) and "
            "show them side by side, e.g. --compare 'generator.params.model=tuned'.",
        ),
    ] = None,
    context_share: Annotated[
        float,
        typer.Option(
            help="Give this seeded share of listeners a context (a mood, activity or time).",
            min=0.0,
            max=1.0,
        ),
    ] = 0.0,
    report: Annotated[
        Path | None,
        typer.Option(help="Write an HTML report: stories with their sentences, blocked drafts."),
    ] = None,
    as_json: Json = False,
):
    """Grade raw drafts and delivered stories: grounding, safety, fallbacks, variety, latency.

    Also how much of each delivered story the model wrote, how many picks it
    names, whether it mentions the context, and how far it is from the template.
    """
    from .evaluation.ranking import read_listeners
    from .evaluation.stories import evaluate_stories, write_report

    runs = {"base": overrides or []}
    for extra in compare or []:
        runs[extra] = [*(overrides or []), *extra.split()]
    ids = read_listeners(listeners) if listeners is not None else None
    results = {
        label: evaluate_stories(
            run, listeners=ids, limit=limit, progress=not as_json, context_share=context_share
        )
        for label, run in runs.items()
    }
    if report is not None:
        write_report(results["base"], report)
    if as_json:
        out = {k: r.to_dict() for k, r in results.items()} if compare else results["base"].to_dict()
        typer.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    from rich.table import Table

    first = results["base"]
    title = f"Stories by {first.generator} on {first.dataset}, {first.listeners} listeners"
    table = Table("measure", *results, title=title, title_justify="left")
    for key in first.to_dict():
        if key not in ("examples", "stories"):
            table.add_row(
                key.replace("_", " "), *(_cell(r.to_dict()[key]) for r in results.values())
            )
    _console().print(table)
    if report is not None:
        _console().print(f"[green]report:[/green] {report}")


def _cell(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3g}" for k, v in value.items()) or "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


_plugin_commands = False


def get_app() -> typer.Typer:
    """The command line with every plugin's commands (hook ``register_commands``) added."""
    global _plugin_commands
    if not _plugin_commands:
        from .plugins import get_plugin_manager

        get_plugin_manager().hook.register_commands(cli=app)
        _plugin_commands = True
    return app


def main() -> None:
    """Entry point of the ``linernotes`` script."""
    try:
        cli = get_app()
    except LinernotesError as e:
        from rich.markup import escape

        _console(stderr=True).print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        sys.exit(1)
    cli(prog_name="linernotes")


if __name__ == "__main__":
    sys.exit(main())
