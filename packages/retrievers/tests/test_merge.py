"""The pipeline's merge of every retriever's candidates, and context-only requests."""

import pytest
from linernotes import Candidate, Context, Listener, Request
from linernotes.errors import DataError
from linernotes.pipeline import RRF_K, merge


def ranked(name, *ids):
    return [Candidate(i, 1.0 / n, {name: 1.0 / n}) for n, i in enumerate(ids, 1)]


def test_the_union_keeps_every_provenance_once():
    out = merge({"a": ranked("a", "x", "y"), "b": ranked("b", "y", "z")}, {}, 10)
    assert [c.item_id for c in out] == ["y", "x", "z"]  # proposed twice: first
    assert out[0].sources == {"a": 0.5, "b": 1.0}
    assert out[0].score == pytest.approx(1 / (RRF_K + 2) + 1 / (RRF_K + 1))
    assert out[1].sources == {"a": 1.0} and out[2].sources == {"b": 0.5}


def test_weights_budget_and_exclusions_apply():
    lists = {"a": ranked("a", "x", "y", "w"), "b": ranked("b", "z", "v")}
    out = merge(lists, {"b": 2.0}, 3, exclude={"y"})
    assert [c.item_id for c in out] == ["z", "v", "x"]
    assert [c.item_id for c in merge(lists, {"a": 1.0, "b": 0.5}, 2)] == ["x", "y"]


def test_a_context_alone_is_served_on_real_data(pipeline):
    """A cold start with only a mood gets candidates, and picks, whose tags fit the mood."""
    import polars as pl

    fits = {"chillout", "ambient", "trip hop", "downtempo", "dream pop", "jazz", "lounge"}
    top_tags = (
        pipeline.catalog.item_tags.sort("listeners", descending=True)
        .group_by("item_id", maintain_order=True)
        .agg(pl.col("tag").head(3))
    )
    top3 = dict(top_tags.iter_rows())

    def fit(item_id):
        return bool(set(top3.get(item_id, [])) & fits)

    request = pipeline.request(mood="rainy late night")
    [candidates] = pipeline._retrieve([pipeline._resolve(request)])
    assert len(candidates) >= 50
    assert sum(fit(c.item_id) for c in candidates[:50]) >= 45
    assert pipeline.recommend(request).story is not None
    picks = pipeline.recommend(request).picks
    assert picks and sum(fit(p.item.id) for p in picks) >= 0.8 * len(picks)


def test_no_history_seed_or_context_is_refused(pipeline):
    with pytest.raises(DataError, match="give a history, a seed or a context"):
        pipeline.run([Request(Listener(None, {}), Context())])
