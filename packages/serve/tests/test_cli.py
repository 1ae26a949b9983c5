"""``linernotes serve``: its help, a bad override, and the real command end to end."""

from __future__ import annotations

import signal

import httpx
from linernotes.cli import get_app
from typer.testing import CliRunner


def test_help_names_the_options():
    result = CliRunner().invoke(get_app(), ["serve", "--help"])
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--max-batch",
        "--max-wait-ms",
        "--queue-size",
        "--store",
        "--no-store",
    ):
        assert option in result.output


def test_a_bad_override_is_one_red_line():
    result = CliRunner().invoke(get_app(), ["serve", "ranker=nope"])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output


def test_serve_end_to_end(tiny_mirror, tmp_path, serve_process):
    """The installed command serves the tiny world: ready, a story, stored, stopped by SIGTERM."""
    store = tmp_path / "stories.sqlite"
    process, url = serve_process(
        tiny_mirror, "--store", str(store), "--feedback-store", str(tmp_path / "feedback")
    )
    try:
        body = {"listener": "2", "context": {"time": "late night"}}
        first = httpx.post(url + "/v1/recommend", json=body, timeout=30)
        assert first.status_code == 200, first.text
        assert first.json()["story"]["citations"]
        again = httpx.post(url + "/v1/recommend", json=body, timeout=30)
        assert again.headers["x-linernotes-store"] == "hit"
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    # uvicorn shuts down gracefully, then exits by the signal it caught
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log
    assert store.exists()
