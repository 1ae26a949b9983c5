"""The OpenAI-compatible HTTP generator, for served models (vLLM, TGI, llama.cpp, Ollama)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from linernotes import Draft, FactPack
from linernotes.catalog import Catalog
from linernotes.errors import LinernotesError

from .models import DEFAULT_MODEL
from .output import finish
from .prompts import Prompter

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class GenerationError(LinernotesError):
    """A served model gave no draft at all; the pipeline falls back to its template."""


class OpenAIGenerator:
    """Asks an OpenAI-compatible ``/chat/completions`` endpoint for ``n`` drafts per pack.

    Every draft is one request (``seed + draft number``), so servers without ``n``
    support work too; a batch fans out over at most ``concurrency`` connections.
    Each request has a ``timeout`` and up to ``retries`` retries with exponential
    backoff (``backoff`` seconds, doubled each time) on connection errors, timeouts
    and retryable statuses. A request that still fails loses its draft; when no
    draft of the batch could be had, ``generate`` raises :class:`GenerationError`,
    which the pipeline records in the trace before it falls back. The API key, if
    any, is read from the environment variable ``api_key_env``.
    """

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str = DEFAULT_MODEL,
        api_key_env: str = "OPENAI_API_KEY",
        max_new_tokens: int = 120,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = 0,
        concurrency: int = 4,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        shots: int = 2,
        facts_per_pick: int = 2,
        examples: str = "",
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must be at least 0")
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.prompter = Prompter(shots, facts_per_pick, examples)
        self.client = None

    def fit(self, catalog: Catalog) -> None:
        """Open the connection pool (nothing is sent until ``generate``)."""
        import httpx

        key = os.environ.get(self.api_key_env, "")
        self.client = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            headers={"Authorization": f"Bearer {key}"} if key else {},
            limits=httpx.Limits(max_connections=self.concurrency),
        )

    def generate(self, packs: Sequence[FactPack], n: int) -> list[list[Draft]]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if not packs:
            return []
        if self.client is None:
            raise RuntimeError("call fit(catalog) before generate()")
        jobs = [(i, j, self.prompter.messages(p)) for i, p in enumerate(packs) for j in range(n)]
        with ThreadPoolExecutor(self.concurrency) as pool:
            answers = list(pool.map(lambda job: self._ask(job[2], job[1]), jobs))
        drafts: list[list[Draft]] = [[] for _ in packs]
        errors = []
        for (i, _, _), answer in zip(jobs, answers, strict=True):
            if isinstance(answer, str):
                drafts[i].append(Draft(answer, self.name))
            else:
                errors.append(answer)
        if len(errors) == len(jobs):
            raise GenerationError(f"{self.base_url}: no draft from the server: {errors[0]}")
        for e in errors:
            log.warning("%s: a draft was lost: %s", self.base_url, e)
        return drafts

    def _ask(self, messages: list[dict[str, str]], draft: int) -> str | Exception:
        """One completion, with retries; the last error is returned, never raised."""
        import httpx

        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "seed": self.seed + draft,
        }
        error: Exception = RuntimeError("no attempt")
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.client.post("/chat/completions", json=body)
                if response.status_code in RETRY_STATUS:
                    error = RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
                    continue
                response.raise_for_status()
                choice = response.json()["choices"][0]
                text = choice["message"]["content"] or ""
                return finish(text, truncated=choice.get("finish_reason") == "length")
            except httpx.TransportError as e:  # connection errors and timeouts
                error = RuntimeError(f"{type(e).__name__}: {e}")
            except (httpx.HTTPStatusError, ValueError, KeyError, IndexError, TypeError) as e:
                return RuntimeError(f"bad answer: {type(e).__name__}: {e}")
        return error
