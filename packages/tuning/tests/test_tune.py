"""A tiny DPO run on the real default model: the loss moves, it resumes, the folder loads."""

import json

import pytest
from linernotes import Listener, Request
from linernotes.errors import ConfigError
from linernotes_generators import Prompter, TemplateGenerator, TransformersGenerator
from linernotes_tuning.pairs import Pair
from linernotes_tuning.prefs import _reference, write_prefs
from linernotes_tuning.tune import settings_from, tune

TINY = [
    "tune.params.max_steps=3",
    "tune.params.batch_size=2",
    "tune.params.grad_accum=1",
    "tune.params.max_length=320",
    "tune.params.learning_rate=1e-3",
    "tune.params.save_steps=1",
]


@pytest.fixture(scope="module")
def prefs(tmp_path_factory, pipeline):
    """Six pairs, the grounded reference against an invented story, held out and trained on."""
    folder = tmp_path_factory.mktemp("prefs")
    prompter = Prompter(shots=0)
    results = pipeline.run([Request(Listener(i)) for i in pipeline.catalog.listener_ids[:6]])
    pairs = [
        Pair(
            r.facts,
            _reference(TemplateGenerator(), r.facts, prompter).text,
            "Play Radiohead now, loved by 9,999 listeners since 1850.",
            "editorial",
            r.facts.listener_id,
        )
        for r in results
    ]
    write_prefs(folder, pairs, prompter, validation_share=0.0)
    # validate on the training pairs themselves: a few steps must lower their loss
    (folder / "validation.jsonl").write_text((folder / "train.jsonl").read_text())
    return folder


@pytest.mark.slow
def test_a_few_dpo_steps_lower_the_loss_and_the_folder_loads(prefs, tmp_path, pipeline):
    out = tmp_path / "tuned"
    card = tune(prefs, out, TINY, progress=False)
    m = card["metrics"]
    assert m["steps"] == 3 and m["eval_loss"] < m["eval_loss_before"]
    assert m["editorial_perplexity_tuned"] < m["editorial_perplexity_base"]
    assert not (out / "checkpoints").exists()
    assert json.loads((out / "linernotes_tuning.json").read_text())["method"] == "dpo"
    assert "base_model:" in (out / "README.md").read_text()
    generator = TransformersGenerator(model=str(out), shots=0, max_new_tokens=24)
    generator.fit(pipeline.catalog)
    [[draft]] = generator.generate([pipeline.run([Request(Listener("2"))])[0].facts], 1)
    assert draft.text.strip()


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_its_last_checkpoint(prefs, tmp_path):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step == 2:
                raise KeyboardInterrupt

    out = tmp_path / "tuned"
    with pytest.raises(KeyboardInterrupt):
        tune(prefs, out, TINY, progress=False, callbacks=[Interrupt()])
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    card = tune(prefs, out, TINY, progress=False)
    assert card["metrics"]["resumed_from"] == "checkpoint-2"
    assert [p["step"] for p in card["loss_curve"]][-1] == 3


def test_unknown_tune_parameters_name_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown tune parameter.*'betta'.*beta"):
        settings_from({"betta": 0.1})
    with pytest.raises(ConfigError, match="unknown data sources"):
        settings_from({"sources": ["gossip"]})


@pytest.mark.slow
def test_kto_trains_on_unpaired_stories(prefs, tmp_path):
    card = tune(prefs, tmp_path / "kto", ["tune=kto", *TINY], progress=False)
    assert card["method"] == "kto" and card["metrics"]["steps"] == 3
    assert (tmp_path / "kto" / "model.safetensors").is_file()
