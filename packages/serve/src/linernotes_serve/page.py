"""The listener web page at ``/`` (static HTML, CSS and JavaScript, nothing loaded from
elsewhere) and the two small JSON routes it fills its form from."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from linernotes import Pipeline
from linernotes.evaluation.stories import CONTEXTS
from pydantic import BaseModel, Field

STATIC = Path(__file__).parent / "static"
"""The page's files."""


class ListenerChoice(BaseModel):
    """A catalog listener to pick, named by the artists they play most."""

    id: str = Field(examples=["2"])
    label: str = Field(examples=["Duran Duran, Morcheeba, Air"])


class Listeners(BaseModel):
    """Sample catalog listeners: the first ids in numeric order (shortest ids first)."""

    listeners: list[ListenerChoice]
    total: int = Field(description="How many listeners the catalog holds.")


class Contexts(BaseModel):
    """Context words the retrievers' lexicon knows (any other words may be sent too)."""

    mood: list[str]
    activity: list[str]
    time: list[str]


def add_page(app: FastAPI, pipeline: Pipeline) -> None:
    """Serve the listener page at ``/`` (files under ``/static``), ``GET /v1/listeners``
    and ``GET /v1/contexts``."""
    catalog = pipeline.catalog
    ordered = sorted(catalog.listener_ids, key=lambda i: (len(i), i))

    @cache
    def label(listener: str) -> str:
        history = catalog.history(listener)
        top = sorted(history, key=history.__getitem__, reverse=True)[:3]
        return ", ".join(catalog.item(i).name for i in top) or "no plays"

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/v1/listeners")
    async def listeners(
        limit: Annotated[int, Query(ge=1, le=200, description="How many listeners.")] = 24,
    ) -> Listeners:
        """Sample catalog listeners to ask for, each labelled with their top three artists."""
        return Listeners(
            listeners=[ListenerChoice(id=i, label=label(i)) for i in ordered[:limit]],
            total=len(ordered),
        )

    @app.get("/v1/contexts")
    async def contexts() -> Contexts:
        """Moods, activities and times the pipeline maps to music."""
        return Contexts(**CONTEXTS)
