"""linernotes-serve: the linernotes pipeline over HTTP, micro-batched, with a story store.

From Python::

    import linernotes
    import uvicorn
    from linernotes_serve import SQLiteStoryStore, create_app

    pipe = linernotes.build_pipeline(["generator=template"])
    app = create_app(pipe, store=SQLiteStoryStore("stories.sqlite"))
    uvicorn.run(app, host="127.0.0.1", port=8000)

FastAPI and the pipeline load on first use of :func:`create_app`.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "create_app": "linernotes_serve.app",
    "MicroBatcher": "linernotes_serve.batching",
    "QueueFull": "linernotes_serve.batching",
    "SQLiteStoryStore": "linernotes_serve.store",
    "StoryKey": "linernotes_serve.store",
    "StoryStore": "linernotes_serve.store",
    "story_key": "linernotes_serve.store",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'linernotes_serve' has no attribute {name!r}")


__all__ = sorted(_LAZY)
