"""Attention for decoding many samples of few prompts: each prompt's keys are read once.

The planned generator samples 4 to 16 candidate sentences from every prompt. A
key/value cache per row (transformers' ``DynamicCache``) holds a copy of its
prompt for each sample, and grows by concatenation, so each decoding step
copies every row's whole cache. On a CPU that copying and the attention over
the copies cost as much as the model's matrix products (BENCHMARKS.md,
"Shared-prompt attention").

:class:`SharedPrompt` keeps each prompt's keys and values once, from its
prefill, and each row's generated keys and values in buffers allocated once.
A decoding step writes one position per row, and computes attention in two
parts that share one softmax: the samples of a prompt (and the query heads of
a key/value head) attend to their prompt together, in one matrix product per
prompt, and each row attends to its own generated tokens. Rows that end leave
the batch by index, without copying a cache.

The attention function is registered with transformers' ``AttentionInterface``
under :data:`NAME` and delegates to ``sdpa`` whenever a call carries no
``shared_prompt`` (the prefill, ``generate``). It supports models whose
attention goes through that interface (Llama, Qwen2, Mistral, SmolLM...)
without soft-capping or a sliding window shorter than the text.
"""

from __future__ import annotations

from typing import Any

from .models import ModelError

NAME = "linernotes_shared_prompt"


class SharedPrompt:
    """The prompts' keys/values of every layer, shared by ``samples`` rows each, and
    room for ``steps`` generated positions per row.

    ``keys`` and ``values`` hold one tensor per layer, ``[prompts, kv_heads,
    length, head_dim]`` (left-padded); ``mask`` is ``[prompts, length]``, 1 for a
    real token. Rows are prompt-major (row ``r`` samples prompt ``r // samples``);
    set :attr:`live` to the rows still decoding and :attr:`step` to the position
    being written before each forward pass. Scores are computed in the model's
    dtype and normalised in float32, as transformers' ``eager`` attention does.
    """

    def __init__(self, keys: list[Any], values: list[Any], mask: Any, samples: int, steps: int):
        import torch

        prompts, kv_heads, _, head_dim = keys[0].shape
        dtype, device = keys[0].dtype, keys[0].device
        self.keys = [k.transpose(2, 3) for k in keys]  # ready for query @ keys
        self.values, self.samples = values, samples
        blocked = ~mask.bool()[:, None, None, :]
        self.mask = torch.zeros(blocked.shape, dtype=dtype, device=device).masked_fill(
            blocked, float("-inf")
        )
        shape = (prompts * samples, kv_heads, steps, head_dim)
        self.own_keys = [torch.empty(shape, dtype=dtype, device=device) for _ in keys]
        self.own_values = [torch.empty(shape, dtype=dtype, device=device) for _ in keys]
        self.live = torch.arange(prompts * samples, device=device)
        self.step = 0

    def attend(self, layer: int, query: Any, key: Any, value: Any, scaling: float) -> Any:
        """Attention output ``[rows, 1, heads, head_dim]`` for one new token per live row,
        whose keys and values (``[rows, kv_heads, 1, head_dim]``) are stored first."""
        import torch

        rows, heads, _, head_dim = query.shape
        prompts, kv_heads, _, length = self.keys[layer].shape
        group, slots, end = heads // kv_heads, prompts * self.samples, self.step + 1
        every = rows == slots
        live = slice(None) if every else self.live
        self.own_keys[layer][live, :, self.step] = key[:, :, 0]
        self.own_values[layer][live, :, self.step] = value[:, :, 0]
        own_keys = self.own_keys[layer][live, :, :end]
        own_values = self.own_values[layer][live, :, :end]
        query = (query * scaling).reshape(rows, kv_heads, group, head_dim)

        def by_prompt(x: Any) -> Any:  # live rows -> [prompts, kv_heads, samples * group, n]
            if not every:
                x = x.new_zeros(slots, *x.shape[1:]).index_copy_(0, self.live, x)
            x = x.view(prompts, self.samples, kv_heads, group, x.shape[-1]).transpose(1, 2)
            return x.reshape(prompts, kv_heads, self.samples * group, x.shape[-1])

        def by_row(x: Any) -> Any:  # the inverse of by_prompt
            x = x.view(prompts, kv_heads, self.samples, group, x.shape[-1]).transpose(1, 2)
            x = x.reshape(slots, kv_heads, group, x.shape[-1])
            return x if every else x[self.live]

        shared = by_row(by_prompt(query) @ self.keys[layer] + self.mask)
        own = query @ own_keys.transpose(2, 3)
        weights = torch.softmax(torch.cat([shared, own], -1), -1, dtype=torch.float32)
        weights = weights.to(query.dtype)
        out = by_row(by_prompt(weights[..., :length]) @ self.values[layer])
        out = out + weights[..., length:] @ own_values
        return out.reshape(rows, 1, heads, head_dim)


def attention(module, query, key, value, attention_mask, shared_prompt=None, **kwargs):
    """transformers' attention function: :meth:`SharedPrompt.attend` when the call
    carries a ``shared_prompt``, else ``sdpa``."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if shared_prompt is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    return shared_prompt.attend(module.layer_idx, query, key, value, kwargs["scaling"]), None


def install(model: Any, length: int) -> None:
    """Route ``model``'s attention through :func:`attention` (once; other calls still
    run ``sdpa``); ModelError when the model's attention cannot be shared for texts
    of ``length`` tokens."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    config = model.config
    window = getattr(config, "sliding_window", None)
    if getattr(config, "attn_logit_softcapping", None) or (window and window < length):
        raise ModelError(
            f"{config.model_type} attention uses soft-capping or a sliding window, which "
            "the planned generator's decoder does not; use engine=ctranslate2"
        )
    if config._attn_implementation == NAME:
        return
    AttentionInterface.register(NAME, attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
    if config._attn_implementation != NAME:
        raise ModelError(
            f"{config.model_type} does not take transformers' attention functions; "
            "use engine=ctranslate2"
        )
