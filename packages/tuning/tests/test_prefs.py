"""Preference pairs: the verifier's judgments, editorial references, the written sets."""

import json

import pytest
from linernotes import Draft, Listener, Request
from linernotes.errors import ConfigError, DataError
from linernotes.split import holdout_split
from linernotes_generators import Prompter, TemplateGenerator
from linernotes_tuning.pairs import Pair
from linernotes_tuning.prefs import _reference, build_prefs, read_prefs, write_prefs
from linernotes_tuning.verifier import judge


@pytest.fixture(scope="module")
def served(pipeline):
    """Real fact packs for four listeners outside the test split."""
    test = set(holdout_split(pipeline.catalog).listeners("test"))
    ids = [i for i in pipeline.catalog.listener_ids if i not in test][:4]
    return [r.facts for r in pipeline.run([Request(Listener(i)) for i in ids])]


def shown(pack):
    return {n for n, _ in Prompter(shots=0).shown(pack)[0]}


def test_the_editorial_reference_cites_only_shown_facts_and_is_grounded(pipeline, served):
    prompter = Prompter(shots=0)
    editor = TemplateGenerator(facts_per_pick=prompter.facts_per_pick)
    for pack in served:
        reference = _reference(editor, pack, prompter)
        assert reference.citations and set(reference.citations) <= shown(pack)
        [[review]] = pipeline.review([[reference]], [pack])
        assert review.passed, [v.reasons for v in review.verdicts]


def test_the_verifier_prefers_a_grounded_specific_draft(pipeline, served):
    pack = served[0]
    good = _reference(TemplateGenerator(), pack, Prompter(shots=0))
    invented = Draft("Play Radiohead, loved by 9,999 listeners since 1850 [1]. Enjoy!", "lm")
    filler = Draft("These picks are great. You will love them. Trust us.", "lm")
    reviews = pipeline.review([[good, invented, filler]], [pack])[0]
    j_good, j_invented, j_filler = (judge(r, shown(pack)) for r in reviews)
    assert j_good.grounded and j_good.safe and j_good.facts >= 3
    assert not j_invented.grounded and "unsupported_number" in j_invented.codes
    assert j_filler.filler == 3 and j_filler.facts == 0
    assert j_good.score > j_invented.score and j_good.score > j_filler.score


def test_written_pairs_are_deduplicated_and_split_by_listener(tmp_path, served):
    pairs = []
    for pack in served:
        for n in range(3):
            pairs.append(Pair(pack, f"good {n}", f"bad {n}", "verifier", pack.listener_id))
        pairs.append(Pair(pack, "good 0", "bad 0", "verifier", pack.listener_id))  # a duplicate
        pairs.append(Pair(pack, "same", "same", "verifier", pack.listener_id))  # no preference
    chat = [{"role": "user", "content": "golden facts"}]
    pairs.append(Pair(None, "golden", "draft", "editorial", "editor", prompt=chat))
    report = write_prefs(tmp_path, pairs, Prompter(shots=0), validation_share=0.5, seed=3)

    train, held = read_prefs(tmp_path, "train"), read_prefs(tmp_path, "validation")
    assert len(train) + len(held) == 13 and report.skipped["duplicates"] == 8
    assert report.pairs == {"verifier": 12, "editorial": 1}
    assert not {r["listener"] for r in train} & {r["listener"] for r in held}
    assert held, "with validation_share=0.5 some listener is held out"
    golden = next(r for r in train if r["listener"] == "editor")
    assert golden["prompt"] == chat and golden["chosen"] == [
        {"role": "assistant", "content": "golden"}
    ]
    row = next(r for r in held)
    assert row["prompt"][0]["role"] == "system" and "Facts:" in row["prompt"][-1]["content"]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["splits"] == report.splits


def test_reading_a_missing_folder_says_what_to_run(tmp_path):
    with pytest.raises(DataError, match="linernotes prefs build"):
        read_prefs(tmp_path / "nowhere")


def test_prefs_need_a_local_model():
    with pytest.raises(ConfigError, match="generator=transformers"):
        build_prefs("unused", ["generator=template"], progress=False)


@pytest.mark.slow
def test_build_prefs_on_the_real_model_uses_no_test_listener(tmp_path, pipeline):
    report = build_prefs(tmp_path, listeners=2, drafts=2, progress=False)
    rows = read_prefs(tmp_path, "train") + read_prefs(tmp_path, "validation")
    test = set(holdout_split(pipeline.catalog).listeners("test"))
    assert report.drafts == 4 and report.prompts == 2
    assert {r["source"] for r in rows} >= {"editorial"}
    assert not {r["listener"] for r in rows} & test
    assert any(r["meta"].get("writer") == "golden" for r in rows)
