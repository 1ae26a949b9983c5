"""The OpenAI-compatible HTTP generator against a real local server (`transformers serve`)."""

import copy
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from linernotes.testing import GeneratorContract
from linernotes_generators import GenerationError, OpenAIGenerator

# `transformers serve` answers one request at a time: a long timeout, short prompts and budgets
SMALL = {"max_new_tokens": 10, "shots": 0, "facts_per_pick": 1, "concurrency": 2, "timeout": 600.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    """`transformers serve` on 127.0.0.1, serving the converted SmolLM2 folder."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve did not start: {log.read_text()[-2000:]}")
            time.sleep(1)
        yield f"{url}/v1", str(model_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class TestOpenAIContract(GeneratorContract):
    @pytest.fixture
    def component(self, server):
        base_url, model = server
        return OpenAIGenerator(base_url, model, **SMALL, temperature=0)


def test_a_batch_fans_out_to_the_server(server, tiny):
    base_url, model = server
    catalog, packs = tiny
    gen = OpenAIGenerator(base_url, model, **SMALL)
    gen.fit(catalog)
    drafts = gen.generate(packs[:2], 2)
    assert [len(d) for d in drafts] == [2, 2]
    assert all(d.text and d.generator == "openai" for ds in drafts for d in ds)


def test_a_server_that_is_down_gives_an_error_the_pipeline_falls_back_on(pipeline):
    gen = OpenAIGenerator(f"http://127.0.0.1:{free_port()}/v1", retries=1, backoff=0.01)
    gen.fit(pipeline.catalog)
    with pytest.raises(GenerationError, match="no draft from the server: ConnectError"):
        gen.generate([pipeline.recommend(listener="2").facts], 1)
    pipe = copy.copy(pipeline)
    pipe.generator = gen
    result = pipe.recommend(listener="2")
    assert result.story is not None and result.story.fallback
    assert any("generator failed: GenerationError" in e for e in result.trace.events)


def test_a_server_that_never_answers_times_out_and_retries(pipeline):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", timeout=0.3, retries=2, backoff=0.05)
        gen.fit(pipeline.catalog)
        start = time.monotonic()
        with pytest.raises(GenerationError, match="ReadTimeout"):
            gen.generate([pipeline.recommend(listener="2").facts], 1)
        elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 10  # three tries of 0.3 s, with backoff between them


@pytest.mark.parametrize(
    "params,message",
    [
        ({"base_url": "127.0.0.1:8000"}, "base_url must start with http"),
        ({"concurrency": 0}, "concurrency must be at least 1"),
        ({"timeout": 0}, "timeout must be positive"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        OpenAIGenerator(**params)
