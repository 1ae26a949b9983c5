"""Preference pairs from logged feedback, on stories served by the real pipeline."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from linernotes import Context, DataError, to_dict
from linernotes.feedback import impressions
from linernotes_generators.template import TemplateGenerator
from linernotes_tuning.feedback_pairs import (
    FeedbackStats,
    context_similarity,
    feedback_pairs,
    pack_from_dict,
)
from linernotes_tuning.store import ingest, read_events

SHOWN = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
LATE = {"time": "late night", "mood": "mellow"}
LATE_READING = {"time": "late-night", "mood": "Mellow", "activity": "reading"}
MORNING = {"time": "morning", "activity": "running"}


def variant(result, seed):
    """The same result with another template phrasing of the same pack (a new story)."""
    text = TemplateGenerator(seed=seed).generate([result.facts], 1)[0][0].text
    story = dataclasses.replace(result.story, text=text, id=f"{result.story.id}-v{seed}")
    return dataclasses.replace(result, story=story)


@pytest.fixture(scope="module")
def served(pipeline):
    """Stories shown to listeners 2 and 3: two phrasings late at night, one in other contexts."""
    requests = {
        "a1": pipeline.request(listener="2", **LATE),
        "a3": pipeline.request(listener="2", **LATE_READING),
        "b1": pipeline.request(listener="2", **MORNING),
        "c1": pipeline.request(listener="3", **LATE),
    }
    results = dict(zip(requests, pipeline.run(list(requests.values())), strict=True))
    results["a2"] = variant(results["a1"], seed=1)
    results["c2"] = variant(results["c1"], seed=1)
    return results


def outcome(kind, result, minutes=1):
    return {
        "event": kind,
        "ts": (SHOWN + timedelta(minutes=minutes)).isoformat(),
        "listener": result.request.listener.id,
        "story_id": result.story.id,
        "item": result.picks[0].item.id,
    }


def logged(tmp_path, served, *extra):
    """Impressions of every served story plus the feedback below, through the store."""
    s = served
    records = impressions(list(s.values()), ts=SHOWN) + [
        outcome("play", s["a1"]),
        outcome("save", s["a1"], 2),
        outcome("skip", s["a2"]),
        outcome("skip", s["a3"]),
        outcome("thumbs_down", s["b1"]),
        outcome("thumbs_up", s["c1"]),
        outcome("thumbs_down", s["c2"]),
        {**outcome("play", s["a1"]), "story_id": "never-shown"},
        *extra,
    ]
    source = tmp_path / "feedback.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = ingest(source, tmp_path / "store")
    assert report.total_rejected == 0, report.rejected
    return read_events(tmp_path / "store")


def ids(pairs):
    return {(p.listener, p.meta["chosen_story"], p.meta["rejected_story"]) for p in pairs}


def test_the_played_story_is_preferred_over_the_skipped_one(tmp_path, served, caplog):
    s = served
    assert s["a1"].story.text != s["a2"].story.text
    stats = FeedbackStats()
    pairs = feedback_pairs(logged(tmp_path, served), stats=stats)
    story = {k: r.story.id for k, r in s.items()}
    assert ids(pairs) == {
        ("2", story["a1"], story["a2"]),
        ("2", story["a1"], story["a3"]),
        ("3", story["c1"], story["c2"]),
    }
    best = next(p for p in pairs if p.meta["rejected_story"] == story["a2"])
    assert (best.chosen, best.rejected) == (s["a1"].story.text, s["a2"].story.text)
    assert best.source == "feedback" and best.margin == 3.0  # play + save against a skip
    assert best.pack == s["a1"].facts  # the logged pack, rebuilt after the store
    assert (stats.orphans, stats.impressions, stats.scored, stats.pairs) == (1, 6, 6, 3)
    assert "skipped 1 stories with feedback but no impression" in caplog.text


def test_a_dissimilar_context_gives_no_pair(tmp_path, served):
    events = logged(tmp_path, served)
    morning = ("2", served["a1"].story.id, served["b1"].story.id)
    assert morning not in ids(feedback_pairs(events))
    assert morning in ids(feedback_pairs(events, similarity=0.0))
    assert ids(feedback_pairs(events, similarity=0.8)) == {
        ("2", served["a1"].story.id, served["a2"].story.id),
        ("3", served["c1"].story.id, served["c2"].story.id),
    }


def test_excluded_listeners_give_no_pairs(tmp_path, served):
    stats = FeedbackStats()
    pairs = feedback_pairs(logged(tmp_path, served), exclude_listeners={"3"}, stats=stats)
    assert {p.listener for p in pairs} == {"2"}
    assert stats.excluded_events == 4  # two impressions, a thumbs up, a thumbs down
    assert feedback_pairs(logged(tmp_path, served), exclude_listeners={"2", "3"}) == []


def test_mixed_feedback_that_cancels_out_is_no_preference(tmp_path, served):
    events = logged(tmp_path, served, outcome("play", served["a2"], 3))
    assert served["a2"].story.id not in {p.meta["rejected_story"] for p in feedback_pairs(events)}


def test_the_same_texts_pair_once_with_the_larger_margin(tmp_path, served):
    s = served
    again = dataclasses.replace(s["a2"], story=dataclasses.replace(s["a2"].story, id="again"))
    record = impressions([again], ts=SHOWN)[0]
    events = logged(
        tmp_path,
        served,
        record,
        outcome("skip", again, 3),
        outcome("thumbs_down", again, 4),
    )
    stats = FeedbackStats()
    pairs = feedback_pairs(events, stats=stats)
    same = [p for p in pairs if p.rejected == s["a2"].story.text]
    assert len(same) == 1 and same[0].margin == 4.0 and same[0].meta["rejected_story"] == "again"
    assert stats.duplicates == 1


def test_events_with_json_text_columns_pair_the_same(tmp_path, served):
    events = logged(tmp_path, served)
    as_text = events.with_columns(
        pl.col("context").map_elements(json.dumps, return_dtype=pl.String)
    )
    assert ids(feedback_pairs(as_text)) == ids(feedback_pairs(events))


def test_a_malformed_logged_pack_is_counted_not_fatal(tmp_path, served):
    events = logged(tmp_path, served).with_columns(
        pack=pl.when(pl.col("listener") == "3").then(pl.lit("{}")).otherwise(pl.col("pack"))
    )
    stats = FeedbackStats()
    assert {p.listener for p in feedback_pairs(events, stats=stats)} == {"2"}
    assert stats.bad_impressions == 2


def test_an_empty_store_gives_no_pairs(tmp_path):
    stats = FeedbackStats()
    assert feedback_pairs(read_events(tmp_path / "empty"), stats=stats) == []
    assert stats == FeedbackStats()


def test_the_similarity_threshold_is_checked():
    with pytest.raises(ValueError, match="between 0 and 1"):
        feedback_pairs(pl.DataFrame(), similarity=1.5)


def test_a_pack_round_trips(served):
    pack = served["a1"].facts
    assert pack.facts and pack.picks and pack.context.mood == "mellow"
    assert pack_from_dict(to_dict(pack)) == pack
    assert pack_from_dict(json.loads(json.dumps(to_dict(pack)))) == pack


def test_a_malformed_pack_is_a_data_error():
    with pytest.raises(DataError, match="bad fact pack"):
        pack_from_dict({"request_id": "r", "picks": [], "history": []})
    with pytest.raises(DataError, match="bad fact pack"):
        pack_from_dict({"request_id": "r", "picks": [{"id": "1"}], "history": [], "facts": []})


@pytest.mark.parametrize(
    "a, b, expected",
    [
        ({}, {}, 1.0),
        ({"seed": "289"}, {"seed": "289"}, 1.0),
        ({"seed": "289"}, {"seed": "290"}, 0.0),
        ({"mood": "mellow", "seed": "289"}, {"mood": "mellow"}, 0.0),
        (LATE, {"time": "Late-Night", "mood": "MELLOW"}, 1.0),
        (LATE, LATE_READING, 0.75),
        (LATE, MORNING, 0.0),
        ({"time": "late night"}, {}, 0.0),
        ({"activity": "on the road"}, {"activity": "road"}, 1.0),
    ],
)
def test_context_similarity(a, b, expected):
    assert context_similarity(Context(**a), Context(**b)) == expected
