"""The HTTP app: recommend (micro-batched, from the story store when it can, within a
deadline), feedback, health, readiness and metrics."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import gc
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from linernotes import Context, DataError, Pipeline, Result, to_json
from linernotes import Request as StoryRequest
from linernotes.feedback import EventError, parse_event
from linernotes_tuning.store import append as append_events
from prometheus_client import CONTENT_TYPE_LATEST

from .batching import MicroBatcher, QueueFull, ShuttingDown
from .metrics import ServeMetrics
from .models import FeedbackReceipt, Problem, RecommendBody
from .page import add_page
from .security import protect
from .store import StoryKey, StoryStore, normalize_context, story_key

log = logging.getLogger("linernotes.serve")

MAX_EVENTS = 1000
"""Most feedback events one request may carry."""
_TAG = re.compile(r"\w+\[.*\]")
"""How pydantic names a member of a union in an error's location: ``list[any]``."""
RETRY_AFTER_S = 1
"""What a 503 for a full queue tells the client to wait (seconds)."""
LATE = (
    "deadline: the generator's story was not ready in time; this is the verified fallback "
    "(the generator's story is stored when done)"
)
"""The trace event of a result delivered at its deadline."""
SPARE = 0.1
"""The share of a deadline kept for answering: the server stops waiting for the generator
this much before the deadline, so that the response is sent by it."""
BUSY = (
    "busy: the generator's queue was full; this is the verified fallback, made at once "
    "(the generator's story was not made)"
)
"""The trace event of a result the full queue sent to the fallback lane."""


