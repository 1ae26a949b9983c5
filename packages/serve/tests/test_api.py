"""The HTTP API against a real server: recommend, the story store, bad input, feedback, health."""

from __future__ import annotations

import concurrent.futures
import json
import re

import httpx
import pytest
from linernotes_serve import create_app
from linernotes_tuning.store import read_events


def post(server, path: str, body, **kwargs) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=30, **kwargs)


def metric(server, name: str, **labels) -> float:
    """The value of one sample of ``/metrics`` (0 if absent)."""
    text = httpx.get(server.url + "/metrics").text
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{re.escape(name)}{re.escape('{' + want + '}') if want else ''} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def assert_story(result: dict) -> None:
    """Picks and a story whose every citation resolves to a fact of the result."""
    assert result["picks"]
    story = result["story"]
    assert story["text"] and story["citations"]
    facts = {f["id"] for f in result["facts"]["facts"]}
    assert set(story["citations"].values()) <= facts
    for n in story["citations"]:
        assert f"[{n}]" in story["text"]


def test_recommend_by_listener_then_from_the_store(server):
    body = {"listener": "1", "context": {"mood": "  Calm "}, "k": 5}
    first = post(server, "/v1/recommend", body)
    assert first.status_code == 200, first.text
    assert first.headers["x-linernotes-store"] == "miss"
    result = first.json()
    assert_story(result)
    assert len(result["picks"]) == 5
    assert result["request"]["listener"]["id"] == "1"
    assert result["request"]["context"]["mood"] == "calm"  # normalised
    assert result["trace"]["config_id"] == server.pipeline.config_id

    hits = metric(server, "linernotes_store_lookups_total", result="hit")
    again = post(server, "/v1/recommend", {**body, "context": {"mood": "calm"}})
    assert again.status_code == 200
    assert again.headers["x-linernotes-store"] == "hit"
    assert again.json() == result
    assert metric(server, "linernotes_store_lookups_total", result="hit") == hits + 1


def test_the_json_is_recommend_json(server):
    """The response is ``to_json`` of the library's result for the same request."""
    from linernotes import to_json

    served = post(server, "/v1/recommend", {"listener": "12", "k": 3}).json()
    pipe = server.pipeline
    expected = json.loads(to_json(pipe.recommend(pipe.request(listener="12", k=3))))
    for result in (served, expected):
        del result["trace"]["timings"]
    assert served == expected


def test_recommend_by_history_names_or_ids_is_not_stored(server):
    names = post(
        server,
        "/v1/recommend",
        {"history": ["rock artist a", "Rock Artist B"], "context": {"activity": "running"}},
    )
    assert names.status_code == 200, names.text
    assert names.headers["x-linernotes-store"] == "skip"
    assert_story(names.json())
    history = names.json()["request"]["listener"]["history"]
    ids = post(server, "/v1/recommend", {"history": list(history)})
    assert ids.status_code == 200, ids.text
    assert ids.json()["request"]["listener"]["history"] == history


def test_context_only(server):
    response = post(server, "/v1/recommend", {"context": {"seed": "Jazz Artist A"}, "k": 3})
    assert response.status_code == 200, response.text
    assert response.headers["x-linernotes-store"] == "skip"
    assert len(response.json()["picks"]) == 3


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"listener": "nobody"}, 404, "unknown listener 'nobody'"),
        ({"history": []}, 422, "history is empty"),
        ({"history": ["zzzzqqqq"]}, 422, "no artist in the catalog matches"),
        ({"context": {"seed": "zzzzqqqq"}}, 422, "no artist in the catalog matches the seed"),
        ({}, 422, "say who is listening"),
        ({"listener": "1", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ({"listener": "1", "k": "many"}, 422, "k: Input should be a valid integer"),
        ({"listener": "1" * 65}, 422, "listener: String should have at most 64 characters"),
        ({"history": ["a"] * 201}, 422, "history: List should have at most 200 items"),
        ({"listener": "1", "context": {"mood": "x" * 101}}, 422, "context.mood: String should"),
        ({"listener": "1", "context": {"weather": "rain"}}, 422, "context.weather: Extra inputs"),
        ({"listener": "1", "limit": 3}, 422, "limit: Extra inputs are not permitted"),
        ([1, 2], 422, "body: Input should be a valid dictionary"),
    ],
)
def test_bad_requests_get_one_clear_message(server, body, status, message):
    response = post(server, "/v1/recommend", body)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and message in detail
    assert "Traceback" not in response.text


