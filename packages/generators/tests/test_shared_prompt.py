"""The shared-prompt attention equals plain attention over each row's own copy of its prompt."""

from types import SimpleNamespace

import pytest
import torch
from linernotes_generators.models import ModelError
from linernotes_generators.shared_prompt import SharedPrompt, install


def reference(query, keys, values, mask, own_keys, own_values, group, scaling):
    """Softmax attention of one row over its prompt (masked) and its own tokens."""
    k = torch.cat([keys, own_keys], 1).repeat_interleave(group, 0)
    v = torch.cat([values, own_values], 1).repeat_interleave(group, 0)
    scores = query @ k.transpose(1, 2) * scaling
    blocked = torch.cat([~mask.bool(), torch.zeros(own_keys.shape[1], dtype=torch.bool)])
    scores = scores.masked_fill(blocked, float("-inf"))
    return torch.softmax(scores, -1) @ v


@pytest.mark.parametrize("live", [None, [0, 2, 3, 5]])
def test_attention_matches_each_row_attending_to_its_own_prompt_copy(live):
    torch.manual_seed(0)
    prompts, samples, kv_heads, group, length, dim, steps = 2, 3, 2, 3, 5, 4, 3
    keys, values = torch.randn(2, prompts, kv_heads, length, dim)
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])  # the first prompt is left-padded
    shared = SharedPrompt([keys], [values], mask, samples, steps)
    rows = list(range(prompts * samples)) if live is None else live
    shared.live = torch.tensor(rows)
    history_k, history_v = torch.randn(2, prompts * samples, kv_heads, steps, dim)
    for step in range(steps):
        shared.step = step
        query = torch.randn(len(rows), kv_heads * group, 1, dim)
        key, value = history_k[rows, :, step : step + 1], history_v[rows, :, step : step + 1]
        got = shared.attend(0, query, key, value, scaling=0.5)
        assert got.shape == (len(rows), 1, kv_heads * group, dim)
        for n, row in enumerate(rows):
            prompt = row // samples
            expected = reference(
                query[n, :, 0:1].reshape(kv_heads * group, 1, dim),
                keys[prompt], values[prompt], mask[prompt],
                history_k[row, :, : step + 1], history_v[row, :, : step + 1], group, 0.5,
            )  # fmt: skip
            torch.testing.assert_close(got[n, 0], expected[:, 0], rtol=1e-5, atol=1e-5)


def test_models_whose_attention_cannot_be_shared_are_refused():
    capped = SimpleNamespace(
        config=SimpleNamespace(model_type="gemma2", attn_logit_softcapping=50.0)
    )
    with pytest.raises(ModelError, match="soft-capping"):
        install(capped, 100)
    windowed = SimpleNamespace(
        config=SimpleNamespace(model_type="mistral", attn_logit_softcapping=None, sliding_window=64)
    )
    with pytest.raises(ModelError, match="sliding window"):
        install(windowed, 100)
