"""Security for the HTTP app: API keys, rate limits, a body size limit and an access log
that never shows a listener id in clear.

:func:`protect` installs them on an app. Everything is guarded except the open
paths (:data:`OPEN`): the web page, its static files, health, readiness,
metrics and the API docs.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from linernotes.errors import ConfigError
from starlette.responses import JSONResponse
from starlette.routing import Route

log = logging.getLogger("linernotes.serve")
access_log = logging.getLogger("linernotes.serve.access")

KEYS_ENV = "LINERNOTES_API_KEYS"
"""Environment variable with API keys, comma separated."""
SALT_ENV = "LINERNOTES_LOG_SALT"
"""Environment variable with the salt of listener hashes in the access log (else random)."""
HEADER = "X-API-Key"
"""The request header that carries the API key."""
OPEN = frozenset(
    ("/", "/favicon.ico", "/healthz", "/readyz", "/metrics")
    + ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
)
"""Paths that need no API key and have no rate limit (and everything under ``/static/``)."""
MAX_CLIENTS = 10_000
"""Rate-limit buckets kept before full ones are dropped."""


def is_open(path: str) -> bool:
    """Whether ``path`` is served without an API key and without a rate limit."""
    return path in OPEN or path.startswith("/static/")


def load_api_keys(file: str | Path | None = None) -> list[str]:
    """API keys from ``$LINERNOTES_API_KEYS`` (comma separated) and ``file`` (one a line;
    blank lines and lines starting with ``#`` are skipped). A file without keys is an error."""
    keys = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",")]
    if file is not None:
        lines = [line.strip() for line in Path(file).read_text(encoding="utf-8").splitlines()]
        in_file = [line for line in lines if line and not line.startswith("#")]
        if not in_file:
            raise ConfigError(f"no API keys in {file} (one a line; # starts a comment)")
        keys += in_file
    return list(dict.fromkeys(k for k in keys if k))


class ApiKeys:
    """The configured API keys. A key is compared with every one of them in constant time
    (SHA-256 digests with :func:`hmac.compare_digest`, so not even its length leaks)."""

    def __init__(self, keys: Iterable[str]):
        self._digests = [_sha256(k) for k in keys]
        if not self._digests:
            raise ValueError("no API keys")

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, given: str) -> int | None:
        """The index of the key ``given`` equals, or None."""
        digest = _sha256(given)
        found = None
        for n, key in enumerate(self._digests):  # no early exit
            if hmac.compare_digest(digest, key):
                found = n
        return found


class RateLimiter:
    """One token bucket per client: ``rate`` requests per second, bursts of up to ``burst``
    (default: one second's worth). Used from the event loop only."""

    def __init__(self, rate: float, burst: int | None = None):
        if rate <= 0 or (burst is not None and burst < 1):
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst or max(1, math.ceil(rate))
        self._buckets: dict[str, tuple[float, float]] = {}  # client: (tokens, when)

    def take(self, client: str, now: float | None = None) -> float:
        """Take a token for ``client``: 0 if it had one, else the seconds until it has."""
        now = time.monotonic() if now is None else now
        tokens, then = self._buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            return (1 - tokens) / self.rate
        if client not in self._buckets and len(self._buckets) >= MAX_CLIENTS:
            self._forget_full(now)
        self._buckets[client] = (tokens - 1, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (they are the same as new ones)."""
        for client, (tokens, then) in list(self._buckets.items()):
            if tokens + (now - then) * self.rate >= self.burst:
                del self._buckets[client]


def protect(
    app,
    *,
    api_keys: Collection[str] | None = None,
    rate_limit: float | None = None,
    burst: int | None = None,
    max_body_bytes: int = 64 * 1024,
    observe: Callable[[str, int, float], None] | None = None,
) -> None:
    """Install, outermost first: the access log, the body size limit, and (when
    configured) the API key check and the rate limit; document them in the OpenAPI.
    ``observe(route, status, seconds)`` is called after every request (for metrics)."""
    keys = ApiKeys(api_keys) if api_keys else None
    limiter = RateLimiter(rate_limit, burst) if rate_limit else None
    if keys is not None or limiter is not None:
        app.add_middleware(Gate, keys=keys, limiter=limiter)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    salt = os.environ.get(SALT_ENV, "").encode() or None
    app.add_middleware(AccessLog, salt=salt, observe=observe)
    _document(app, keys is not None, limiter is not None)
    log.info(
        "API keys: %s; rate limit: %s",
        f"{len(keys)}, required in {HEADER}" if keys else "none, the API is open",
        f"{limiter.rate:g}/s per {'key' if keys else 'client address'}, burst {limiter.burst}"
        if limiter
        else "none",
    )


class Gate:
    """ASGI middleware: the API key check, then the rate limit (per key, or per client
    address without keys), on every path that is not open."""

    def __init__(self, app, keys: ApiKeys | None, limiter: RateLimiter | None):
        self.app = app
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or is_open(scope["path"]):
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown",))[0]
        if self.keys is not None:
            given = _header(scope, HEADER)
            n = None if given is None else self.keys.match(given)
            if n is None:
                why = "invalid API key" if given else f"no API key: send one in the {HEADER} header"
                hint = {"WWW-Authenticate": f'ApiKey header="{HEADER}"'}
                return await _problem(401, why, hint)(scope, receive, send)
            client = f"key {n}"
        if self.limiter is not None:
            wait = self.limiter.take(client)
            if wait:
                retry = str(math.ceil(wait))
                rate = f"{self.limiter.rate:g} requests per second"
                message = f"over the rate limit of {rate}; retry in {retry} s"
                return await _problem(429, message, {"Retry-After": retry})(scope, receive, send)
        return await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a body over ``max_bytes`` gets 413, whether it declares its length
    or comes in chunks (those are read ahead, at most ``max_bytes``, then passed on)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = _header(scope, "content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                return await self._too_large(scope, receive, send)
        elif _header(scope, "transfer-encoding") is not None:
            body, more = bytearray(), True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client left
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > self.max_bytes:
                    return await self._too_large(scope, receive, send)
            receive = _replay(bytes(body), receive)
        return await self.app(scope, receive, send)

    def _too_large(self, scope, receive, send):
        message = f"the request body must be at most {self.max_bytes} bytes"
        return _problem(413, message)(scope, receive, send)


class AccessLog:
    """ASGI middleware: one line per request on the ``linernotes.serve.access`` logger
    (method, path, status, milliseconds) with a keyed hash, never the clear text, of each
    listener id the request names (in its JSON body, query string or path). The path has
    no query string, and is the route's template when the route takes parameters. Then
    ``observe(route template or "other", status, seconds)``, if given."""

    def __init__(
        self,
        app,
        salt: bytes | None = None,
        observe: Callable[[str, int, float], None] | None = None,
    ):
        self.app = app
        self.salt = salt or secrets.token_bytes(16)
        self.observe = observe

    def hash(self, listener: str) -> str:
        """The listener id's short HMAC-SHA256, as the access log shows it."""
        return hmac.new(self.salt, listener.encode(), hashlib.sha256).hexdigest()[:12]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = 500
        body = bytearray()

        async def tee():
            message = await receive()
            if message["type"] == "http.request" and len(body) <= 1 << 20:
                body.extend(message.get("body", b""))
            return message

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, tee, send_status)
        finally:
            seconds = time.perf_counter() - start
            if self.observe is not None:
                self.observe(getattr(scope.get("route"), "path", "other"), status, seconds)
            path, listeners = _what(scope, bytes(body))
            who = ",".join(self.hash(x) for x in listeners[:3]) + (
                f",+{len(listeners) - 3}" if len(listeners) > 3 else ""
            )
            access_log.info(
                "%s %s %d %.1fms%s",
                scope["method"],
                path,
                status,
                seconds * 1000,
                f" listener={who}" if who else "",
            )


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, plus the ``linernotes.serve`` loggers at ``level``
    (the access log among them) on uvicorn's default handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["linernotes.serve"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config


