"""Prometheus metrics of one server (each app has its own registry)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from linernotes import Result
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ServeMetrics:
    """Request latency, pipeline stage timings, batches, queue depth, stories, store, feedback."""

    def __init__(self, queue_depth: Callable[[], float]):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Histogram(
            "linernotes_request_seconds",
            "HTTP request latency by route and status code.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "linernotes_stage_seconds",
            "Pipeline stage time per batch (from the result trace).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "linernotes_batch_size",
            "Requests per pipeline batch.",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        Gauge(
            "linernotes_queue_depth", "Requests waiting for the batch worker.", registry=r
        ).set_function(queue_depth)
        self.rejected = Counter(
            "linernotes_queue_rejected",
            "Requests refused with 503: the queue was full.",
            registry=r,
        )
        self.stories = Counter(
            "linernotes_stories",
            "Results made on demand, by outcome: generator (a draft passed), fallback (the "
            "fallback's story), none (nothing passed).",
            ["outcome"],
            registry=r,
        )
        self.blocked = Counter(
            "linernotes_drafts_blocked", "Drafts some safety filter blocked.", registry=r
        )
        self.deadlines = Counter(
            "linernotes_deadlines",
            "Requests with a deadline: met (the generator's story), missed (the fallback at the "
            "deadline) or busy (the fallback at once: the queue was full).",
            ["result"],
            registry=r,
        )
        self.store = Counter(
            "linernotes_store_lookups",
            "Story store lookups: hit, miss, or skip (inline history, never stored).",
            ["result"],
            registry=r,
        )
        self.feedback = Counter(
            "linernotes_feedback_events",
            "Feedback events received: accepted, duplicate or rejected.",
            ["result"],
            registry=r,
        )
        for counter, labels in (
            (self.stories, ("generator", "fallback", "none")),
            (self.deadlines, ("met", "missed", "busy")),
            (self.store, ("hit", "miss", "skip")),
            (self.feedback, ("accepted", "duplicate", "rejected")),
        ):
            for label in labels:  # every series exists from the start, so rates start at 0
                counter.labels(label)

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Record one HTTP request's latency, by its route template and status."""
        self.requests.labels(route, str(status)).observe(seconds)

    def observe_batch(self, results: Sequence[Result]) -> None:
        """Record one pipeline batch: its size, stage timings and story outcomes."""
        self.batch_size.observe(len(results))
        if results:
            for stage, seconds in results[0].trace.timings.items():
                if stage != "fit":  # the one-off fitting, repeated in every trace
                    self.stages.labels(stage).observe(seconds)
        for result in results:
            outcome = (
                "none"
                if result.story is None
                else "fallback"
                if result.story.fallback
                else "generator"
            )
            self.stories.labels(outcome).inc()
            self.blocked.inc(sum(not review.passed for review in result.reviews))

    def render(self) -> bytes:
        """The metrics in the Prometheus text format."""
        return generate_latest(self.registry)
