"""Line sampling: the shared-cache, row-dropping decoder agrees with transformers' generate."""

import pytest
from linernotes_generators.decoding import line_ends, sample_lines

from .conftest import tiny_llama

PROMPTS = ["Fact: 3 of your friends play Muse.\nSentence:", "Hello", "A much longer prompt " * 5]


@pytest.fixture(scope="module")
def tiny_lm(model_dir):
    """A two-layer random Llama on the default model's tokenizer: fast, and it has no favourites."""
    return tiny_llama(model_dir)


def greedy(model, tokenizer, prompts, max_new_tokens):
    enc = tokenizer(prompts, return_tensors="pt", padding=True)
    out = model.generate(
        **enc, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id
    )
    return out[:, enc["input_ids"].shape[1] :].tolist()


def test_greedy_decoding_matches_generate_token_for_token(tiny_lm):
    model, tokenizer = tiny_lm
    expected = greedy(model, tokenizer, PROMPTS, 12)
    # a stop at a token that one row writes early drops that row mid-batch;
    # the stop token is kept (a real one may hold text before its newline)
    stop = expected[0][3]
    stops = frozenset({stop})
    got = [
        line.text for line in sample_lines(model, tokenizer, PROMPTS, 1, 12, top_k=1, stops=stops)
    ]
    for row, text in zip(expected, got, strict=True):
        told = row[: row.index(stop) + 1] if stop in row else row
        assert text == tokenizer.decode(told).split("\n")[0].strip()
    assert got[0] == tokenizer.decode(expected[0][:4]).strip()


def test_samples_are_prompt_major_seeded_and_varied(tiny_lm):
    model, tokenizer = tiny_lm
    args = (model, tokenizer, PROMPTS[:2], 3, 8)
    first = sample_lines(*args, temperature=1.0, seed=7, stops=frozenset())
    assert len(first) == 6
    assert first == sample_lines(*args, temperature=1.0, seed=7, stops=frozenset())
    assert first != sample_lines(*args, temperature=1.0, seed=8, stops=frozenset())
    assert len({line.text for line in first[:3]}) > 1  # the samples of one prompt differ


def test_a_prompts_samples_do_not_depend_on_the_rest_of_its_batch(tiny_lm):
    model, tokenizer = tiny_lm
    one, other = PROMPTS[0], PROMPTS[0].replace("Muse", "Blur")  # the same length
    args = {"temperature": 1.0, "stops": frozenset()}
    alone = sample_lines(model, tokenizer, [one], 3, 8, seed=[11], **args)
    together = sample_lines(model, tokenizer, [other, one], 3, 8, seed=[5, 11], **args)
    assert [line.text for line in together[3:]] == [line.text for line in alone]
    assert [line.logprob for line in together[3:]] == pytest.approx([x.logprob for x in alone])
    assert together[:3] != alone  # another prompt and seed draws otherwise
    fewer = sample_lines(model, tokenizer, [other, one], 2, 8, seed=[5, 11], **args)
    assert [line.text for line in fewer[2:]] == [line.text for line in alone[:2]]  # (seed, n)
    with pytest.raises(ValueError, match="got 1 seeds for 2 prompts"):
        sample_lines(model, tokenizer, [other, one], 2, 8, seed=[5], **args)


def test_top_p_keeps_only_the_nucleus(tiny_lm):
    model, tokenizer = tiny_lm
    # a nucleus this small holds only the likeliest token: sampling turns greedy
    sampled = sample_lines(model, tokenizer, PROMPTS, 2, 6, top_p=1e-6, seed=3)
    greedy_lines = sample_lines(model, tokenizer, PROMPTS, 1, 6, top_k=1)
    assert [s.text for s in sampled] == [g.text for g in greedy_lines for _ in range(2)]
    assert all(s.logprob < 0 for s in sampled)  # mean log-probability of the drawn tokens


def test_line_ends_hold_newlines_and_eos(tiny_lm):
    _, tokenizer = tiny_lm
    ends = line_ends(tokenizer)
    assert tokenizer.eos_token_id in ends
    assert tokenizer.convert_tokens_to_ids("Ċ") in ends  # byte-level "\n"
    assert not any("\n" in tokenizer.decode([i]) for i in range(1000) if i not in ends)