class ApiError(Exception):
    """An error the client caused: its status and one-line message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers


@contextlib.contextmanager
def serving_settings() -> Iterator[None]:
    """Process settings that answer small requests faster, for as long as a server runs
    (BENCHMARKS.md, "Retrieval and ranking throughput"; one request: p50 about halved, p99
    a third):

    - the objects alive on entry (the fitted pipeline) are frozen out of the garbage
      collector's generations, so a full collection no longer walks them during a request
      (40-60 ms each on the mirror's catalog);
    - numpy's and scipy's BLAS run on one thread, restored on exit: a request's linear
      algebra is small (one listener's iALS fold-in), so a second thread costs more to wake
      than it saves, and while it spins it takes the core that the compiled trees need.
    """
    from threadpoolctl import threadpool_limits

    gc.collect()
    gc.freeze()
    with threadpool_limits(1, user_api="blas"):
        yield


def create_app(
    pipeline: Pipeline,
    *,
    store: StoryStore | None = None,
    feedback_dir: str | Path | None = None,
    max_batch: int = 8,
    max_wait_ms: float = 10.0,
    queue_size: int = 64,
    deadline_ms: float | None = 2500,
    max_deadline_ms: float = 30_000,
    max_body_bytes: int = 64 * 1024,
    api_keys: Collection[str] | None = None,
    rate_limit: float | None = None,
    burst: int | None = None,
) -> FastAPI:
    """The app serving a fitted ``pipeline``.

    ``store`` keeps finished stories (None: no store); ``feedback_dir`` is the
    feedback store folder (None: ``/v1/feedback`` answers 503). Requests that
    miss the store are micro-batched (see :class:`MicroBatcher`). A request
    whose generator's story is not ready after ``deadline_ms`` (or the request's
    own ``deadline_ms``, at most ``max_deadline_ms``; None: no deadline) gets the
    verified fallback; the generator's story is still finished and stored.

    With ``api_keys``, every path but the page, health, metrics and docs needs one in
    the ``X-API-Key`` header; ``rate_limit`` (requests per second, bursts of ``burst``)
    applies per key, or per client address without keys (see :mod:`.security`). While it
    runs, the process answers small requests faster (:func:`serving_settings`). On
    shutdown, requests in flight finish, then the batcher drains and the store is closed.
    """
    # a deadline needs something faster to fall back on than the generator itself
    deadlines = pipeline.generator.name != pipeline.fallback.name
    batcher = MicroBatcher(
        lambda items: _run(pipeline, store, metrics, items), max_batch, max_wait_ms, queue_size
    )
    metrics = ServeMetrics(queue_depth=batcher.depth)
    feedback_lock = threading.Lock()
    lane = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="linernotes-fallback")
    lane_waiting = 0  # requests the queue refused that wait for the lane

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        with serving_settings():
            await batcher.start()
            yield
            await batcher.stop()
        lane.shutdown(cancel_futures=True)
        if hasattr(store, "close"):
            store.close()

    app = FastAPI(
        title="linernotes",
        summary="Picks for what to play next, and a grounded story about them.",
        version=_version(),
        lifespan=lifespan,
    )
    protect(
        app,
        api_keys=api_keys,
        rate_limit=rate_limit,
        burst=burst,
        max_body_bytes=max_body_bytes,
        observe=metrics.observe_request,
    )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return _error(e.status, str(e), e.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, e: RequestValidationError):
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if e.errors()[0]["loc"][0] == "body" and not re.fullmatch(r"application/(.+\+)?json", kind):
            return _error(415, f"the body must be JSON (content-type application/json), not {kind}")
        errors = [
            {
                # a union's member (feedback: dict[str,any] or list[any]) is no field
                "field": ".".join(str(p) for p in err["loc"][1:] if not _TAG.fullmatch(str(p)))
                or "body",
                "reason": err["msg"],
            }
            for err in e.errors()
        ]
        field = errors[0]["field"]
        reasons = dict.fromkeys(err["reason"] for err in errors if err["field"] == field)
        return _error(422, f"{field}: {' or '.join(reasons)}", errors=errors)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error(500, "internal error; the server log has the details")

    @app.post(
        "/v1/recommend",
        response_class=Response,
        responses={
            200: {
                "model": Result,
                "description": "The result, as `linernotes recommend --json` prints it. The "
                "header X-Linernotes-Store says hit (from the story store), miss (made now "
                "and stored) or skip (made now, not stored: inline history or no listener).",
            },
            404: {"model": Problem, "description": "Unknown listener."},
            413: {"model": Problem, "description": "The body is too large."},
            422: {"model": Problem, "description": "Invalid body, empty history, no match."},
            503: {"model": Problem, "description": "The queue is full (see Retry-After)."},
        },
    )
    async def recommend(body: RecommendBody) -> Response:
        """Picks and a grounded, cited story for a listener in a context."""
        if body.deadline_ms and body.deadline_ms > max_deadline_ms:
            raise ApiError(422, f"deadline_ms: at most {max_deadline_ms:g}, got {body.deadline_ms}")
        request = _request(pipeline, body)
        key = (
            story_key(pipeline.config_id, body.listener, request.context, request.k)
            if store is not None and body.listener is not None and not body.history
            else None
        )
        if key is None:
            outcome = "skip"
        else:
            stored = _get(store, key)
            outcome = "miss" if stored is None else "hit"
        metrics.store.labels(outcome).inc()
        if outcome == "hit":
            return _json(stored, outcome)
        deadline = body.deadline_ms or deadline_ms
        early = Early() if deadline and deadlines else None
        try:
            future = batcher.enqueue((request, key, early))
            if early is None:
                text = await future
            else:
                late_fallback = functools.partial(lane.submit, _late, pipeline, request, early)
                text, late = await _in_time(future, early, deadline / 1000, late_fallback)
                if late and key is None:
                    future.cancel()  # nothing to store: the batch may skip it
                metrics.deadlines.labels("missed" if late else "met").inc()
        except QueueFull as e:
            if early is None or lane_waiting >= queue_size:
                metrics.rejected.inc()
                raise ApiError(
                    503, f"busy: {e}; retry later", {"Retry-After": str(RETRY_AFTER_S)}
                ) from None
            text = await fallback_now(request)
            metrics.deadlines.labels("busy").inc()
        except ShuttingDown as e:
            raise ApiError(503, str(e)) from None
        except DataError as e:
            raise ApiError(422, str(e)) from None
        return _json(text, outcome)

    async def fallback_now(request: StoryRequest) -> str:
        """The verified fallback's result, made at once on the fallback lane (the queue for
        the generator is full)."""
        nonlocal lane_waiting
        lane_waiting += 1
        try:
            early = Early()
            await asyncio.wrap_future(lane.submit(_late, pipeline, request, early, BUSY))
            if not early.done():
                raise ApiError(503, "busy, and the fallback failed; retry later")
            return early.result()
        finally:
            lane_waiting -= 1

    @app.post(
        "/v1/feedback",
        responses={
            422: {"model": Problem, "description": "Invalid events; nothing was stored."},
            503: {"model": Problem, "description": "This server has no feedback store."},
        },
    )
    async def feedback(
        events: Annotated[
            dict[str, Any] | list[Any],
            Body(
                description="One event or a list, in the schema of `linernotes.feedback` "
                "(as `linernotes feedback ingest` reads them). All are stored, or none.",
                examples=[
                    {
                        "event": "thumbs_up",
                        "ts": "2026-11-25T21:04:00Z",
                        "listener": "2",
                        "story_id": "fadb21ec7a84b97d",
                    }
                ],
            ),
        ],
    ) -> FeedbackReceipt:
        """Validate feedback events and append the new ones to the feedback store."""
        if feedback_dir is None:
            raise ApiError(503, "this server has no feedback store")
        raw = events if isinstance(events, list) else [events]
        if not raw:
            raise ApiError(422, "no events")
        if len(raw) > MAX_EVENTS:
            raise ApiError(422, f"at most {MAX_EVENTS} events per request, got {len(raw)}")
        parsed, errors = [], []
        for n, record in enumerate(raw):
            try:
                parsed.append(parse_event(record))
            except EventError as e:
                errors.append({"index": n, "field": e.field, "reason": str(e)})
        if errors:
            metrics.feedback.labels("rejected").inc(len(raw))
            first = errors[0]
            where = f"event {first['index']}" + (
                f", field '{first['field']}'" if first["field"] else ""
            )
            more = f" ({len(errors) - 1} more invalid)" if len(errors) > 1 else ""
            return _error(422, f"{where}: {first['reason']}{more}; nothing stored", errors=errors)

        def append() -> int:
            with feedback_lock:  # one writer at a time, so the duplicate check holds
                return append_events(parsed, feedback_dir)[1]

        duplicates = await asyncio.to_thread(append)
        metrics.feedback.labels("accepted").inc(len(parsed) - duplicates)
        metrics.feedback.labels("duplicate").inc(duplicates)
        return FeedbackReceipt(accepted=len(parsed) - duplicates, duplicates=duplicates)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", responses={503: {"model": Problem, "description": "Not ready."}})
    async def readyz() -> dict[str, Any]:
        """The pipeline is fitted and the batch worker runs."""
        if not batcher.running:
            raise ApiError(503, "not ready: the batch worker is not running")
        return {
            "status": "ready",
            "config_id": pipeline.config_id,
            "fit_seconds": round(pipeline.fit_seconds, 3),
        }

    @app.get("/metrics", response_class=Response)
    async def prometheus() -> Response:
        """Prometheus metrics."""
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    add_page(app, pipeline)
    return app


def _request(pipeline: Pipeline, body: RecommendBody) -> StoryRequest:
    """The library request for ``body``, or an :class:`ApiError` saying what is wrong."""
    ctx = body.context
    if body.history is not None and not body.history:
        raise ApiError(422, "history is empty; give artist names or ids, or leave it out")
    if body.listener is None and not (body.history or any(ctx.model_dump().values())):
        raise ApiError(
            422,
            "say who is listening: a listener id, a history or a context.seed, "
            "or give a context mood, activity or time",
        )
    catalog = pipeline.catalog
    if body.listener is not None and not catalog.has_listener(body.listener):
        raise ApiError(
            404, f"unknown listener '{body.listener}' ({len(catalog.listener_ids)} listeners)"
        )
    names = [catalog.item(h).name if h in catalog.item_index else h for h in body.history or []]
    context = normalize_context(Context(ctx.time, ctx.mood, ctx.activity))
    try:
        request = pipeline.request(
            listener=body.listener,
            history=names,
            k=body.k or pipeline.k,
            time=context.time,
            mood=context.mood,
            activity=context.activity,
            seed=ctx.seed,
        )
    except DataError as e:
        raise ApiError(422, str(e)) from None
    return request


Early = concurrent.futures.Future
"""Where the batch worker puts a request's fallback result (JSON), before generation starts."""