def _what(scope, body: bytes) -> tuple[str, list[str]]:
    """The path to log, and the listener ids the request names."""
    path, found = scope["path"], []
    route, params = scope.get("route"), scope.get("path_params") or {}
    if isinstance(route, Route) and params:
        path = route.path
        found += [str(v) for k, v in params.items() if "listener" in k or "listener" in path]
    query = scope.get("query_string", b"").decode("latin-1")
    found += [v for k, v in parse_qsl(query) if "listener" in k]
    if body.lstrip()[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # the app answers those; nothing to log
            data = None
        for record in data if isinstance(data, list) else [data]:
            if isinstance(record, dict) and isinstance(record.get("listener"), str | int):
                found.append(str(record["listener"]))
    return path, list(dict.fromkeys(found))


def _document(app, keys: bool, limited: bool) -> None:
    """Make the app's OpenAPI say what the app answers: the API key scheme; the 400, 401,
    413, 415 and 429 answers; 422 as a :class:`~linernotes_serve.models.Problem`."""
    make = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = make()
            if keys:
                schema["components"]["securitySchemes"] = {
                    "ApiKey": {"type": "apiKey", "in": "header", "name": HEADER}
                }
            for path, operations in schema["paths"].items():
                guarded = not is_open(path)
                for operation in operations.values():
                    responses = operation["responses"]
                    if "HTTPValidationError" in json.dumps(responses.get("422", "")):
                        responses["422"] = _answer("Invalid input.")  # as the app answers
                    if keys and guarded:
                        operation["security"] = [{"ApiKey": []}]
                    answers = {
                        "400": ("requestBody" in operation, "The body is not UTF-8 JSON."),
                        "401": (keys and guarded, "No API key, or an invalid one."),
                        "413": ("requestBody" in operation, "The body is too large."),
                        "415": ("requestBody" in operation, "The body is not JSON."),
                        "429": (limited and guarded, "Over the rate limit (see Retry-After)."),
                    }
                    for status, (wanted, description) in answers.items():
                        if wanted:
                            responses.setdefault(status, _answer(description))
        return app.openapi_schema

    app.openapi = openapi


def _answer(description: str) -> dict[str, Any]:
    """An OpenAPI response: a :class:`~linernotes_serve.models.Problem`."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _header(scope, name: str) -> str | None:
    """The first value of header ``name`` (any case), or None."""
    wanted = name.lower().encode()
    for key, value in scope["headers"]:
        if key == wanted:
            return value.decode("latin-1")
    return None


def _replay(body: bytes, receive):
    """A ``receive`` that gives ``body`` as one message, then defers to ``receive``."""
    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _problem(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()
