"""linernotes-batch plugin: the ``linernotes batch`` command group (kept light: heavy imports
happen inside the commands)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from linernotes import hookimpl
from linernotes.cli import Json, Overrides, handled
from typer.core import TyperGroup


class DefaultRun(TyperGroup):
    """A group whose ``run`` command is the default: ``batch --listeners ...`` means
    ``batch run --listeners ...``, while ``batch summary DIR`` stays a command."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


batch_app = typer.Typer(
    cls=DefaultRun,
    no_args_is_help=True,
    short_help="Stories for many listeners, exactly once and resumable (local or Apache Beam).",
    help="Stories for many listeners, resumable, nothing lost. "
    "`linernotes batch --listeners all|FILE --out DIR` runs a job (the `run` command; Hydra "
    "overrides go last, e.g. executor=beam), `linernotes batch summary DIR` reports on one. "
    "See docs/batch.md.",
)


@batch_app.command(
    "run",
    help="Write a story, or a dead-letter entry, for every listener exactly once. The "
    "executor config group says how: executor=local (in process, the default) or "
    "executor=beam (an Apache Beam pipeline: the DirectRunner here, or Dataflow, Flink, "
    "Spark). Run the same command again to resume a killed run: done listeners are skipped.",
)
@handled
def run(
    overrides: Overrides = None,
    listeners: Annotated[
        str,
        typer.Option(
            "--listeners",
            "-l",
            help="'all' (every listener of the dataset), a file of listener ids, one per line, "
            "or a .csv (with a header) or .jsonl file of jobs: a listener and optionally a "
            "mood, activity, time and seed, to precompute stories per listener and context. "
            "Unknown ids are not fatal: they go to the dead letter with their error.",
        ),
    ] = ...,
    out: Annotated[
        str,
        typer.Option(
            help="Output folder (or a pyarrow URI such as gs://bucket/stories); the run writes "
            "DIR/<run id>/part-*.parquet and DIR/<run id>/dead_letter/."
        ),
    ] = ...,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Name of the run (default: <config id>-<hash of the listeners>). Rerunning a "
            "run skips the listeners it already holds."
        ),
    ] = None,
    as_json: Json = False,
):
    """Write a story, or a dead-letter entry, for every listener exactly once."""
    from .job import run_batch

    report = run_batch(overrides or [], listeners, out, run_id=run_id, progress=not as_json)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    from rich.console import Console

    c = report.counts
    console = Console(highlight=False)
    console.print(f"run [bold]{report.run_id}[/bold] ({report.executor}): {report.path}")
    console.print(
        f"{report.requested} listeners: {report.skipped} already done, {report.processed} "
        f"processed in {report.seconds:.1f} s ({report.listeners_per_second:.1f} listeners/s)"
    )
    console.print(
        f"stories {c.stories}, fallbacks {c.fallbacks}, blocked drafts {c.blocked_drafts}, "
        f"failures {c.failures}" + (" (see dead_letter/)" if c.failures else "")
    )


@batch_app.command(
    "summary",
    help="Counts, failures by stage, stage time per listener, and an exactly-once check "
    "(every listener asked for in the results or the dead letter, once) of every run in DIR.",
)
@handled
def summary(
    path: Annotated[str, typer.Argument(help="A run folder, or an --out folder of runs.")],
    as_json: Json = False,
):
    """Summarise the runs in DIR."""
    from .summary import summarize

    found = summarize(path)
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in found], indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(highlight=False)
    for s in found:
        table = Table("measure", "value", title=f"run {s.run_id}", title_justify="left")
        check = "[green]yes[/green]" if s.complete else "[red]no[/red]"
        for key, value in (
            ("path", s.path),
            ("config id", s.config_id),
            ("created", s.created),
            ("listeners asked for", s.requested),
            ("result rows", s.results),
            ("dead letter", s.dead_letter),
            ("missing", s.missing),
            ("twice or more", s.duplicates),
            ("exactly once", check),
            ("stories", s.stories),
            ("fallbacks", s.fallbacks),
            ("no story", s.no_story),
            ("blocked drafts", s.blocked_drafts),
            ("by generator", _pairs(s.generators)),
            ("failures by stage", _pairs(s.failures)),
            ("ms per listener", _pairs({k: v * 1000 for k, v in s.stage_seconds.items()})),
            ("shards", s.shards),
        ):
            table.add_row(key, value if key == "exactly once" else escape(str(value)))
        console.print(table)
        for e in s.examples:
            console.print(
                f"  [dim]{escape(e['job'].replace(chr(9), ' '))} ({e['stage']}):[/dim] "
                f"{escape(e['error'])}"
            )


def _pairs(values: dict) -> str:
    return (
        ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items())
        or "-"
    )


@hookimpl
def register_commands(cli):
    cli.add_typer(batch_app, name="batch")
