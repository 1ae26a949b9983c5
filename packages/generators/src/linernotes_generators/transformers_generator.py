"""The transformers generator: a local language model writes the drafts, batched and seeded."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

from linernotes import Draft, FactPack
from linernotes.catalog import Catalog

from .models import DEFAULT_MODEL, load
from .output import finish
from .prompts import Prompter


class TransformersGenerator:
    """Writes ``n`` drafts per fact pack with a causal language model (default: SmolLM2-135M).

    ``model`` is the bundled default, a Hugging Face id, or a local folder. Prompts
    use the tokenizer's chat template and are batched ``batch_size`` packs at a
    time, left-padded, under ``torch.inference_mode``. Drafts are sampled
    (``temperature`` 0 means greedy) with a seed made of ``seed`` and the batch's
    request ids, so the same packs always get the same drafts. A draft that runs
    past ``max_new_tokens`` is cut at its last sentence end.
    """

    name: ClassVar[str] = "transformers"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int = 120,
        temperature: float = 0.7,
        top_p: float = 0.9,
        seed: int = 0,
        batch_size: int = 16,
        shots: int = 2,
        facts_per_pick: int = 2,
        examples: str = "",
    ):
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature must be at least 0, got {temperature}")
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.batch_size = batch_size
        self.prompter = Prompter(shots, facts_per_pick, examples)

    def fit(self, catalog: Catalog) -> None:
        """Load the model (once per process; converted into the cache on first use)."""
        self.loaded()

    def loaded(self) -> tuple[Any, Any]:
        """The (model, tokenizer) pair, shared by every generator with the same model."""
        return load(self.model, self.device, self.dtype)

    def generate(self, packs: Sequence[FactPack], n: int) -> list[list[Draft]]:
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        out: list[list[Draft]] = []
        for start in range(0, len(packs), self.batch_size):
            batch = packs[start : start + self.batch_size]
            texts = self.complete([self.prompter.messages(p) for p in batch], n, batch)
            out += [
                [Draft(t, self.name) for t in texts[i * n : (i + 1) * n]] for i in range(len(batch))
            ]
        return out

    def complete(
        self, chats: list[list[dict[str, str]]], n: int, packs: Sequence[FactPack] = ()
    ) -> list[str]:
        """``n`` completions per chat, in one batched ``generate`` call (chat-major order)."""
        import torch

        model, tokenizer = self.loaded()
        enc = tokenizer.apply_chat_template(
            chats, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        key = ":".join([str(self.seed), *(p.request_id for p in packs)])
        torch.manual_seed(zlib.crc32(key.encode()))
        greedy = self.temperature == 0  # greedy drafts are all the same: decode once
        sampling: dict[str, Any] = (
            {"do_sample": False}
            if greedy
            else {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p}
        )
        with torch.inference_mode():
            sequences = model.generate(
                **enc,
                **sampling,
                max_new_tokens=self.max_new_tokens,
                num_return_sequences=1 if greedy else n,
                pad_token_id=tokenizer.pad_token_id,
            )
        if greedy:
            sequences = sequences.repeat_interleave(n, dim=0)
        new = sequences[:, enc["input_ids"].shape[1] :]
        stops = model.generation_config.eos_token_id or tokenizer.eos_token_id
        stops = torch.tensor(stops if isinstance(stops, list) else [stops], device=new.device)
        ended = torch.isin(new, stops).any(dim=1).tolist()
        texts = tokenizer.batch_decode(new, skip_special_tokens=True)
        return [finish(t, truncated=not e) for t, e in zip(texts, ended, strict=True)]
