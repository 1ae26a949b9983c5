"""The CTranslate2 engine: it decodes as the transformers engine does, and the planned
generator runs on it."""

import pytest
from linernotes.errors import ConfigError
from linernotes.testing import GeneratorContract
from linernotes_generators import PlannedGenerator
from linernotes_generators import ctranslate2_engine as ct2
from linernotes_generators.decoding import sample_lines
from linernotes_safety import Grounding

from .conftest import tiny_llama

SMALL = {"sentences": 2, "samples": 1, "retries": 0, "shots": 1, "max_new_tokens": 12}
PROMPTS = ["Fact: 3 of your friends play Muse.\nSentence:", "Fact: Muse is rock.\nSentence:"]


@pytest.fixture(scope="module")
def tiny_folder(model_dir, tmp_path_factory):
    """A two-layer random Llama on the default model's tokenizer, saved as a model folder."""
    model, tokenizer = tiny_llama(model_dir, tie_word_embeddings=True)
    folder = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_greedy_lines_and_fluency_match_the_transformers_engine(tiny_folder, monkeypatch, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))
    engine, tokenizer = ct2.load_engine(str(tiny_folder), "cpu", "float32", threads=1)
    assert (tmp_path / "models" / "ctranslate2").is_dir()  # converted into the cache
    got = ct2.sample_lines(engine, tokenizer, PROMPTS, 1, 10, top_k=1)
    model = AutoModelForCausalLM.from_pretrained(tiny_folder).eval()
    left = AutoTokenizer.from_pretrained(tiny_folder, padding_side="left")
    expected = sample_lines(model, left, PROMPTS, 1, 10, top_k=1)
    assert [line.text for line in got] == [line.text for line in expected]
    for a, b in zip(got, expected, strict=True):
        assert a.logprob == pytest.approx(b.logprob, abs=1e-3)


def test_samples_are_prompt_major_varied_and_seeded(tiny_folder, monkeypatch, tmp_path):
    monkeypatch.setenv("LINERNOTES_CACHE_DIR", str(tmp_path))

    def draw(seed):
        engine, tokenizer = ct2.load_engine(str(tiny_folder), "cpu", "int8", 1, seed)
        return ct2.sample_lines(engine, tokenizer, PROMPTS, 3, 8, temperature=1.0)

    first = draw(7)
    assert len(first) == 6
    assert len({line.text for line in first[:3]}) > 1  # the samples of one prompt differ
    assert first == draw(7)  # a fresh engine with the same seed draws the same lines
    assert first != draw(8)


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({"engine": "vllm"}, "engine must be one of transformers, ctranslate2, got 'vllm'"),
        ({"compute_type": "int4"}, "compute_type must be one of auto, int8, int8_float32"),
    ],
)
def test_a_bad_engine_or_compute_type_fails_with_the_choices(params, rule):
    with pytest.raises(ConfigError, match=rule):
        PlannedGenerator(**params)


@pytest.mark.slow
class TestPlannedOnCTranslate2Contract(GeneratorContract):
    @pytest.fixture
    def component(self, model_dir):
        return PlannedGenerator(engine="ctranslate2", **SMALL)


@pytest.mark.slow
def test_the_real_model_on_ctranslate2_writes_checked_sentences_deterministically(tiny, model_dir):
    catalog, packs = tiny
    grounding = Grounding()
    grounding.fit(catalog)

    def stories():
        # the default repair rounds: the fluency floor needs them
        gen = PlannedGenerator(engine="ctranslate2", sentences=2)
        gen.fit(catalog)
        return [d[0] for d in gen.generate(packs, 1)]

    drafts = stories()
    sentences = [s for d in drafts for s in d.sentences]
    assert sum(s.writer == "model" for s in sentences) >= len(sentences) // 2, drafts
    assert all(v.action == "pass" for v in grounding.check(drafts, packs)), drafts
    assert [d.text for d in drafts] == [d.text for d in stories()]