def test_not_json_and_too_large(server):
    response = httpx.post(
        server.url + "/v1/recommend", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "JSON" in response.json()["detail"]
    big = {"listener": "1", "history": ["x" * 199] * 200, "padding": "y" * 70_000}
    response = post(server, "/v1/recommend", big)
    assert response.status_code == 413
    assert "at most 65536 bytes" in response.json()["detail"]


def event(**fields) -> dict:
    return {
        "event": "thumbs_up",
        "ts": "2026-11-25T21:04:00Z",
        "listener": "1",
        "story_id": "abc123",
        **fields,
    }


def test_feedback_all_or_nothing(server):
    before = read_events(server.feedback_dir).height
    bad = [event(), event(event="play", ts="yesterday"), event(event="like")]
    response = post(server, "/v1/feedback", bad)
    assert response.status_code == 422
    out = response.json()
    assert out["detail"].startswith("event 1, field 'ts': 'ts' is not an ISO 8601 time")
    assert "nothing stored" in out["detail"]
    assert [(e["index"], e["field"]) for e in out["errors"]] == [(1, "ts"), (2, "event")]
    assert read_events(server.feedback_dir).height == before

    good = [event(), event(event="play", item="5", ts=1795640700), event(event="skip")]
    response = post(server, "/v1/feedback", good)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 3, "duplicates": 0}
    stored = read_events(server.feedback_dir)
    assert stored.height == before + 3
    assert sorted(stored["event"].to_list()) == ["play", "skip", "thumbs_up"]

    response = post(server, "/v1/feedback", event())  # one event, already stored
    assert response.json() == {"accepted": 0, "duplicates": 1}
    assert read_events(server.feedback_dir).height == before + 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "no events"),
        (event(listener=""), "field 'listener': 'listener' is missing or empty"),
        (event(colour="red"), "field 'colour': unknown fields: colour"),
        (event(ts=1e30), "field 'ts'"),
        (["play"], "event 0: an event must be an object"),
        (event(event="impression", story="text"), "field 'pack'"),
    ],
)
def test_bad_feedback_names_the_field(server, body, message):
    response = post(server, "/v1/feedback", body)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_an_impression_from_a_served_story(server):
    from linernotes.feedback import impressions

    pipe = server.pipeline
    record = impressions([pipe.recommend(pipe.request(listener="2"))])[0]
    response = post(server, "/v1/feedback", record)
    assert response.status_code == 200, response.text
    stored = read_events(server.feedback_dir).filter(event="impression")
    assert record["story_id"] in stored["story_id"].to_list()


def test_health_ready_metrics_and_docs(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok"}
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready"
    assert ready["config_id"] == server.pipeline.config_id
    post(server, "/v1/recommend", {"history": ["Hip Hop Artist A"]})
    text = httpx.get(server.url + "/metrics").text
    for name in (
        'linernotes_request_seconds_count{route="/v1/recommend",status="200"}',
        'linernotes_stage_seconds_count{stage="generate"}',
        "linernotes_batch_size_count",
        "linernotes_queue_depth",
        'linernotes_stories_total{outcome="generator"}',
        'linernotes_stories_total{outcome="fallback"}',
        "linernotes_drafts_blocked_total",
    ):
        assert name in text
    assert metric(server, "linernotes_queue_depth") == 0
    schema = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/recommend", "/v1/feedback", "/healthz", "/readyz", "/metrics"} <= set(
        schema["paths"]
    )
    assert httpx.get(server.url + "/docs").status_code == 200


def test_a_full_queue_answers_503_with_retry_after(tiny_pipeline, proxy, run_server):
    blocked = proxy(tiny_pipeline)
    blocked.gate.clear()
    app = create_app(blocked, max_batch=1, max_wait_ms=0, queue_size=1)
    with run_server(app) as url, concurrent.futures.ThreadPoolExecutor(2) as pool:
        body = {"history": ["Rock Artist A"]}

        def ask():
            return httpx.post(url + "/v1/recommend", json=body, timeout=30)

        running_one = pool.submit(ask)  # taken by the worker, held at the gate
        assert blocked.entered.wait(10)
        waiting = pool.submit(ask)  # waits in the queue
        _wait_for(lambda: "linernotes_queue_depth 1.0" in httpx.get(url + "/metrics").text)
        refused = ask()
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "busy" in refused.json()["detail"]
        blocked.gate.set()
        assert running_one.result().status_code == 200
        assert waiting.result().status_code == 200
        assert "linernotes_queue_rejected_total 1.0" in httpx.get(url + "/metrics").text


def test_concurrent_requests_share_a_batch(tiny_pipeline, proxy, run_server):
    recorder = proxy(tiny_pipeline)
    app = create_app(recorder, max_batch=4, max_wait_ms=500)
    bodies = [{"history": [f"{g} Artist A"]} for g in ("Rock", "Jazz", "Ambient", "Hip Hop")]
    with run_server(app) as url, concurrent.futures.ThreadPoolExecutor(4) as pool:
        responses = list(
            pool.map(lambda b: httpx.post(url + "/v1/recommend", json=b, timeout=30), bodies)
        )
    assert [r.status_code for r in responses] == [200] * 4
    assert max(recorder.batches) > 1
    assert sum(recorder.batches) == 4
    for body, response in zip(bodies, responses, strict=True):  # each got its own answer
        assert response.json()["request"]["listener"]["history"] == {
            tiny_pipeline.catalog.match_names(body["history"])[body["history"][0]]: 1.0
        }


def test_an_internal_error_is_logged_not_shown(tiny_pipeline, proxy, run_server, caplog):
    broken = proxy(tiny_pipeline, error=RuntimeError("secret detail"))
    with run_server(create_app(broken)) as url:
        response = httpx.post(url + "/v1/recommend", json={"listener": "1"}, timeout=30)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; the server log has the details"}
    assert "secret detail" not in response.text
    assert "secret detail" in caplog.text


def _wait_for(condition, timeout: float = 10) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
