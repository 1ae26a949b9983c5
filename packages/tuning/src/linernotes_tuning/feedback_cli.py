"""``linernotes feedback``: ingest listener feedback events and inspect the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from linernotes.cli import Json, handled

feedback_app = typer.Typer(
    help="Ingest listener feedback events (JSONL or Parquet) and inspect the feedback store.",
    no_args_is_help=True,
)

Store = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="The feedback store folder (default: $LINERNOTES_FEEDBACK_DIR, "
        "else 'feedback' in the user data folder).",
        show_default=False,
    ),
]


def _console():
    from rich.console import Console

    return Console(highlight=False)


@feedback_app.command()
@handled
def ingest(
    file: Annotated[Path, typer.Argument(help="A .jsonl, .ndjson or .parquet file of events.")],
    store: Store = None,
):
    """Validate feedback events and add the new ones to the store; bad ones go to rejected/."""
    from rich.markup import escape
    from rich.table import Table

    from .store import default_store
    from .store import ingest as ingest_file

    report = ingest_file(file, store or default_store())
    table = Table(title=f"Ingested {escape(str(file))}")
    table.add_column("events")
    table.add_column("count", justify="right")
    table.add_row("accepted", str(report.accepted))
    table.add_row("duplicates (stored once)", str(report.duplicates))
    table.add_row("rejected", str(report.total_rejected))
    for reason, count in report.rejected.items():
        table.add_row(f"  {escape(reason)}", str(count))
    console = _console()
    console.print(table)
    console.print(f"store: {escape(str(report.store))}", soft_wrap=True)
    if report.rejects_file is not None:
        console.print(
            f"[yellow]rejects:[/yellow] {escape(str(report.rejects_file))}", soft_wrap=True
        )


@feedback_app.command()
@handled
def info(store: Store = None, as_json: Json = False):
    """Counts of stored events by kind, listeners, stories, time range and rejects."""
    from rich.markup import escape
    from rich.table import Table

    from .store import default_store, summary

    facts = summary(store or default_store())
    if as_json:
        typer.echo(json.dumps(facts, indent=2))
        return
    table = Table(title="Feedback store", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("store", escape(facts["store"]))
    table.add_row("events", str(facts["events"]))
    for kind, count in facts["by_kind"].items():
        table.add_row(f"  {kind}", str(count))
    for key in ("listeners", "stories", "first", "last", "rejected"):
        table.add_row(key, str(facts[key] if facts[key] is not None else "-"))
    _console().print(table)
