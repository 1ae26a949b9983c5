"""Stories precomputed by `linernotes batch` from a listeners file with contexts, loaded into
the story store (`load_stories`, `linernotes serve --stories DIR`) and served from it."""

from __future__ import annotations

import json
import logging
import signal

import httpx
import polars as pl
import pytest
from linernotes import DataError
from linernotes.cli import get_app
from linernotes_serve import SQLiteStoryStore, create_app, load_stories
from typer.testing import CliRunner

from .conftest import TINY

JOBS = (
    "listener,mood,activity,time,seed\n"
    "1,Calm,,,\n"
    "1,,running,late night,\n"
    "2,,,,\n"
    "2,calm,,,Rock Artist A\n"
)


@pytest.fixture(scope="module")
def batch_out(tiny_mirror, tmp_path_factory):
    """A `linernotes batch` output folder of four (listener, context) jobs on the tiny world,
    made with the serving pipeline's overrides (and executor-only ones)."""
    from linernotes_batch import run_batch

    tmp = tmp_path_factory.mktemp("stories")
    (tmp / "jobs.csv").write_text(JOBS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LINERNOTES_DATA_MIRROR", str(tiny_mirror))
        overrides = [*TINY, "executor.params.batch_size=2"]
        report = run_batch(overrides, tmp / "jobs.csv", str(tmp / "out"), progress=False)
    assert report.counts.stories == 4
    return tmp / "out", pl.read_parquet(f"{report.path}/part-*.parquet"), report


def body_of(row: dict) -> dict:
    """The request body that asks for the story of a result row."""
    context = {k: v for k, v in row["context"].items() if v is not None and k != "seed"}
    return {"listener": row["listener"], "context": context}


def test_the_batch_run_and_the_server_agree_on_the_config_id(batch_out, tiny_pipeline):
    from linernotes.config import compose, config_id

    _, rows, report = batch_out
    assert set(rows["config_id"]) == {tiny_pipeline.config_id}
    assert report.run_id.startswith(tiny_pipeline.config_id)
    # the executor group says how a job runs, not what it computes: not in the config id
    beam = [*TINY, "executor=beam", "executor.params.batch_size=3"]
    assert config_id(compose(beam)) == tiny_pipeline.config_id


def test_a_loaded_store_answers_for_the_listener_and_context(
    batch_out, tiny_pipeline, run_server, tmp_path, caplog
):
    out, rows, _ = batch_out
    store = SQLiteStoryStore(tmp_path / "stories.sqlite")
    with caplog.at_level(logging.INFO, logger="linernotes.serve"):
        loaded = load_stories(store, out, tiny_pipeline.config_id)
    assert (loaded.loaded, loaded.other_config, loaded.no_story) == (4, 0, 0)
    assert len(store) == 4
    assert "loaded 4 stories, skipped 0 from another config" in caplog.text
    app = create_app(tiny_pipeline, store=store, deadline_ms=None)
    by_job = {r["job"]: r for r in rows.iter_rows(named=True)}
    with run_server(app) as url:

        def post(body):
            return httpx.post(url + "/v1/recommend", json=body, timeout=30)

        for row in by_job.values():
            body = body_of(row)
            if row["context"]["seed"]:
                body["context"]["seed"] = "rock artist a"  # matched as the batch matched it
            answer = post(body)
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-linernotes-store"] == "hit", body
            assert answer.text == row["result"]
        calm = post({"listener": "1", "context": {"mood": "  CALM "}})
        assert calm.headers["x-linernotes-store"] == "hit"  # normalised as the batch did
        assert json.loads(calm.text)["request"]["context"]["mood"] == "calm"
        for miss in (
            {"listener": "1", "context": {"mood": "sad"}},
            {"listener": "1", "context": {"mood": "calm"}, "k": 3},
            {"listener": "2", "context": {"mood": "calm"}},
        ):
            answer = post(miss)
            assert answer.status_code == 200, answer.text
            assert answer.headers["x-linernotes-store"] == "miss", miss


def test_rows_of_another_config_are_skipped_and_counted(batch_out, tmp_path, caplog):
    out, _, report = batch_out
    store = SQLiteStoryStore(tmp_path / "stories.sqlite")
    with caplog.at_level(logging.INFO, logger="linernotes.serve"):
        loaded = load_stories(store, report.path, "0123456789ab")  # a run folder works too
    assert (loaded.loaded, loaded.other_config) == (0, 4) and len(store) == 0
    assert "loaded 0 stories, skipped 4 from another config" in caplog.text


def test_a_folder_without_a_run_is_an_error(tmp_path):
    with pytest.raises(DataError, match="no batch run in"):
        load_stories(SQLiteStoryStore(tmp_path / "s.sqlite"), tmp_path, "cfg")


def test_stories_need_a_store(tmp_path):
    result = CliRunner().invoke(get_app(), ["serve", "--stories", str(tmp_path), "--no-store"])
    assert result.exit_code == 1
    assert "--stories loads stories into the story store" in result.output


def test_serve_loads_stories_at_start_up(batch_out, tiny_mirror, tmp_path, serve_process):
    """`linernotes serve --stories DIR` with the batch's overrides answers from the store."""
    out, rows, _ = batch_out
    options = ["--store", str(tmp_path / "stories.sqlite"), "--stories", str(out)]
    options += ["--feedback-store", str(tmp_path / "feedback")]
    process, url = serve_process(tiny_mirror, *options)
    try:
        row = rows.filter(pl.col("job") == "2").row(0, named=True)
        answer = httpx.post(url + "/v1/recommend", json={"listener": "2"}, timeout=30)
        assert answer.headers["x-linernotes-store"] == "hit"
        assert answer.text == row["result"]
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=20)
    assert "loaded 4 stories, skipped 0 from another config" in log
