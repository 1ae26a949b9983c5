"""Feedback events: validation of every field, and impressions of delivered stories."""

from datetime import UTC, datetime

import pytest
from linernotes import Listener, Request
from linernotes.feedback import KINDS, impressions, parse_event

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
    "fields, message",
    [
        ({"event": "like"}, "event must be one of"),
        ({"ts": "yesterday"}, "not an ISO 8601 time"),
        ({"ts": None}, "'ts' is missing"),
        ({"listener": ""}, "'listener' is missing"),
        ({"story_id": None}, "'story_id' is missing"),
        ({"item": ["a"]}, "item must be an id"),
        ({"colour": "red"}, "unknown fields: colour"),
        ({"event": "impression", "pack": PACK}, "'story' is missing"),
        ({"event": "impression", "story": "x"}, "needs 'pack'"),
        ({"event": "impression", "story": "x", "pack": "{"}, "'pack' is not valid JSON"),
        ({"event": "impression", "story": "x", "pack": PACK, "context": {"x": 1}}, "context"),
    ],
)
def test_bad_events_say_what_is_wrong(fields, message):
    with pytest.raises(ValueError, match=message):
        parse_event(event(**fields))


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