def _run(
    pipeline: Pipeline,
    store: StoryStore | None,
    metrics: ServeMetrics,
    items: list[tuple[StoryRequest, StoryKey | None, Early | None]],
) -> list[str]:
    """Run one batch (in the batch worker's thread): result JSON per request, stored when keyed.

    Requests with a deadline get their fallback result first, in their ``Early`` future.
    """

    def deliver(fallbacks: list[Result]) -> None:
        for (_, _, early), result in zip(items, fallbacks, strict=True):
            if early is not None:
                _offer(early, result, LATE)

    wanted = any(early is not None for _, _, early in items)
    results: list[Result] = pipeline.run(
        [request for request, _, _ in items], on_fallback=deliver if wanted else None
    )
    metrics.observe_batch(results)
    texts = []
    for (_, key, _), result in zip(items, results, strict=True):
        text = to_json(result)
        if key is not None and result.story is not None:
            try:
                store.put(key, text)
            except Exception:  # a store outage must not fail the request it answers
                log.exception("could not write a story to the store")
        texts.append(text)
    return texts


def _late(pipeline: Pipeline, request: StoryRequest, early: Early, why: str = LATE) -> None:
    """Put the fallback result in ``early``, its trace saying ``why``: for a request whose
    batch has not reached its fallback by the deadline (it waits behind a running batch),
    or that the full queue refused."""
    if early.done():
        return
    try:
        result = pipeline.run_fallback([request])[0]
    except Exception:  # the request's own batch still delivers its fallback
        log.exception("the fallback for a late request failed")
        return
    _offer(early, result, why)


