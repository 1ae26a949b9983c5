"""The ``linernotes`` command: thin wrappers over the library, one red line per error."""

from __future__ import annotations

import functools
import json
import sys
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
    as_json: Json = False,
):
    """Rank what a listener should play next and write a grounded story about it."""
    from .pipeline import build_pipeline
    from .types import to_dict

    names = [n.strip() for n in (history or "").split(",") if n.strip()]
    if history is not None and not names:
        raise LinernotesError("--history is empty; give comma-separated artist names")
    if listener is None and not names and not seed:
        raise LinernotesError("say who is listening: --listener ID, --history NAMES or --seed NAME")
    pipe = build_pipeline(overrides or [])
    request = pipe.request(
        listener=listener, history=names, k=k, time=time, mood=mood, activity=activity, seed=seed
    )
    result = pipe.recommend(request)
    if as_json:
        typer.echo(json.dumps(to_dict(result), indent=2, ensure_ascii=False, default=str))
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
    title = f"story by {result.story.generator}" + (" (fallback)" if result.story.fallback else "")
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
    from omegaconf import OmegaConf

    from .catalog import Catalog
    from .config import compose
    from .datasets import prepare
    from .registry import get_registry

    cfg = compose(overrides)
    params = OmegaConf.to_container(cfg.dataset.params, resolve=True)
    dataset = get_registry().create("dataset", cfg.dataset.component, params)
    return Catalog(prepare(dataset, force=force))


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


def main() -> None:
    """Entry point of the ``linernotes`` script."""
    app(prog_name="linernotes")


if __name__ == "__main__":
    sys.exit(main())
