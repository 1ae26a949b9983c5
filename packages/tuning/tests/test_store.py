"""The feedback store: validation, rejects, hive-partitioned Parquet, dedupe, the CLI."""

import json
import subprocess
import sys
from datetime import UTC, date, datetime

import polars as pl
import pytest
import typer
from linernotes.errors import DataError
from linernotes.feedback import KINDS, parse_event
from linernotes_tuning.feedback_cli import feedback_app
from linernotes_tuning.store import event_key, ingest, read_events, summary
from typer.testing import CliRunner

PACK = {"request_id": "r1", "listener_id": "2", "picks": [], "history": [], "facts": []}
runner = CliRunner()


def event(**fields):
    base = {"event": "play", "ts": "2026-11-25T21:04:00Z", "listener": "2", "story_id": "s1"}
    return {**base, **fields}


def shown(**fields):
    return event(event="impression", story="Play X [1].", pack=PACK, **fields)


def jsonl(path, *records):
    lines = [r if isinstance(r, str | bytes) else json.dumps(r) for r in records]
    path.write_bytes(b"\n".join(x.encode() if isinstance(x, str) else x for x in lines) + b"\n")
    return path


def test_good_events_land_in_hive_partitions_that_polars_reads(tmp_path):
    source = jsonl(
        tmp_path / "events.jsonl",
        shown(context={"mood": "mellow", "time": "late night"}, ts="2026-11-25T21:00:00Z"),
        event(item=289),
        event(event="skip", ts="2026-11-26T08:00:00Z", item="290"),
    )
    report = ingest(source, tmp_path / "store")
    assert (report.accepted, report.duplicates, report.total_rejected) == (3, 0, 0)
    assert report.rejects_file is None
    folders = {
        p.parent.relative_to(tmp_path / "store" / "events").as_posix() for p in report.written
    }
    assert folders == {
        "event=impression/date=2026-11-25",
        "event=play/date=2026-11-25",
        "event=skip/date=2026-11-26",
    }
    raw = pl.scan_parquet(tmp_path / "store" / "events", hive_partitioning=True).collect()
    assert sorted(raw["event"]) == ["impression", "play", "skip"]
    assert set(raw["date"]) == {date(2026, 11, 25), date(2026, 11, 26)}
    events = read_events(tmp_path / "store")
    assert events.schema["ts"] == pl.Datetime("us", "UTC")
    assert events["event"].to_list() == ["impression", "play", "skip"]  # oldest first
    first = events.row(0, named=True)
    assert first["context"]["mood"] == "mellow" and json.loads(first["pack"]) == PACK
    assert events.row(1, named=True)["item"] == "289"


BAD = [
    ("not json", "not valid JSON", "raw"),
    (b"\xff\xfe broken", "not UTF-8 text", "raw"),
    ([1, 2], "an event must be an object", "record"),
    (event(event="like"), "event must be one of", "record"),
    (event(ts="yesterday"), "'ts' is not an ISO 8601 time", "record"),
    (event(ts=None), "'ts' is missing or not a time", "record"),
    (event(listener=""), "'listener' is missing or empty", "record"),
    (event(story_id=None), "'story_id' is missing or empty", "record"),
    (event(item=["a"]), "item must be an id", "record"),
    (event(colour="red"), "unknown fields", "record"),
    (event(event="impression", pack=PACK), "'story' is missing or empty", "record"),
    (event(event="impression", story="x"), "an impression needs 'pack'", "record"),
    (event(event="impression", story="x", pack="{"), "'pack' is not valid JSON", "record"),
    (shown(context={"weather": "rain"}), "unknown context fields", "record"),
    (shown(context="[1]"), "'context' must be an object", "record"),
]


def test_every_bad_event_is_rejected_with_its_line_and_reason(tmp_path):
    source = jsonl(tmp_path / "mixed.jsonl", event(), *(bad for bad, _, _ in BAD))
    report = ingest(source, tmp_path / "store")
    assert report.accepted == 1 and report.total_rejected == len(BAD)
    # counted by the general reason; the details ('like', 'yesterday') stay in the rejects file
    assert report.rejected["'ts' is not an ISO 8601 time"] == 1
    assert report.rejected["event must be one of " + ", ".join(KINDS)] == 1
    assert not any("like" in reason or "yesterday" in reason for reason in report.rejected)
    assert report.rejects_file.parent == tmp_path / "store" / "rejected"
    rejects = [json.loads(line) for line in report.rejects_file.read_text().splitlines()]
    assert [r["line"] for r in rejects] == list(range(2, len(BAD) + 2))
    for reject, (bad, reason, field) in zip(rejects, BAD, strict=True):
        assert reject["source"] == str(source.resolve())
        assert reject["reason"].startswith(reason)
        assert reject[field] == (bad.decode("utf-8", "replace") if isinstance(bad, bytes) else bad)
    assert read_events(tmp_path / "store").height == 1


def test_blank_lines_are_skipped_but_counted_lines_stay_true(tmp_path):
    source = tmp_path / "gaps.jsonl"
    source.write_text(json.dumps(event()) + "\n\n" + json.dumps(event(event="wrong")) + "\n")
    report = ingest(source, tmp_path / "store")
    assert report.accepted == 1
    assert json.loads(report.rejects_file.read_text())["line"] == 3


def test_reingesting_stores_each_event_once(tmp_path):
    store = tmp_path / "store"
    first = jsonl(tmp_path / "a.jsonl", event(), event(event="skip"), event())
    report = ingest(first, store)
    assert (report.accepted, report.duplicates) == (2, 1)  # the repeated line
    again = ingest(first, store)
    assert (again.accepted, again.duplicates, again.written) == (0, 3, [])
    more = jsonl(tmp_path / "b.jsonl", event(event="skip"), event(event="save"))
    assert (ingest(more, store).accepted, read_events(store).height) == (1, 3)