def _offer(early: Early, result: Result, why: str) -> None:
    """Give ``early`` the fallback ``result``, its trace saying ``why``, unless it has one
    (the batch worker and the fallback lane may race to it)."""
    if early.done():
        return
    result.trace.events.append(why)
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        early.set_result(to_json(result))


async def _in_time(
    result: asyncio.Future, early: Early, seconds: float, fallback: Callable[[], Any]
) -> tuple[str, bool]:
    """The result if it comes by the cut-off, ``SPARE`` of ``seconds`` before they end; else
    whichever comes first of the result and the early fallback. ``fallback()`` starts making
    that on the lane if the batch has not reached it by ``2 * SPARE`` before the end.
    Returns the JSON and whether it is the fallback."""
    lane_at, cutoff = seconds * (1 - 2 * SPARE), seconds * (1 - SPARE)
    done, _ = await asyncio.wait({result}, timeout=lane_at)
    if not done:
        if not early.done():
            fallback()
        done, _ = await asyncio.wait({result}, timeout=cutoff - lane_at)
    if not done:
        ready = asyncio.wrap_future(early)
        done, _ = await asyncio.wait({result, ready}, return_when=asyncio.FIRST_COMPLETED)
        if result not in done:
            result.add_done_callback(_discard)  # finished in the background, then stored
            return ready.result(), True
    return result.result(), False


def _discard(future: asyncio.Future) -> None:
    """Retrieve a background result's exception, so that asyncio does not report it."""
    if not future.cancelled() and future.exception() is not None:
        log.warning("a background story failed: %s", future.exception())


def _get(store: StoryStore, key: StoryKey) -> str | None:
    try:
        return store.get(key)
    except Exception:  # a store outage makes a miss, not a failure
        log.exception("could not read the story store")
        return None


def _json(text: str, store: str) -> Response:
    return Response(text, media_type="application/json", headers={"X-Linernotes-Store": store})


def _error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("linernotes-serve")
    except PackageNotFoundError:
        return "0"
