"""API keys, rate limits, body limits, the access log and bad input, against a real server."""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx
import pytest
from linernotes.errors import ConfigError
from linernotes_serve import create_app, load_api_keys
from linernotes_serve.security import KEYS_ENV, SALT_ENV, ApiKeys, RateLimiter

KEYS = ["k-alpha-0123456789", "k-beta-9876543210"]


def test_keys_come_from_the_environment_and_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv(KEYS_ENV, " one, two ,,")
    file = tmp_path / "keys"
    file.write_text("# the web team\nthree\n\n  four  \ntwo\n")
    assert load_api_keys() == ["one", "two"]
    assert load_api_keys(file) == ["one", "two", "three", "four"]
    file.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="no API keys in"):
        load_api_keys(file)
    monkeypatch.delenv(KEYS_ENV)
    assert load_api_keys() == []


def test_a_key_matches_only_itself():
    keys = ApiKeys(KEYS)
    assert keys.match(KEYS[1]) == 1
    assert keys.match(KEYS[1][:-1]) is None
    assert keys.match("") is None


def test_token_bucket():
    limiter = RateLimiter(2, burst=3)
    assert [limiter.take("a", now=0.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a", now=0.0) == pytest.approx(0.5)
    assert limiter.take("b", now=0.0) == 0  # each client has its own bucket
    assert limiter.take("a", now=0.5) == 0  # a token came back
    assert limiter.take("a", now=0.5) > 0
    assert RateLimiter(20).burst == 20


@pytest.fixture(scope="module")
def guarded(tiny_pipeline, run_server, tmp_path_factory):
    """A server with API keys and a rate limit of 1 request per 10 s, bursts of 3."""
    folder = tmp_path_factory.mktemp("guarded")
    app = create_app(
        tiny_pipeline, feedback_dir=folder / "feedback", api_keys=KEYS, rate_limit=0.1, burst=3
    )
    with run_server(app) as url:
        yield url


def test_without_a_key_401_with_a_hint(guarded):
    for headers, message in (
        ({}, "no API key: send one in the X-API-Key header"),
        ({"X-API-Key": "guess"}, "invalid API key"),
    ):
        response = httpx.post(guarded + "/v1/recommend", json={"listener": "1"}, headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": message}
        assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
    assert httpx.get(guarded + "/v1/nothing-here").status_code == 401  # no route listing


def test_open_paths_need_no_key_and_have_no_limit(guarded):
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs") * 2:
        assert httpx.get(guarded + path).status_code == 200, path
    schema = httpx.get(guarded + "/openapi.json").json()
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    recommend = schema["paths"]["/v1/recommend"]["post"]
    assert recommend["security"] == [{"ApiKey": []}]
    assert {"401", "413", "429"} <= set(recommend["responses"])
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_each_key_has_its_own_rate_limit(guarded):
    def ask(key):
        body = {"listener": "1", "k": 3}
        return httpx.post(guarded + "/v1/recommend", json=body, headers={"X-API-Key": key})

    answers = [ask(KEYS[0]).status_code for _ in range(5)]
    assert answers[0] == 200 and 429 in answers
    over = ask(KEYS[0])
    assert over.status_code == 429
    assert 1 <= int(over.headers["retry-after"]) <= 10
    assert over.json()["detail"].startswith("over the rate limit of 0.1 requests per second")
    assert ask(KEYS[1]).status_code == 200


def test_without_keys_the_limit_is_per_client_address(tiny_pipeline, run_server):
    app = create_app(tiny_pipeline, rate_limit=0.1, burst=2)
    with run_server(app) as url:
        answers = [httpx.get(url + "/v1/contexts").status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert httpx.get(url + "/healthz").status_code == 200


def test_the_access_log_hashes_listener_ids(tiny_pipeline, run_server, monkeypatch, caplog):
    secret = "zq-7731-listener"
    monkeypatch.setenv(SALT_ENV, "pepper")
    caplog.set_level(logging.INFO, logger="linernotes.serve.access")
    event = {"event": "save", "ts": "2026-11-25T21:04:00Z", "listener": secret, "story_id": "s"}
    with run_server(create_app(tiny_pipeline)) as url:
        assert httpx.post(url + "/v1/recommend", json={"listener": secret}).status_code == 404
        assert httpx.post(url + "/v1/feedback", json=[event, event]).status_code == 503
        assert httpx.get(url + "/healthz", params={"listener": secret}).status_code == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "linernotes.serve.access"]
    digest = hmac.new(b"pepper", secret.encode(), hashlib.sha256).hexdigest()[:12]
    assert [line.rsplit(" ", 2)[0] for line in lines] == [
        "POST /v1/recommend 404",
        "POST /v1/feedback 503",
        "GET /healthz 200",
    ]
    assert all(line.endswith(f"listener={digest}") for line in lines)
    assert secret not in caplog.text


def test_a_chunked_body_is_limited_too(server):
    def chunks(*parts):
        yield from parts

    headers = {"content-type": "application/json"}
    big = httpx.post(
        server.url + "/v1/recommend", content=chunks(b"x" * 40_000, b"y" * 40_000), headers=headers
    )
    assert big.status_code == 413
    assert big.json() == {"detail": "the request body must be at most 65536 bytes"}
    small = httpx.post(
        server.url + "/v1/recommend",
        content=chunks(b'{"listener":', b' "1", "k": 2}'),
        headers=headers,
    )
    assert small.status_code == 200, small.text
    assert len(small.json()["picks"]) == 2


JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("path", "send", "status", "message"),
    [
        ("/v1/recommend", {"json": {"listener": "1", "k": 10**12}}, 422, "k: Input should be less"),
        ("/v1/recommend", {"json": {"listener": "1", "k": 2.5}}, 422, "k: Input should be a valid"),
        ("/v1/recommend", {"json": {"listener": {"id": "1"}}}, 422, "listener: Input should be"),
        (
            "/v1/recommend",
            {"json": {"history": "Rock Artist A"}},
            422,
            "history: Input should be a",
        ),
        ("/v1/recommend", {"json": {"history": [None]}}, 422, "history.0: Input should be a valid"),
        ("/v1/recommend", {"json": {"history": ["x" * 201]}}, 422, "history.0: String should"),
        ("/v1/recommend", {"json": {"context": {"seed": "x" * 201}}}, 422, "context.seed: String"),
        ("/v1/recommend", {"json": {"listener": "1", "deadline_ms": 0}}, 422, "deadline_ms: Input"),
        ("/v1/recommend", {"json": {"listener": "1", "deadline_ms": 10**9}}, 422, "at most 30000"),
        ("/v1/recommend", {"content": b"null", "headers": JSON}, 422, "body: Input should be"),
        ("/v1/recommend", {"content": b"", "headers": JSON}, 422, "body: Field required"),
        ("/v1/recommend", {"content": b'{"k": NaN}', "headers": JSON}, 422, "k: Input should be"),
        ("/v1/recommend", {"content": b'{"listener": "\xff"}', "headers": JSON}, 400, "parsing"),
        ("/v1/recommend", {"content": b"[" * 5000, "headers": JSON}, 400, "parsing the body"),
        ("/v1/recommend", {"data": {"listener": "1"}}, 415, "must be JSON (content-type applic"),
        ("/v1/recommend", {"content": b"{}", "headers": {"content-type": "text/plain"}}, 415, ""),
        ("/v1/recommend", {"json": {"listener": "\x00"}}, 404, "unknown listener"),
        ("/v1/feedback", {"json": "thumbs_up"}, 422, "body: Input should be a valid dictionary or"),
        ("/v1/feedback", {"json": [{}] * 1001}, 422, "at most 1000 events per request, got 1001"),
        ("/v1/feedback", {"content": b"{nope", "headers": JSON}, 422, "JSON decode error"),
        ("/v1/feedback", {"data": {"event": "save"}}, 415, "the body must be JSON"),
    ],
)
def test_bad_input_gets_one_clear_message(server, path, send, status, message):
    response = httpx.post(server.url + path, timeout=30, **send)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and message in detail and "\n" not in detail


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/recommend", 405), ("DELETE", "/v1/feedback", 405), ("GET", "/nope", 404)],
)
def test_wrong_routes_get_a_detail(server, method, path, status):
    response = httpx.request(method, server.url + path)
    assert response.status_code == status
    assert response.json()["detail"]


def test_the_command_takes_keys_and_limits(tmp_path):
    from linernotes.cli import get_app
    from typer.testing import CliRunner

    help_text = CliRunner().invoke(get_app(), ["serve", "--help"]).output
    for option in ("--api-keys", "--rate-limit", "--burst"):
        assert option in help_text
    empty = tmp_path / "keys"
    empty.write_text("# none yet\n")
    result = CliRunner().invoke(get_app(), ["serve", "--api-keys", str(empty)])
    assert result.exit_code == 1
    assert "error: no API keys in" in result.output and "Traceback" not in result.output
