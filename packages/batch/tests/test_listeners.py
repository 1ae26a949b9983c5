"""Listeners files with contexts (CSV, JSONL): jobs, clear errors for bad rows, context runs
through the local executor, and their resume."""

import json
import shutil

import polars as pl
import pytest
from linernotes import Context, to_json
from linernotes.errors import DataError
from linernotes_batch import read_dead_letter, run_batch, summarize
from linernotes_batch.listeners import job_id, parse_job, read_jobs

from .conftest import assert_exactly_once, write_ids

TEMPLATE = ["generator=template", "executor.params.batch_size=4"]


def test_a_job_without_a_context_is_its_listener_id():
    assert job_id("2", Context()) == "2"
    assert parse_job("2") == ("2", Context())


def test_a_job_id_holds_the_normalised_context_and_parses_back():
    job = job_id("2", Context(mood="  Late   Night ", activity="", seed=" Abba "))
    assert job == '2\t{"mood": "late night", "seed": "Abba"}'
    assert parse_job(job) == ("2", Context(mood="late night", seed="Abba"))


def test_csv_and_jsonl_give_the_same_jobs(tmp_path):
    csv = tmp_path / "jobs.csv"
    csv.write_text(
        "listener,mood,activity,time,seed\n"
        "2,mellow,,,\n"
        '2,,running,"late night",\n'
        "\n"
        "3,,,,Madonna\n"
        "2, Mellow ,,,\n"  # the same job as line 2, once normalised
    )
    jsonl = tmp_path / "jobs.jsonl"
    jsonl.write_text(
        '{"listener": "2", "mood": "mellow"}\n'
        '{"listener": 2, "activity": "running", "time": "late night", "seed": null}\n'
        "\n"
        '{"listener": "3", "seed": "Madonna"}\n'
    )
    jobs = read_jobs(csv)
    assert jobs == read_jobs(jsonl)
    assert [parse_job(j) for j in jobs] == [
        ("2", Context(mood="mellow")),
        ("2", Context(time="late night", activity="running")),
        ("3", Context(seed="Madonna")),
    ]


def test_a_csv_needs_only_the_listener_column(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("\ufeffListener\n2\n3\n")  # a spreadsheet's byte-order mark, any case
    assert read_jobs(path) == ["2", "3"]


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("a.csv", "listener,mod\n2,calm\n", "a.csv:1: unknown column 'mod'; valid: listener, mood"),
        ("a.csv", "mood\ncalm\n", "a.csv:1: no 'listener' column"),
        ("a.csv", "listener,mood\n2,calm\n,calm\n", "a.csv:3: no listener"),
        ("a.csv", "listener,mood\n2,calm\n3,calm,x\n", "a.csv:3: 3 fields, but the header has 2"),
        ("a.jsonl", '{"listener": "2"}\n{"listener": "3",}\n', "a.jsonl:2: bad JSON: "),
        ("a.jsonl", '\n["2"]\n', "a.jsonl:2: expected a JSON object, got list"),
        ("a.jsonl", '{"listener": "2", "k": 5}\n', "a.jsonl:1: unknown column 'k'"),
        ("a.jsonl", '{"mood": "calm"}\n', "a.jsonl:1: no listener"),
        ("a.jsonl", '{"listener": "2", "mood": ["calm"]}\n', "a.jsonl:1: 'mood' must be text"),
        ("a.jsonl", "\n\n", "a.jsonl names no listener"),
        ("a.csv", "", "a.csv names no listener"),
    ],
)
def test_a_bad_row_is_one_error_naming_the_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(DataError) as e:
        read_jobs(tmp_path / name)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_bad_file_writes_nothing(tmp_path):
    (tmp_path / "jobs.jsonl").write_text('{"listener": "2"}\n{"listener": "3", "mod": "x"}\n')
    with pytest.raises(DataError, match="jobs.jsonl:2: unknown column 'mod'"):
        run_batch(TEMPLATE, tmp_path / "jobs.jsonl", str(tmp_path / "out"), progress=False)
    with pytest.raises(DataError, match="cannot read listeners file"):
        run_batch(TEMPLATE, tmp_path / "missing.csv", str(tmp_path / "out"), progress=False)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def context_run(mirror_ids, tmp_path_factory):
    """A local run of a CSV file: two listeners in several contexts, a bad seed, an unknown
    listener."""
    tmp = tmp_path_factory.mktemp("contexts")
    a, b = mirror_ids[:2]
    path = tmp / "jobs.csv"
    path.write_text(
        "listener,mood,activity,time,seed\n"
        f"{a},,,,\n"
        f"{a},Mellow,,,\n"
        f"{a},,running,morning,\n"
        f"{b},mellow,,,Depeche Mode\n"
        f"{b},,,,no such artist at all\n"
        "nobody,calm,,,\n"
    )
    report = run_batch(TEMPLATE, path, str(tmp / "out"), progress=False)
    return path, tmp / "out", report


