"""linernotes-serve plugin: the ``linernotes serve`` command (heavy imports happen inside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from linernotes import hookimpl
from linernotes.cli import Overrides, handled

SERVE_HELP = (
    "Serve stories over HTTP: compose and fit the pipeline once (Hydra overrides as for "
    "`recommend`, e.g. generator=template), then answer POST /v1/recommend and "
    "POST /v1/feedback, with GET /healthz, /readyz, /metrics and the OpenAPI docs at /docs. "
    "Concurrent requests are micro-batched; a late generator's story gives way to the verified "
    "fallback at the deadline; stories for catalog listeners are kept in a story store and "
    "served from it next time. See docs/serve.md."
)


@handled
def serve(
    overrides: Overrides = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    max_batch: Annotated[
        int, typer.Option(help="Most requests run as one pipeline batch.", min=1)
    ] = 8,
    max_wait_ms: Annotated[
        float,
        typer.Option(help="How long the first request of a batch waits for others (ms).", min=0),
    ] = 10.0,
    queue_size: Annotated[
        int,
        typer.Option(
            help="Requests that may wait for the pipeline; beyond that, 503 with Retry-After.",
            min=1,
        ),
    ] = 64,
    deadline_ms: Annotated[
        float,
        typer.Option(
            help="How long the generator may take before a request gets the verified fallback "
            "instead (its story is still finished and stored); 0: no deadline.",
            min=0,
        ),
    ] = 2500,
    max_deadline_ms: Annotated[
        float, typer.Option(help="The longest deadline a request may ask for.", min=1)
    ] = 30_000,
    store: Annotated[
        Path | None,
        typer.Option(
            help="The story store, an SQLite file (default: serve/stories.sqlite in the "
            "linernotes cache folder).",
            show_default=False,
        ),
    ] = None,
    no_store: Annotated[
        bool,
        typer.Option("--no-store", help="Keep no story store: every request runs the pipeline."),
    ] = False,
    feedback_store: Annotated[
        Path | None,
        typer.Option(
            help="The feedback store folder (default: as `linernotes feedback ingest`: "
            "$LINERNOTES_FEEDBACK_DIR, else 'feedback' in the user data folder).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="uvicorn's log level: debug, info, warning, error.")
    ] = "info",
):
    """Serve stories over HTTP."""
    import uvicorn
    from linernotes import build_pipeline
    from linernotes.datasets import cache_dir
    from linernotes_tuning.store import default_store

    from .app import create_app
    from .store import SQLiteStoryStore

    pipeline = build_pipeline(overrides or [])
    app = create_app(
        pipeline,
        store=None
        if no_store
        else SQLiteStoryStore(store or cache_dir() / "serve" / "stories.sqlite"),
        feedback_dir=feedback_store or default_store(),
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        queue_size=queue_size,
        deadline_ms=deadline_ms or None,
        max_deadline_ms=max_deadline_ms,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@hookimpl
def register_commands(cli):
    cli.command("serve", help=SERVE_HELP)(serve)
