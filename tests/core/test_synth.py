"""The synthetic catalog: seeded, in HetRec's format, and a catalog the pipeline runs on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from linernotes.catalog import Catalog
from linernotes.cli import app
from linernotes.datasets.hetrec import HetRec2011
from linernotes.datasets.synth import FILES, MARKER, fit, synthesize
from linernotes.errors import DataError
from typer.testing import CliRunner

from .conftest import DATASET, GENRES, _source_root

runner = CliRunner()


@pytest.fixture(scope="module")
def fitted():
    root = _source_root()
    if root is None:
        pytest.skip("the HetRec 2011 mirror is not available")
    return fit(root / DATASET, root / GENRES / "genre.csv")


def _bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, fitted):
    root = _source_root()
    refit = fit(root / DATASET, root / GENRES / "genre.csv")  # fitting is deterministic too
    a = synthesize(tmp_path / "a", scale=0.05, seed=3, fitted=fitted)
    synthesize(tmp_path / "b", scale=0.05, seed=3, fitted=refit)
    synthesize(tmp_path / "c", scale=0.05, seed=4, fitted=fitted)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert _bytes(tmp_path / "a")["user_artists.dat"] != _bytes(tmp_path / "c")["user_artists.dat"]
    assert {*FILES, MARKER} <= set(_bytes(tmp_path / "a"))
    assert a["synthetic"] is True and a["listeners"] == round(0.05 * fitted.n_listeners)
    assert json.loads((tmp_path / "a" / MARKER).read_text()) == a


def test_files_build_into_a_clean_catalog(tmp_path, fitted):
    raw = tmp_path / "raw"
    s = synthesize(raw, scale=0.05, seed=0, fitted=fitted)
    out = tmp_path / "bundle"
    out.mkdir()
    root = _source_root()
    HetRec2011().build({"lastfm": raw, "genres": root / GENRES}, out)
    c = Catalog(out)
    assert c.quarantine.height == 0
    assert c.items.height == s["artists"] == round(0.05 * fitted.n_artists)
    assert c.interactions.height == s["plays"]
    assert c.listeners.height == s["listeners"]
    assert c.social.height == s["friend_rows"] > 0
    kinds = dict(c.facts.group_by("kind").len().iter_rows())
    assert kinds["stats"] > 0 and kinds["colisten"] > 0 and kinds["tag"] > 0
    # histories as long as HetRec's (50 artists for most listeners), names generated and unique
    assert c.listeners["items"].median() == 50
    assert c.items["name"].n_unique() == c.items.height
    assert c.items["url"].str.starts_with("https://synthetic.invalid/").all()
    assert not c.items["name"].str.contains(r"\d").any()
    # the screened tags are MusicBrainz genres; the rest is visibly synthetic
    tags = pl.read_csv(raw / "tags.dat", separator="\t", encoding="utf8-lossy")["tagValue"]
    assert tags.str.starts_with("synth-tag-").any()
    assert not c.item_tags["tag"].str.starts_with("synth-tag-").any()


def test_bad_input_is_one_clear_error(tmp_path, fitted):
    with pytest.raises(DataError, match="positive"):
        synthesize(tmp_path / "x", scale=0, fitted=fitted)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(DataError, match="not empty"):
        synthesize(tmp_path / "busy", scale=0.05, fitted=fitted)
    result = runner.invoke(app, ["data", "synth", "--scale", "0", "--out", str(tmp_path / "y")])
    assert result.exit_code == 1 and "positive" in result.output
    file = tmp_path / "file"
    file.write_text("")
    result = runner.invoke(app, ["data", "synth", "--out", str(file)])
    assert result.exit_code == 1 and "is a file" in result.output
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = runner.invoke(app, ["data", "synth", "--out", str(locked / "sub")])
        assert result.exit_code == 1 and "cannot write" in result.output


def test_synth_dataset_without_path_generates_into_the_cache(tmp_path, monkeypatch, fitted):
    from linernotes.datasets import prepare
    from linernotes.registry import get_registry

    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path / "cache"))
    dataset = get_registry().create("dataset", "synth", {"scale": 0.05, "seed": 1})
    c = Catalog(prepare(dataset, progress=False))
    assert c.items.height == round(0.05 * fitted.n_artists)
    assert list((tmp_path / "cache" / "raw" / "synth").glob(f"*/{MARKER}"))
    missing = get_registry().create("dataset", "synth", {"path": str(tmp_path / "nowhere")})
    with pytest.raises(DataError, match="linernotes data synth"):
        missing.fetch(progress=False)


@pytest.mark.slow
def test_pipeline_runs_on_a_scale_0_1_synthetic_catalog(tmp_path, monkeypatch, fitted):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "synth"
    result = runner.invoke(app, ["data", "synth", "--scale", "0.1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "dataset=synth" in result.output
    overrides = ["dataset=synth", f"dataset.params.path={out}", "generator=template"]
    result = runner.invoke(app, ["recommend", "-l", "1", "--json", *overrides])
    assert result.exit_code == 0, result.output
    res = json.loads(result.stdout)
    assert len(res["picks"]) == 10
    story = res["story"]
    assert story["text"] and story["citations"]
    # the delivered story passes every filter, grounding included, on generated names
    verdicts = res["reviews"][-1]["verdicts"]
    assert {v["filter"] for v in verdicts} >= {"grounding", "toxicity", "pii"}
    assert all(v["action"] == "pass" for v in verdicts), verdicts
    picks = {p["item"]["name"] for p in res["picks"]}
    assert any(name in story["text"] for name in picks)
