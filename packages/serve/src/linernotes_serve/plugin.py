"""linernotes-serve plugin: the ``linernotes serve`` command (heavy imports happen inside it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from linernotes import hookimpl
from linernotes.cli import Overrides, handled
from linernotes.errors import ConfigError

SERVE_HELP = (
    "Serve stories over HTTP: compose and fit the pipeline once (Hydra overrides as for "
    "`recommend`, e.g. generator=template), then answer POST /v1/recommend and "
    "POST /v1/feedback, with GET /healthz, /readyz, /metrics and the OpenAPI docs at /docs. "
    "Concurrent requests are micro-batched; a late generator's story gives way to the verified "
    "fallback at the deadline; stories for catalog listeners are kept in a story store and "
    "served from it next time. Optional API keys ($LINERNOTES_API_KEYS, --api-keys) and rate "
    "limits guard the API; SIGTERM lets requests in flight finish. See docs/serve.md."
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
    stories: Annotated[
        list[Path] | None,
        typer.Option(
            "--stories",
            help="A `linernotes batch` output folder (a run, or an --out folder of runs) to "
            "load into the story store at start-up; repeatable. Rows made by another config "
            "than the served one are skipped and counted.",
            exists=True,
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    feedback_store: Annotated[
        Path | None,
        typer.Option(
            help="The feedback store folder (default: as `linernotes feedback ingest`: "
            "$LINERNOTES_FEEDBACK_DIR, else 'feedback' in the user data folder).",
            show_default=False,
        ),
    ] = None,
    api_keys: Annotated[
        Path | None,
        typer.Option(
            help="A file of API keys, one a line (# starts a comment), added to those in "
            "$LINERNOTES_API_KEYS (comma separated). With keys, every request but the page, "
            "health, metrics and docs needs one in the X-API-Key header.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    rate_limit: Annotated[
        float,
        typer.Option(
            help="Requests per second per API key (per client address without keys); "
            "over it, 429 with Retry-After. 0: no limit.",
            min=0,
        ),
    ] = 0,
    burst: Annotated[
        int | None,
        typer.Option(
            help="Requests a key may make at once before --rate-limit applies (default: one "
            "second's worth).",
            min=1,
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str, typer.Option(help="The log level: debug, info, warning, error.")
    ] = "info",
):
    """Serve stories over HTTP."""
    import logging.config

    import uvicorn
    from linernotes import build_pipeline
    from linernotes.datasets import cache_dir
    from linernotes_tuning.store import default_store

    from .app import create_app
    from .security import load_api_keys, log_config
    from .store import SQLiteStoryStore, load_stories

    if stories and no_store:
        raise ConfigError("--stories loads stories into the story store; leave out --no-store")
    keys = load_api_keys(api_keys)
    pipeline = build_pipeline(overrides or [])
    logging_config = log_config(log_level)
    logging.config.dictConfig(logging_config)  # before the app logs its settings
    story_store = (
        None if no_store else SQLiteStoryStore(store or cache_dir() / "serve" / "stories.sqlite")
    )
    for folder in stories or []:
        load_stories(story_store, folder, pipeline.config_id)
    app = create_app(
        pipeline,
        store=story_store,
        feedback_dir=feedback_store or default_store(),
        max_batch=max_batch,
        max_wait_ms=max_wait_ms,
        queue_size=queue_size,
        deadline_ms=deadline_ms or None,
        max_deadline_ms=max_deadline_ms,
        api_keys=keys,
        rate_limit=rate_limit or None,
        burst=burst,
    )
    # the app's access log hashes listener ids; uvicorn's would show query strings in clear
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        log_config=logging_config,
        access_log=False,
    )


@hookimpl
def register_commands(cli):
    cli.command("serve", help=SERVE_HELP)(serve)
