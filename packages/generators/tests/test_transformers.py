"""The transformers generator with the real default model (SmolLM2-135M), on small budgets."""

import json
import subprocess
import sys

import pytest
from linernotes.cli import app
from linernotes.testing import GeneratorContract
from linernotes_generators import TransformersGenerator
from linernotes_generators.models import DEFAULT_MODEL, ModelError, load
from linernotes_generators.output import finish
from typer.testing import CliRunner

# short prompts and budgets keep these tests fast on a CPU
SMALL = {"max_new_tokens": 10, "shots": 0, "facts_per_pick": 1}


class TestTransformersContract(GeneratorContract):
    @pytest.fixture
    def component(self, model_dir):
        return TransformersGenerator(**SMALL, temperature=0)


@pytest.fixture(scope="module")
def sampler(model_dir, tiny):
    gen = TransformersGenerator(**SMALL, temperature=1.0, top_p=1.0, seed=7)
    gen.fit(tiny[0])
    return gen


def test_n_seeded_drafts_reproduce_and_differ(sampler, tiny):
    _, packs = tiny
    first = sampler.generate(packs[:2], 3)
    assert [len(d) for d in first] == [3, 3]
    assert sampler.generate(packs[:2], 3) == first
    assert len({d.text for d in first[0]}) > 1
    other = TransformersGenerator(**SMALL, temperature=1.0, top_p=1.0, seed=8)
    assert other.generate(packs[:2], 3) != first


def test_left_padded_batches_match_single_requests(model_dir, tiny):
    _, packs = tiny
    gen = TransformersGenerator(**SMALL, temperature=0)
    packs[1].context.mood = "very calm and slow"  # prompts of different lengths
    model, tokenizer = gen.loaded()
    assert tokenizer.padding_side == "left"
    batched = gen.generate(packs[:2], 1)
    alone = [gen.generate([p], 1)[0] for p in packs[:2]]
    assert batched == alone


def test_drafts_past_their_budget_end_at_a_sentence_or_a_whole_word(model_dir, tiny):
    _, packs = tiny
    gen = TransformersGenerator(**SMALL, temperature=0)
    model, tokenizer = gen.loaded()
    enc = tokenizer.apply_chat_template(
        [gen.prompter.messages(packs[0])],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    raw = model.generate(**enc, max_new_tokens=SMALL["max_new_tokens"], do_sample=False)
    full = " ".join(
        tokenizer.decode(raw[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).split()
    )
    text = gen.generate(packs[:1], 1)[0][0].text
    assert full.startswith(text) and len(text) < len(full)
    assert text.endswith((".", "!", "?", "]")) or full[len(text)] == " "


@pytest.mark.parametrize(
    "raw,truncated,expected",
    [
        ("Play A [1]. Then B is lov", True, "Play A [1]."),
        ("Play A. [1] Then B", True, "Play A. [1]"),
        ("Play A! Then “B?” Yes", True, "Play A! Then “B?”"),
        ("Play A and then B is lov", True, "Play A and then B is"),
        ("Play A [1]. Then B is lov", False, "Play A [1]. Then B is lov"),
        ("  two\n\nlines  ", False, "two lines"),
    ],
)
def test_finish_cuts_at_a_sentence_end_never_mid_word(raw, truncated, expected):
    assert finish(raw, truncated) == expected


def test_the_model_is_loaded_once_per_process(model_dir):
    a, b = TransformersGenerator(), TransformersGenerator(max_new_tokens=5)
    misses = load.cache_info().misses
    assert a.loaded()[0] is b.loaded()[0]
    assert a.loaded()[1] is b.loaded()[1]
    assert load.cache_info().misses <= misses + 1


def test_a_local_folder_works_like_a_model_id(model_dir, tiny):
    by_id = TransformersGenerator(DEFAULT_MODEL, **SMALL, temperature=0)
    by_folder = TransformersGenerator(str(model_dir), **SMALL, temperature=0)
    assert by_folder.generate(tiny[1][:1], 1) == by_id.generate(tiny[1][:1], 1)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"temperature": -1}, "temperature must be at least 0"),
        ({"top_p": 0}, "top_p must be in"),
        ({"batch_size": 0}, "batch_size must be at least 1"),
        ({"shots": 99}, "shots=99 but the golden examples file holds"),
    ],
)
def test_bad_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        TransformersGenerator(**params)


@pytest.mark.parametrize(
    "params,message",
    [
        ({"model": "/no/such/folder"}, "model folder not found"),
        ({"dtype": "int3"}, "dtype must be one of auto, float32"),
        ({"device": "tpu"}, "device must be one of auto, cpu, cuda"),
    ],
)
def test_bad_models_fail_in_one_line(params, message):
    from linernotes.errors import LinernotesError

    with pytest.raises(LinernotesError, match=message):
        TransformersGenerator(**params).loaded()
    assert issubclass(ModelError, LinernotesError)


def test_template_generator_runs_without_torch(pipeline):
    code = (
        "import sys; from typer.testing import CliRunner; from linernotes.cli import app; "
        "r = CliRunner().invoke(app, ['recommend', '--listener', '2', 'generator=template']); "
        "assert r.exit_code == 0, r.output; "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_recommend_with_the_transformers_generator_end_to_end(pipeline, model_dir):
    args = ["recommend", "--listener", "2", "--json", "generator=transformers"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["trace"]["components"]["generator"] == "transformers"
    drafts = [r for r in out["reviews"] if r["draft"]["generator"] == "transformers"]
    assert len(drafts) == 1 and drafts[0]["draft"]["text"]
    story = out["story"]
    if story is not None and story["generator"] == "transformers":
        assert story["citations"] and not story["fallback"]
    else:  # the model's draft was blocked: the template fallback, and the trace says so
        assert out["trace"]["fallback"]
        assert any(v["action"] == "block" for v in drafts[0]["verdicts"])
        assert any("fallback" in e for e in out["trace"]["events"]), out["trace"]["events"]