def test_the_event_key_ignores_how_the_time_was_written():
    utc = parse_event(event(ts="2026-11-25T21:04:00Z"))
    assert event_key(utc) == event_key(parse_event(event(ts=1795640640)))
    assert event_key(utc) == event_key(parse_event(event(ts="2026-11-25T22:04:00+01:00")))
    assert event_key(utc) != event_key(parse_event(event(item="289")))
    assert event_key(utc) != event_key(parse_event(event(listener="3")))


def test_parquet_input_with_json_text_or_struct_columns(tmp_path):
    store = tmp_path / "store"
    as_text = pl.DataFrame(
        [
            {**shown(), "pack": json.dumps(PACK), "context": json.dumps({"mood": "calm"})},
            {**event(event="nope"), "pack": None, "context": None, "story": None},
        ]
    )
    as_text.write_parquet(tmp_path / "text.parquet")
    report = ingest(tmp_path / "text.parquet", store)
    assert (report.accepted, report.total_rejected) == (1, 1)
    reject = json.loads(report.rejects_file.read_text())
    assert reject["row"] == 2 and reject["reason"].startswith("event must be one of")
    as_struct = pl.DataFrame(
        [
            {
                **shown(story_id="s2", context={"mood": "calm", "time": None}),
                "ts": datetime(2026, 11, 25, 21, 4, tzinfo=UTC),
                "pack": {**PACK, "context": {"mood": "calm"}},
            }
        ]
    )
    as_struct.write_parquet(tmp_path / "struct.parquet")
    assert ingest(tmp_path / "struct.parquet", store).accepted == 1
    events = read_events(store)
    assert sorted(events["story_id"]) == ["s1", "s2"]
    assert [c["mood"] for c in events["context"]] == ["calm", "calm"]
    # the same events again, now as JSONL: all duplicates
    again = jsonl(tmp_path / "again.jsonl", shown(context={"mood": "calm"}))
    assert ingest(again, store).duplicates == 1


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("missing.jsonl", None, "feedback file not found"),
        ("folder", "dir", "is a folder"),
        ("events.csv", "event,ts\n", "unknown feedback file type '.csv'"),
        ("empty.jsonl", "", "feedback file is empty"),
        ("blank.jsonl", "\n  \n", "no events in"),
        ("broken.parquet", "not parquet", "cannot read Parquet file"),
    ],
)
def test_unusable_files_are_one_line_data_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as e:
        ingest(path, tmp_path / "store")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "store").exists()


def test_summary_counts_kinds_listeners_stories_and_rejects(tmp_path):
    source = jsonl(
        tmp_path / "e.jsonl",
        shown(),
        event(),
        event(event="skip", listener="3", story_id="s2", ts="2026-11-27T10:00:00Z"),
        "garbage",
    )
    ingest(source, tmp_path / "store")
    facts = summary(tmp_path / "store")
    assert facts["events"] == 3 and facts["by_kind"] == {"impression": 1, "play": 1, "skip": 1}
    assert (facts["listeners"], facts["stories"]) == (2, 2)
    assert (facts["first"], facts["last"]) == (
        "2026-11-25T21:04:00+00:00",
        "2026-11-27T10:00:00+00:00",
    )
    assert (facts["rejected"], facts["rejected_files"]) == (1, 1)


def test_an_empty_store_reads_as_no_events(tmp_path):
    assert read_events(tmp_path / "nothing").columns[:3] == ["event", "ts", "listener"]
    facts = summary(tmp_path / "nothing")
    assert (facts["events"], facts["by_kind"], facts["first"]) == (0, {}, None)


# -- the command line --------------------------------------------------------------------------


def cli():
    app = typer.Typer()
    app.add_typer(feedback_app, name="feedback")
    return app


def test_cli_ingest_prints_counts_reasons_and_where_rejects_went(tmp_path, feedback_dir):
    source = jsonl(tmp_path / "e.jsonl", event(), event(event="like"), "nope")
    result = runner.invoke(cli(), ["feedback", "ingest", str(source)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "accepted │ 1" in out and "rejected │ 2" in out
    assert "not valid JSON │ 1" in out and "event must be one of" in out
    assert "rejects:" in out and str(feedback_dir / "rejected") in out.replace(" ", "")
    again = runner.invoke(cli(), ["feedback", "ingest", str(source), "--store", str(feedback_dir)])
    assert "duplicates (stored once) │ 1" in " ".join(again.output.split())


def test_cli_info_reads_the_default_store(tmp_path, feedback_dir):
    ingest(jsonl(tmp_path / "e.jsonl", shown(), event()), feedback_dir)
    result = runner.invoke(cli(), ["feedback", "info", "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output)
    assert facts["store"] == str(feedback_dir) and facts["by_kind"] == {"impression": 1, "play": 1}
    table = runner.invoke(cli(), ["feedback", "info", "--store", str(feedback_dir)])
    assert table.exit_code == 0 and "impression" in table.output


def test_cli_errors_are_one_red_line(tmp_path):
    result = runner.invoke(cli(), ["feedback", "ingest", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1
    assert result.output.strip().startswith("error: feedback file not found")
    assert len(result.output.strip().splitlines()) == 1


def test_the_cli_module_imports_no_heavy_modules():
    heavy = ("polars", "pyarrow", "numpy", "torch", "trl")
    code = (
        "import sys, linernotes_tuning.feedback_cli; "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
