"""`linernotes eval stories` on the mirror data."""

import json

import pytest
from linernotes import Draft, hookimpl
from linernotes.cli import app
from linernotes.plugins import register_plugin, unregister_plugin
from typer.testing import CliRunner

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["eval", "stories", *args])


def test_template_stories_are_all_grounded_and_safe(tmp_path, pipeline):
    report = tmp_path / "stories.html"
    result = run("--limit", "6", "--json", "--report", str(report), "generator=template")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["listeners"] == 6 and out["raw_drafts"] == 6 and out["delivered"] == 6
    assert out["raw_grounded_rate"] == 1.0 and out["delivered_grounded_rate"] == 1.0
    assert out["toxicity_hits"] == 0 and out["pii_hits"] == 0
    assert 0 < out["distinct_2"] <= 1 and out["mean_words"] > 20
    assert {"retrieve", "rank", "ground", "screen", "generate", "safety"} <= set(
        out["latency_ms_per_listener"]
    )
    assert "Story evaluation" in report.read_text()
    # the template is no model, and it is its own reference
    assert out["model_written_rate"] == 0.0 and out["model_sentence_share"] == 0.0
    assert out["novelty_median"] == 0.0 and out["picks_named_mean"] == 5.0
    assert out["context_listeners"] == 0 and len(out["stories"]) == 6


def test_a_seeded_share_of_listeners_gets_a_context(pipeline):
    result = run("--limit", "8", "--json", "--context-share", "1", "generator=template")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["context_listeners"] == 8 and out["context_mention_rate"] == 1.0
    again = json.loads(
        run("--limit", "8", "--json", "--context-share", "1", "generator=template").stdout
    )
    assert [s["context"] for s in again["stories"]] == [s["context"] for s in out["stories"]]
    assert len({s["context"] for s in out["stories"]}) > 1
    assert run("--context-share", "1.5").exit_code != 0


class Paraphraser:
    """Writes each pack's first fact in its own words: a model-written, grounded story."""

    name = "paraphraser"

    def fit(self, catalog):
        pass

    def generate(self, packs, n):
        return [[Draft(_paraphrase(p), self.name)] * n for p in packs]


def _paraphrase(pack) -> str:
    fact = pack.facts[0].text.rstrip(".")
    return f"Well worth a spin tonight, since {fact[0].lower()}{fact[1:]} [1]."


class ParaphraserPlugin:
    @hookimpl
    def register_generators(self, register):
        register(Paraphraser)


def test_a_model_written_story_counts_as_one(tmp_path, pipeline):
    register_plugin(ParaphraserPlugin(), name="paraphraser-plugin")
    try:
        result = run(
            "--limit",
            "4",
            "--json",
            "generator=template",
            "generator.component=paraphraser",
            "~generator.params.seed",
            "~generator.params.facts_per_pick",
            "~generator.params.style",
        )
    finally:
        unregister_plugin("paraphraser-plugin")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["fallback_rate"] == 0.0
    assert out["model_written_rate"] == 1.0 and out["model_sentence_share"] == 1.0
    assert out["picks_named_mean"] == 1.0 and 0.5 < out["novelty_median"] < 1.0
    assert out["length_ok_rate"] == 0.0 and out["mean_sentences"] == 1.0


class Inventor:
    """Writes a draft with an invented year."""

    name = "inventor"

    def fit(self, catalog):
        pass

    def generate(self, packs, n):
        return [[Draft(f"{p.picks[0].name} formed in 1987 [1].", self.name)] * n for p in packs]


class InventorPlugin:
    @hookimpl
    def register_generators(self, register):
        register(Inventor)


@pytest.fixture
def inventor():
    register_plugin(InventorPlugin(), name="inventor-plugin")
    yield
    unregister_plugin("inventor-plugin")


def test_invented_drafts_are_counted_and_shown(tmp_path, inventor, pipeline):
    listeners = tmp_path / "listeners.txt"
    listeners.write_text("2\n3\n4\n")
    report = tmp_path / "stories.html"
    result = run(
        "--listeners",
        str(listeners),
        "--json",
        "--report",
        str(report),
        "generator=template",
        "generator.component=inventor",
        "~generator.params.seed",
        "~generator.params.facts_per_pick",
        "~generator.params.style",
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["listeners"] == 3 and out["raw_grounded_rate"] == 0.0
    assert out["raw_block_rate_by_reason"]["unsupported_number"] == 1.0
    assert out["raw_unsupported_numbers_per_100_words"] > 0
    assert out["fallback_rate"] == 1.0 and out["delivered_grounded_rate"] == 1.0
    assert out["examples"][0]["reasons"] == ["unsupported_number: 1987"]
    assert out["model_written_rate"] == 0.0  # every story is the fallback
    assert "<mark>1987</mark>" in report.read_text()


def test_unknown_listeners_fail_in_one_line(tmp_path):
    listeners = tmp_path / "listeners.txt"
    listeners.write_text("2\nnobody\n")
    result = run("--listeners", str(listeners), "generator=template")
    assert result.exit_code == 1 and "unknown listener(s) nobody" in result.stderr


def test_compare_shows_runs_side_by_side_with_collapse_checks(tmp_path, inventor, pipeline):
    listeners = tmp_path / "listeners.txt"
    listeners.write_text("2\n3\n")
    inventing = (
        "generator.component=inventor ~generator.params.seed ~generator.params.facts_per_pick "
        "~generator.params.style"
    )
    args = ["--listeners", str(listeners), "--compare", inventing, "generator=template"]
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    base, other = out["base"], out[inventing]
    assert base["raw_grounded_rate"] == 1.0 and other["raw_grounded_rate"] == 0.0
    assert base["raw_degenerate_rate"] == 0.0 and other["raw_degenerate_rate"] == 1.0
    assert 0 <= base["raw_repetition_rate"] < 0.5 and base["raw_distinct_2"] > 0
    table = run(*args)
    assert table.exit_code == 0, table.output
    assert "grounded" in table.stdout and "inventor" in table.stdout  # the compare column


def test_repetition_counts_repeated_trigrams():
    from linernotes.evaluation.stories import _repetition

    assert _repetition("play this now play this now play this now") == 4 / 7
    assert _repetition("every word here differs from the rest") == 0.0
    assert _repetition("too short") == 0.0
