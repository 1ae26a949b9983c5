"""One batch through the pipeline: rows, counts, and failing listeners isolated with their stage."""

import json

import pytest
from linernotes.ground import Grounder
from linernotes.pipeline import Pipeline
from linernotes.registry import get_registry
from linernotes.testing import tiny_catalog
from linernotes_batch.batches import Counts, Storyteller, shard_name
from linernotes_batch.rows import result_schema, to_table

from .conftest import FailFor


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return tiny_catalog(tmp_path_factory.mktemp("tiny"))


class Counting:
    """A pipeline that counts its calls (of ``run``; the rest is the pipeline's)."""

    def __init__(self, pipeline):
        self.pipeline, self.calls = pipeline, []

    def __getattr__(self, name):
        return getattr(self.pipeline, name)

    def run(self, requests):
        self.calls.append(len(requests))
        return self.pipeline.run(requests)


def teller(catalog, reranker=None):
    reg = get_registry()
    pipe = Pipeline(
        catalog,
        {"colisten": (reg.create("retriever", "colisten"), 50)},
        reg.create("ranker", "popcolisten", {"sources": ["colisten"]}),
        reg.create("generator", "template"),
        reg.create("generator", "template", {"style": "plain"}),
        {"grounding": reg.create("safety_filter", "grounding")},
        Grounder(catalog),
        k=5,
        config_id="cfg",
        rerankers={"fail": reranker} if reranker else {},
    )
    pipe.fit()
    return Storyteller(Counting(pipe), "run-1", "some/model")


def test_a_good_batch_is_one_pipeline_call_with_one_row_per_listener(catalog):
    t = teller(catalog)
    ids = catalog.listener_ids[:4]
    out = t.tell(ids)
    assert t.pipeline.calls == [4]
    assert [r["listener"] for r in out.rows] == ids and out.dead == []
    assert out.counts == Counts(stories=4, fallbacks=0, blocked_drafts=0, failures=0)
    row = out.rows[0]
    assert (row["run_id"], row["model"], row["config_id"], row["batch_size"]) == (
        "run-1",
        "some/model",
        "cfg",
        4,
    )
    assert [p["rank"] for p in row["picks"]] == list(range(1, len(row["picks"]) + 1))
    assert row["picks"][0]["sources"][0]["retriever"] == "colisten"
    assert row["citations"] and all(c["fact"] for c in row["citations"])
    assert all(f"[{c['n']}]" in row["story"] for c in row["citations"])
    assert [v["filter"] for v in row["verdicts"]] == ["grounding"]
    assert row["drafts"][0]["passed"] and row["timings"]["rank"] > 0
    assert json.loads(row["components"])["ranker"] == "popcolisten"
    table = to_table(out.rows, result_schema())
    assert table.num_rows == 4 and table.schema == result_schema()


@pytest.mark.parametrize(
    "error,message",
    [
        ("ValueError", "PipelineError: stage 'rank' failed: ValueError: cannot rank for"),
        ("DataError", "DataError: cannot rank for"),  # names no stage: on_stage_error does
    ],
)
def test_a_failing_listener_is_isolated_and_dead_lettered_with_its_stage(catalog, error, message):
    ids = catalog.listener_ids[:4]
    t = teller(catalog, FailFor(ids[1], error))
    out = t.tell(ids)
    assert t.pipeline.calls == [4, 1, 1, 1, 1]
    assert [r["listener"] for r in out.rows] == [ids[0], *ids[2:]]
    assert all(r["batch_size"] == 1 for r in out.rows)
    (dead,) = out.dead
    assert (dead["run_id"], dead["listener"], dead["stage"]) == ("run-1", ids[1], "rank")
    assert dead["error"].startswith(message)
    assert out.counts.failures == 1 and out.counts.stories == 3


def test_an_unknown_listener_fails_at_the_request(catalog):
    t = teller(catalog)
    out = t.tell([catalog.listener_ids[0], "nobody"])
    (dead,) = out.dead
    assert dead["listener"] == "nobody" and dead["stage"] == "request"
    assert "unknown listener 'nobody'" in dead["error"]
    assert len(out.rows) == 1


def test_a_single_failing_listener_runs_once(catalog):
    t = teller(catalog)
    assert len(t.tell(["nobody"]).dead) == 1
    assert t.pipeline.calls == [1]


def test_counts_add_up():
    assert Counts(1, 2, 3, 4) + Counts(10, 20, 30, 40) == Counts(11, 22, 33, 44)


def test_a_shard_is_named_by_its_listeners_in_any_order():
    assert shard_name(["b", "a"]) == shard_name(["a", "b"]) != shard_name(["a", "c"])
    assert shard_name(["a"]).startswith("part-") and shard_name(["a"]).endswith(".parquet")