def test_every_context_job_is_a_row_or_a_dead_letter_entry_once(context_run):
    path, _, report = context_run
    jobs = read_jobs(path)
    assert (report.requested, report.processed) == (6, 6)
    results, dead = assert_exactly_once(report.path, jobs)
    assert results.height == 4 and report.counts.failures == 2
    assert sorted(dead["listener"]) == sorted(["nobody", parse_job(jobs[4])[0]])
    assert set(dead["stage"]) == {"request"}
    errors = " ".join(read_dead_letter(report.path)["error"])
    assert "no artist in the catalog matches the seed 'no such artist at all'" in errors
    (summary,) = summarize(report.path)
    assert summary.complete and summary.requested == 6


def test_a_row_records_its_context_k_config_and_the_result_json(context_run, pipeline):
    path, _, report = context_run
    results = pl.read_parquet(f"{report.path}/part-*.parquet")
    rows = {r["job"]: r for r in results.iter_rows(named=True)}
    a, b = parse_job(read_jobs(path)[0])[0], parse_job(read_jobs(path)[3])[0]
    plain = rows[a]
    assert plain["context"] == {"mood": None, "activity": None, "time": None, "seed": None}
    mellow = rows[job_id(b, Context(mood="mellow", seed="Depeche Mode"))]
    seed = pipeline.catalog.match_names(["Depeche Mode"])["Depeche Mode"]
    assert mellow["context"] == {"mood": "mellow", "activity": None, "time": None, "seed": seed}
    assert {r["k"] for r in rows.values()} == {pipeline.k}
    assert {r["config_id"] for r in rows.values()} == {report.run_id.split("-")[0]}
    stored = json.loads(mellow["result"])
    assert stored["request"]["context"] == mellow["context"]
    assert stored["story"]["text"] == mellow["story"]
    assert stored["trace"]["config_id"] == mellow["config_id"]
    # the JSON is what the library gives for the same request
    request = pipeline.request(listener=b, mood="mellow", seed="Depeche Mode")
    again = json.loads(to_json(pipeline.run([request])[0]))
    assert {k: v for k, v in again.items() if k != "trace"} == {
        k: v for k, v in stored.items() if k != "trace"
    }


def test_a_resumed_context_run_does_only_the_missing_jobs(context_run, tmp_path):
    path, out, report = context_run
    shutil.copytree(out, tmp_path / "out")
    run = tmp_path / "out" / report.run_id
    shard = sorted(run.glob("part-*.parquet"))[0]
    removed = pl.read_parquet(shard)["job"].to_list()
    shard.unlink()
    again = run_batch(TEMPLATE, path, str(tmp_path / "out"), progress=False)
    assert again.run_id == report.run_id
    assert (again.processed, again.skipped) == (len(removed), 6 - len(removed))
    assert_exactly_once(str(run), read_jobs(path))
    assert run_batch(TEMPLATE, path, str(tmp_path / "out"), progress=False).processed == 0


def test_the_same_listeners_in_other_contexts_are_another_run(context_run, mirror_ids, tmp_path):
    path, _, report = context_run
    plain = run_batch(
        TEMPLATE, write_ids(tmp_path / "ids.txt", mirror_ids[:2]), str(tmp_path), progress=False
    )
    assert plain.run_id != report.run_id
    assert pl.read_parquet(f"{plain.path}/part-*.parquet")["job"].sort().to_list() == sorted(
        mirror_ids[:2]
    )
