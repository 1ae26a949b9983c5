"""Sentence examples for the planned generator, and SFT on them."""

import json

import pytest
from linernotes import Context, FactPack, Listener, Request, Sentence
from linernotes.errors import DataError
from linernotes_generators.planned import Step, plan, prompt
from linernotes_tuning.prefs import MANIFEST
from linernotes_tuning.sentences import _examples
from linernotes_tuning.tune import tune

from .test_tune import TINY


@pytest.fixture(scope="module")
def pack(pipeline):
    result = pipeline.run([Request(Listener("2"), Context(mood="calm"))])[0]
    return result.facts


def test_model_sentences_become_zero_shot_examples_of_the_facts_they_tell(pack):
    intro, first, second, third, *_ = plan(pack)
    spare_number, spare = second.spares[0]
    told = [
        Sentence("A calm hour deserves these picks.", [], "model"),
        Sentence(f"Here is {first.fact.values['name']} [{first.number}].", [first.number]),
        Sentence(f"A repaired sentence [{spare_number}].", [spare_number], "model", 3),
        Sentence(third.fact.text, [third.number], "fallback", 4),
    ]
    rows = _examples(pack, told, 4)
    assert [r["completion"] for r in rows] == [
        f" Here is {first.fact.values['name']}.",  # the citation is code's, not the model's
        " A repaired sentence.",
    ]  # no intro, no stand-in
    assert rows[0]["prompt"] == prompt(Step(first.number, first.fact, "first"))
    assert rows[1]["prompt"] == prompt(Step(spare_number, spare, second.place))  # the spare told
    assert rows[1]["prompt"].endswith(f"Fact: {spare.text}\nPlace: {second.place}\nSentence:")
    assert {r["source"] for r in rows} == {"model"} and rows[0]["listener"] == pack.listener_id


def _sentences_folder(folder, pack: FactPack):
    steps = [s for s in plan(pack) if s.fact is not None]
    rows = [
        {"prompt": prompt(s), "completion": f" {s.fact.values['name']} is next, as {s.fact.text}",
         "source": "model", "listener": "2"}
        for s in steps
    ]  # fmt: skip
    folder.mkdir()
    for name in ("train.jsonl", "validation.jsonl"):  # validate on the training rows
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / MANIFEST).write_text(json.dumps({"settings": {"kind": "sentences"}}))
    return folder


def test_each_method_refuses_the_other_kind_of_folder(pack, tmp_path):
    sentences = _sentences_folder(tmp_path / "sentences", pack)
    with pytest.raises(DataError, match="tune dpo trains on a folder written by `prefs build`"):
        tune(sentences, tmp_path / "out", ["tune=dpo"], progress=False)
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    (pairs / MANIFEST).write_text(json.dumps({"settings": {"shots": 0}}))
    with pytest.raises(DataError, match="tune sft trains on a folder written by `prefs sent"):
        tune(pairs, tmp_path / "out", ["tune=sft"], progress=False)


@pytest.mark.slow
def test_a_few_sft_steps_lower_the_loss_and_save_the_adapter(pack, tmp_path):
    import torch
    from linernotes_generators.models import DEFAULT_MODEL
    from safetensors.torch import load_file

    folder = _sentences_folder(tmp_path / "sentences", pack)
    out = tmp_path / "tuned"
    overrides = ["tune=sft", *TINY, f"generator.params.model={DEFAULT_MODEL}"]
    card = tune(folder, out, overrides, progress=False)
    m = card["metrics"]
    assert card["method"] == "sft" and m["steps"] == 3
    assert m["eval_loss"] < m["eval_loss_before"]
    adapter = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == DEFAULT_MODEL and adapter["r"] == 8
    weights = load_file(out / "adapter" / "adapter_model.safetensors")
    assert weights and all(w.dtype == torch.bfloat16 for w in weights.values())
    assert (out / "model.safetensors").is_file() and not (out / "checkpoints").exists()


def test_prefs_commands_summarise_rows_by_source_and_split(tmp_path):
    from linernotes_tuning.tuning_cli import _written

    line = _written({"model": 3, "golden": 2}, {"train": 4, "validation": 1}, tmp_path)
    assert line == f"golden 2, model 3; train 4, validation 1 -> {tmp_path}"
