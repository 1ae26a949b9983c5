"""Serve tests: a real uvicorn server on 127.0.0.1, a pipeline fitted on the tiny catalog."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TINY = ["generator=template", "retrievers=[colisten,social]", "ranker=popcolisten"]
"""Overrides that fit the default pipeline's shape on the tiny catalog in a few seconds."""


@pytest.fixture(scope="session")
def tiny_mirror(tmp_path_factory) -> Path:
    """A data mirror holding the tiny HetRec-format world of :mod:`linernotes.testing`."""
    from linernotes.testing import write_tiny_dataset

    folder = tmp_path_factory.mktemp("tiny-mirror")
    write_tiny_dataset(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_mirror):
    """The pipeline (template generator) fitted on the tiny world, built once."""
    import linernotes

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINERNOTES_DATA_MIRROR", str(tiny_mirror))
        return linernotes.build_pipeline(TINY, progress=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread on a free port; yield its base URL."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class Proxy:
    """The tiny pipeline with an instrumented ``run``: a gate to hold batches, a log of their
    sizes and of ``on_fallback``, or an error to raise."""

    def __init__(self, pipeline, error: Exception | None = None):
        self._pipeline = pipeline
        self.error = error
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.batches: list[int] = []
        self.early: list[bool] = []  # whether each batch asked for the fallback first

    def __getattr__(self, name):
        return getattr(self._pipeline, name)

    def run(self, requests, on_fallback=None):
        self.entered.set()
        self.gate.wait(30)
        self.batches.append(len(requests))
        self.early.append(on_fallback is not None)
        if self.error is not None:
            raise self.error
        return self._pipeline.run(requests, on_fallback)


class Slow:
    """A generator that takes ``seconds`` before the wrapped one writes."""

    name = "slow"

    def __init__(self, generator, seconds: float):
        self.generator = generator
        self.seconds = seconds

    def generate(self, packs, n):
        time.sleep(self.seconds)
        return self.generator.generate(packs, n)


@pytest.fixture(scope="session")
def slow_pipeline(tiny_pipeline):
    """The tiny pipeline whose generator takes 1.5 s (its fallback stays fast)."""
    import copy

    slow = copy.copy(tiny_pipeline)
    slow.generator = Slow(tiny_pipeline.generator, 1.5)
    return slow


@pytest.fixture(scope="session")
def run_server():
    """:func:`running`: serve an app on a free port for the length of a ``with`` block."""
    return running


@pytest.fixture(scope="session")
def proxy():
    """The :class:`Proxy` class."""
    return Proxy


@pytest.fixture(scope="module")
def server(tiny_pipeline, tmp_path_factory):
    """A server for the tiny pipeline with a fresh story store and feedback store."""
    from linernotes_serve import SQLiteStoryStore, create_app

    folder = tmp_path_factory.mktemp("serve")
    store = SQLiteStoryStore(folder / "stories.sqlite")
    app = create_app(tiny_pipeline, store=store, feedback_dir=folder / "feedback")
    with running(app) as url:
        yield Server(url, store, folder / "feedback", tiny_pipeline)


@dataclass
class Server:
    """A running test server: its base URL, story store, feedback folder and pipeline."""

    url: str
    store: Any
    feedback_dir: Path
    pipeline: Any


def start_serve(mirror: Path, *options: str) -> tuple[subprocess.Popen, str]:
    """Start the real ``linernotes serve`` (the :data:`TINY` overrides and ``options``) on a
    free port over ``mirror``; once ``/readyz`` answers 200, return the process (its stderr
    piped, as text) and its base URL."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "linernotes.cli", "serve", *TINY, "--port", str(port)]
    env = {**os.environ, "LINERNOTES_DATA_MIRROR": str(mirror)}
    process = subprocess.Popen([*command, *options], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"linernotes serve exited: {process.stderr.read()}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("linernotes serve was not ready in 90 s")
        try:
            if httpx.get(url + "/readyz").status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)


@pytest.fixture(scope="session")
def serve_process():
    """:func:`start_serve`: the real ``linernotes serve`` as a subprocess, ready."""
    return start_serve
