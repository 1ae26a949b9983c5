"""The latency deadline: a late generator's story gives way to the verified fallback, and is
finished and stored in the background."""

from __future__ import annotations

import time

import httpx
from linernotes import Context
from linernotes_serve import SQLiteStoryStore, create_app, story_key
from linernotes_serve.app import BUSY, LATE


def test_a_late_story_gives_way_to_the_fallback_then_is_stored(slow_pipeline, run_server, tmp_path):
    store = SQLiteStoryStore(tmp_path / "stories.sqlite")
    app = create_app(slow_pipeline, store=store, deadline_ms=300)
    body = {"listener": "3", "context": {"mood": "calm"}}
    with run_server(app) as url:
        start = time.monotonic()
        late = httpx.post(url + "/v1/recommend", json=body, timeout=30)
        took = time.monotonic() - start
        assert late.status_code == 200, late.text
        result = late.json()
        assert took < 1.4  # the generator takes 1.5 s
        assert result["story"]["fallback"] and result["trace"]["fallback"]
        assert result["story"]["citations"] and result["picks"]
        assert LATE in result["trace"]["events"]

        key = story_key(slow_pipeline.config_id, "3", Context(mood="calm"), slow_pipeline.k)
        deadline = time.monotonic() + 10
        while store.get(key) is None:
            assert time.monotonic() < deadline, "the generator's story was never stored"
            time.sleep(0.05)
        again = httpx.post(url + "/v1/recommend", json=body, timeout=30)
        assert again.headers["x-linernotes-store"] == "hit"
        stored = again.json()
        assert not stored["story"]["fallback"] and not stored["trace"]["fallback"]
        assert LATE not in stored["trace"]["events"]
        assert [p["item"]["id"] for p in stored["picks"]] == [
            p["item"]["id"] for p in result["picks"]
        ]
        metrics = httpx.get(url + "/metrics").text
        assert 'linernotes_deadlines_total{result="missed"} 1.0' in metrics


def test_a_request_may_wait_longer(slow_pipeline, run_server):
    app = create_app(slow_pipeline, deadline_ms=300)
    with run_server(app) as url:
        body = {"history": ["Jazz Artist A"], "deadline_ms": 5000}
        response = httpx.post(url + "/v1/recommend", json=body, timeout=30)
        assert response.status_code == 200
        assert not response.json()["trace"]["fallback"]
        too_long = httpx.post(url + "/v1/recommend", json={**body, "deadline_ms": 40_000})
        assert too_long.status_code == 422
        assert too_long.json()["detail"] == "deadline_ms: at most 30000, got 40000"
        metrics = httpx.get(url + "/metrics").text
        assert 'linernotes_deadlines_total{result="met"} 1.0' in metrics


def test_no_deadline_without_a_faster_fallback(tiny_pipeline, proxy, run_server):
    """With the template as both generator and fallback, there is nothing faster to serve."""
    recorder = proxy(tiny_pipeline)
    with run_server(create_app(recorder, deadline_ms=1)) as url:
        response = httpx.post(url + "/v1/recommend", json={"listener": "1"}, timeout=30)
    assert response.status_code == 200
    assert recorder.early == [False]
    assert not response.json()["trace"]["fallback"]


def test_a_request_queued_behind_a_slow_batch_still_gets_its_fallback_in_time(
    slow_pipeline, proxy, run_server
):
    """The fallback lane serves a request whose batch has not started by its deadline; with
    no store, its generator run is skipped (there is nowhere to keep the story)."""
    import concurrent.futures

    recorder = proxy(slow_pipeline)
    app = create_app(recorder, deadline_ms=300, max_batch=1)
    with run_server(app) as url, concurrent.futures.ThreadPoolExecutor(2) as pool:

        def ask(listener: str) -> tuple[httpx.Response, float]:
            start = time.monotonic()
            body = {"listener": listener, "context": {"mood": "calm"}}
            response = httpx.post(url + "/v1/recommend", json=body, timeout=30)
            return response, time.monotonic() - start

        first = pool.submit(ask, "3")
        recorder.entered.wait(10)
        second = pool.submit(ask, "4")
        for response, took in (first.result(), second.result()):
            assert response.status_code == 200, response.text
            assert took < 1.4  # the first batch alone takes 1.5 s
            assert response.json()["trace"]["fallback"]
            assert LATE in response.json()["trace"]["events"]
        time.sleep(2)  # the first batch ends; the second request's batch is skipped
    assert recorder.batches == [1]


def test_a_full_queue_serves_the_fallback_at_once_when_there_is_one(
    slow_pipeline, proxy, run_server
):
    """With a faster fallback, a request the full queue refuses gets it at once, not a 503."""
    import concurrent.futures

    blocked = proxy(slow_pipeline)
    blocked.gate.clear()
    app = create_app(blocked, max_batch=1, max_wait_ms=0, queue_size=1, deadline_ms=20_000)
    with run_server(app) as url, concurrent.futures.ThreadPoolExecutor(2) as pool:

        def ask(listener: str) -> httpx.Response:
            body = {"listener": listener}
            return httpx.post(url + "/v1/recommend", json=body, timeout=30)

        running_one = pool.submit(ask, "3")  # held at the gate
        assert blocked.entered.wait(10)
        waiting = pool.submit(ask, "4")  # waits in the queue
        deadline = time.monotonic() + 10
        while "linernotes_queue_depth 1.0" not in httpx.get(url + "/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        busy = ask("5")
        assert busy.status_code == 200, busy.text
        assert busy.json()["trace"]["fallback"] and BUSY in busy.json()["trace"]["events"]
        assert busy.json()["story"]["citations"]
        blocked.gate.set()
        assert not running_one.result().json()["trace"]["fallback"]
        assert waiting.result().status_code == 200
        metrics = httpx.get(url + "/metrics").text
        assert 'linernotes_deadlines_total{result="busy"} 1.0' in metrics
        assert "linernotes_queue_rejected_total 0.0" in metrics
