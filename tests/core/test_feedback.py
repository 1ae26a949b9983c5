"""Feedback events: validation of every field, and impressions of delivered stories."""

from datetime import UTC, datetime

import pytest
from linernotes import Listener, Request
from linernotes.feedback import KINDS, EventError, impressions, parse_event

PACK = {"request_id": "r1", "listener_id": "2", "picks": [], "history": [], "facts": []}


def event(**fields):
    base = {"event": "play", "ts": "2026-11-25T21:04:00Z", "listener": "2", "story_id": "s1"}
    return {**base, **fields}


def test_a_valid_play_event_parses_with_a_utc_timestamp():
    e = parse_event(event(item=289))
    assert (e.event, e.listener, e.story_id, e.item) == ("play", "2", "s1", "289")
    assert e.ts == datetime(2026, 11, 25, 21, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    "ts", ["2026-11-25T21:04:00", "2026-11-25T22:04:00+01:00", 1795640640, 1795640640.0]
)
def test_timestamps_in_any_supported_form_mean_the_same_instant(ts):
    assert parse_event(event(ts=ts)).ts == datetime(2026, 11, 25, 21, 4, tzinfo=UTC)


def test_an_impression_carries_context_story_and_pack():
    e = parse_event(
        event(event="impression", context={"mood": "mellow"}, story="Play X [1].", pack=PACK)
    )
    assert e.context.mood == "mellow" and e.story == "Play X [1]." and e.pack == PACK
    record = e.to_record()
    assert record["ts"] == e.ts and '"mood": "mellow"' in record["context"]


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"event": "like"}, "event", "event must be one of"),
        ({"ts": "yesterday"}, "ts", "not an ISO 8601 time"),
        ({"ts": 1e20}, "ts", "not a time in seconds since the epoch"),
        ({"ts": None}, "ts", "'ts' is missing"),
        ({"listener": ""}, "listener", "'listener' is missing"),
        ({"story_id": None}, "story_id", "'story_id' is missing"),
        ({"item": ["a"]}, "item", "item must be an id"),
        ({"colour": "red"}, "colour", "unknown fields: colour"),
        ({"event": "impression", "pack": PACK}, "story", "'story' is missing"),
        ({"event": "impression", "story": "x"}, "pack", "needs 'pack'"),
        ({"event": "impression", "story": "x", "pack": "{"}, "pack", "'pack' is not valid JSON"),
        (
            {"event": "impression", "story": "x", "pack": PACK, "context": {"x": 1}},
            "context",
            "context",
        ),
    ],
)
def test_bad_events_say_which_field_is_wrong_and_why(fields, field, message):
    with pytest.raises(EventError, match=message) as raised:
        parse_event(event(**fields))
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)


def test_an_event_that_is_not_an_object():
    with pytest.raises(EventError, match="must be an object") as raised:
        parse_event(["play"])
    assert raised.value.field is None


def test_kinds_cover_the_documented_events():
    assert set(KINDS) == {"impression", "play", "skip", "save", "thumbs_up", "thumbs_down"}


def test_impressions_cover_delivered_stories_only(pipeline):
    results = pipeline.run([Request(Listener("2")), Request(Listener("3"))])
    results[1].story = None
    records = impressions(results)
    assert [r["listener"] for r in records] == ["2"]
    parsed = parse_event(records[0])
    assert parsed.story_id == results[0].story.id and len(parsed.story_id) == 16
    assert parsed.pack["facts"] and parsed.story == results[0].story.text
