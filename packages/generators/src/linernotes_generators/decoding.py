"""Fast sampling of many short lines from one causal language model.

``transformers``' ``generate`` keeps every row of a batch until the longest
is done and samples from the whole vocabulary (a sort and a multinomial over
49k tokens per row per step). On a CPU that bookkeeping cost as much as the
model itself for the planned generator's batches of 256 short candidates.
:func:`sample_lines` encodes each prompt once, lets the prompt's samples
share its keys and values (:mod:`.shared_prompt`), samples from the ``top_k``
most likely tokens only, and drops a row from the batch as soon as it ends its
line. Every row draws from a random stream of its own, seeded by its prompt's
seed and its sample number, so a prompt's samples do not depend on what else
shares the batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import shared_prompt


class Line(NamedTuple):
    """A sampled line and its mean token log-probability."""

    text: str
    logprob: float


@functools.cache
def line_ends(tokenizer: Any) -> frozenset[int]:
    """The ids of the tokenizer's tokens that end a line: any holding a newline, and EOS."""
    ends = {i for i in range(len(tokenizer)) if "\n" in tokenizer.decode([i])}
    if tokenizer.eos_token_id is not None:
        ends.add(tokenizer.eos_token_id)
    return frozenset(ends)


def sample_lines(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    samples: int,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_p: float = 1.0,
    top_k: int = 50,
    seed: int | Sequence[int] = 0,
    stops: frozenset[int] | None = None,
) -> list[Line]:
    """``samples`` continuations of each prompt up to its first line end (prompt-major order).

    A token is drawn from the ``top_k`` likeliest, cut to the smallest set
    whose probability reaches ``top_p``, at ``temperature``; ``top_k=1`` is
    greedy decoding. ``seed`` is one seed per prompt, or one for all (prompt
    ``p`` then draws from ``(seed, p)``); a sample's draws depend only on its
    prompt's seed and its own number. A row stops at a token in ``stops`` (default:
    :func:`line_ends`) or after ``max_new_tokens``; the returned text stops
    before the line end. Each line carries its tokens' mean log-probability
    under the model (before temperature and truncation): its fluency.
    """
    import torch

    stops = line_ends(tokenizer) if stops is None else stops
    enc = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    shared_prompt.install(model, ids.shape[1] + max_new_tokens)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    uniforms = _uniforms(seed, len(prompts), samples, max_new_tokens).to(model.device)
    stop_ids = torch.tensor(sorted(stops), device=model.device)
    rows = len(prompts) * samples
    out: list[list[int]] = [[] for _ in range(rows)]
    logprob = [0.0] * rows
    with torch.inference_mode():
        keys, values, logits = _prefill(model, ids, mask, positions)
        shared = shared_prompt.SharedPrompt(keys, values, mask, samples, max_new_tokens)
        logits = logits.repeat_interleave(samples, dim=0)
        position = positions[:, -1:].repeat_interleave(samples, dim=0)
        for step in range(max_new_tokens):
            logits = logits.float()
            token = _draw(logits, temperature, top_p, top_k, uniforms[shared.live, step])
            drawn = logits.gather(1, token.unsqueeze(1)).squeeze(1) - logits.logsumexp(-1)
            drawn_rows = zip(shared.live.tolist(), token.tolist(), drawn.tolist(), strict=True)
            for row, t, lp in drawn_rows:
                out[row].append(t)
                logprob[row] += lp
            going = ~torch.isin(token, stop_ids)
            if not going.any() or step + 1 == max_new_tokens:
                break
            if not going.all():  # ended rows leave the batch: no cache is copied
                shared.live, token, position = shared.live[going], token[going], position[going]
            shared.step, position = step, position + 1
            logits = model(
                input_ids=token.unsqueeze(1), position_ids=position, use_cache=False,
                shared_prompt=shared,
            ).logits[:, -1, :]  # fmt: skip
    texts = [tokenizer.decode(row, skip_special_tokens=True) for row in out]
    return [
        Line(text.split("\n")[0].strip(), lp / max(len(row), 1))
        for text, row, lp in zip(texts, out, logprob, strict=True)
    ]


def _uniforms(seed: int | Sequence[int], prompts: int, samples: int, steps: int) -> Any:
    """One uniform draw per row (prompt-major) and step, each row from its own stream."""
    import numpy as np
    import torch

    keys = [(seed, p) for p in range(prompts)] if isinstance(seed, int) else [(s,) for s in seed]
    if len(keys) != prompts:
        raise ValueError(f"got {len(keys)} seeds for {prompts} prompts")
    draws = [
        np.random.default_rng([k % 2**64 for k in (*key, s)]).random(steps, dtype=np.float32)
        for key in keys
        for s in range(samples)
    ]
    return torch.from_numpy(np.stack(draws)) if draws else torch.empty(0, steps)


def _draw(logits: Any, temperature: float, top_p: float, top_k: int, uniform: Any) -> Any:
    """One token per row from the nucleus of its ``top_k`` likeliest tokens, by inverting
    the nucleus' cumulative probabilities at the row's ``uniform`` draw."""
    import torch

    values, indices = logits.topk(min(top_k, logits.shape[-1]), dim=-1)
    if values.shape[-1] == 1:
        return indices[:, 0]
    probs = torch.softmax(values / temperature, dim=-1)
    before = probs.cumsum(-1) - probs  # mass of the likelier tokens
    kept = before < top_p
    cumulative = probs.masked_fill(~kept, 0.0).cumsum(-1)
    target = (uniform.to(cumulative.dtype) * cumulative[:, -1]).unsqueeze(1)
    choice = torch.searchsorted(cumulative, target, right=True)
    choice = torch.minimum(choice, kept.sum(-1, keepdim=True) - 1)  # a rounding at the top end
    return indices.gather(1, choice).squeeze(1)


def _prefill(model: Any, ids: Any, mask: Any, positions: Any) -> tuple[list, list, Any]:
    """Every layer's keys and values of the prompts ``ids``, and the logits of their last
    tokens."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    logits = model(
        input_ids=ids, attention_mask=mask, position_ids=positions,
        cache=cache, use_cache=True, logits_to_keep=1,
    ).logits[:, -1, :]  # fmt: skip
    return [layer.keys for layer in cache.layers], [layer.values for layer in cache.layers], logits
