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

from linernotes.plugins import lazy_exports

_WHERE = {
    "create_app": "app",
    "load_api_keys": "security",
    "MicroBatcher": "batching",
    "QueueFull": "batching",
    "load_stories": "store",
    "SQLiteStoryStore": "store",
    "StoryKey": "store",
    "StoryStore": "store",
    "story_key": "store",
}
__all__ = sorted(_WHERE)

__getattr__ = lazy_exports(__name__, _WHERE)
