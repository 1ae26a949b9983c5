"""The kill test: SIGTERM to the real ``linernotes serve`` under feedback load loses no
acknowledged event, lets a recommend in flight finish, and closes the story store."""

from __future__ import annotations

import signal
import sqlite3
import threading
import time

import httpx
from linernotes_tuning.store import read_events

CLIENTS = 6


def test_sigterm_under_load_loses_nothing_acknowledged(tiny_mirror, tmp_path, serve_process):
    store, feedback = tmp_path / "stories.sqlite", tmp_path / "feedback"
    # a batch waits 1.5 s for company, so a recommend is still in flight at SIGTERM
    options = ["--store", str(store), "--feedback-store", str(feedback), "--max-wait-ms", "1500"]
    process, url = serve_process(tiny_mirror, *options)
    try:
        acknowledged: list[dict] = []
        threads = [
            threading.Thread(target=_post_feedback, args=(url, n, acknowledged))
            for n in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 40:
            assert time.monotonic() < deadline, f"only {len(acknowledged)} events acknowledged"
            time.sleep(0.05)
        in_flight: list[httpx.Response] = []
        asking = threading.Thread(target=_recommend, args=(url, in_flight))
        asking.start()
        time.sleep(0.5)  # the recommend waits in its batch
        process.send_signal(signal.SIGTERM)
        asking.join(30)
        for thread in threads:  # each stops when the server refuses it
            thread.join(30)
        _, log = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (0, -signal.SIGTERM), log
    assert "Application shutdown complete" in log
    assert in_flight and in_flight[0].status_code == 200, in_flight
    assert in_flight[0].json()["story"]["citations"]

    stored = read_events(feedback)
    kept = set(zip(stored["listener"], stored["story_id"], strict=True))
    lost = [e for e in acknowledged if (e["listener"], e["story_id"]) not in kept]
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged events lost"
    assert not [p for p in feedback.rglob("*") if p.name.startswith(".")], "partial files"

    assert not (tmp_path / "stories.sqlite-wal").exists(), "the store was not closed"
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM stories").fetchone()[0] == 1

    # the access log names each request, and a listener only by its hash
    assert "POST /v1/feedback 200" in log and "listener=" in log
    assert "listener-under-load" not in log


def _post_feedback(url: str, n: int, acknowledged: list[dict]) -> None:
    """Post distinct events until the server goes; keep those answered 200."""
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(100_000):
            event = {
                "event": "thumbs_up",
                "ts": "2026-11-25T21:04:00Z",
                "listener": f"listener-under-load-{n}",
                "story_id": f"story-{n}-{i}",
            }
            try:
                response = client.post("/v1/feedback", json=event)
            except httpx.TransportError:
                return
            if response.status_code == 200:
                assert response.json() == {"accepted": 1, "duplicates": 0}
                acknowledged.append(event)


def _recommend(url: str, out: list[httpx.Response]) -> None:
    out.append(httpx.post(url + "/v1/recommend", json={"listener": "1"}, timeout=30))
