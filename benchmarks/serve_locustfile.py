"""Locust users for benchmarks/serve.py: each asks POST /v1/recommend again and again.

Read from the environment (benchmarks/serve.py sets them):
- LINERNOTES_BENCH_LISTENERS: a file of listener ids, one per line; each request picks one;
- LINERNOTES_BENCH_CONTEXT: "none" (no context, the stored scenario's keys) or "mixed"
  (half the requests carry a mood, activity or time).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from locust import FastHttpUser, constant, task

LISTENERS = Path(os.environ["LINERNOTES_BENCH_LISTENERS"]).read_text().split()
MIXED = os.environ.get("LINERNOTES_BENCH_CONTEXT", "none") == "mixed"
CONTEXTS = [{}, {}, {"mood": "mellow"}, {"activity": "running"}, {"time": "late night"}, {}]


class Listener(FastHttpUser):
    """A client that asks for the next story as soon as it has the last one."""

    wait_time = constant(0)
    network_timeout = connection_timeout = 900.0  # a model batch may keep a request minutes

    @task
    def recommend(self) -> None:
        body = {"listener": random.choice(LISTENERS)}
        if MIXED:
            body["context"] = random.choice(CONTEXTS)
        self.client.post("/v1/recommend", json=body, name="/v1/recommend")
