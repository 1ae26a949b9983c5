"""``linernotes tune``: DPO, KTO or SFT fine-tuning of the story model with TRL, resumable.

DPO and KTO train on preference pairs (``prefs build``); SFT trains on the planned
generator's sentence examples (``prefs sentences``), with the loss on the sentence only.

The base model is the configured generator's (``generator.params.model``; the
bundled SmolLM2-135M by default). Training checkpoints go to
``OUT/checkpoints`` every ``save_steps`` optimiser steps; running the same
command again resumes from the last one. The finished folder holds the model,
its tokenizer, a model card (``README.md``) and ``linernotes_tuning.json``, and
loads with ``generator.params.model=OUT``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linernotes.errors import ConfigError, DataError

from .pairs import SOURCES
from .prefs import MANIFEST, read_prefs
from .sentences import SOURCES as SENTENCE_SOURCES

METHODS = ("dpo", "kto", "sft")
CARD = "linernotes_tuning.json"


@dataclass
class TuneSettings:
    """The ``tune`` config group's ``params`` (``conf/tune/*.yaml``)."""

    lora: bool = False  # train LoRA adapters (PEFT) instead of every weight; merged on save
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    beta: float = 0.1  # DPO and KTO: how far the policy may move from the base model
    sft_weight: float = 1.0  # DPO only: weight of the chosen story's NLL (RPO); 0 = pure DPO
    learning_rate: float = 1e-5
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = 2
    grad_accum: int = 4
    max_length: int = 640  # prompt + story (or sentence) tokens
    warmup_ratio: float = 0.1  # share of the steps spent warming up the learning rate
    save_steps: int = 10
    eval_pairs: int = 16  # validation pairs scored before and after training (0: none)
    seed: int = 0
    dtype: str = "float32"  # the weights' dtype while training: float32 | bfloat16
    sources: list[str] = field(default_factory=lambda: list(SOURCES))

    def __post_init__(self):
        valid = [*SOURCES, *SENTENCE_SOURCES]
        unknown = set(self.sources) - set(valid)
        if unknown:
            raise ConfigError(f"unknown data sources {sorted(unknown)}; valid: {valid}")
        if self.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"tune: dtype must be float32 or bfloat16, got {self.dtype!r}")
        if self.batch_size < 1 or self.grad_accum < 1 or self.save_steps < 1:
            raise ConfigError("tune: batch_size, grad_accum and save_steps must be at least 1")


def settings_from(params: dict[str, Any]) -> TuneSettings:
    """Validate the ``tune`` params; unknown names fail in one line listing the valid ones."""
    valid = [f.name for f in dataclasses.fields(TuneSettings)]
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(f"unknown tune parameter(s) {unknown}; valid: {valid}")
    return TuneSettings(**params)


def tune(
    prefs: str | Path,
    out: str | Path,
    overrides: Sequence[str] = (),
    progress: bool = True,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Fine-tune on the pairs in ``prefs``; write the model to ``out``; return its card.

    ``callbacks`` are ``transformers.TrainerCallback`` objects added to the trainer.
    """
    from linernotes.config import compose
    from omegaconf import OmegaConf

    cfg = compose(overrides)
    method = cfg.tune.component
    if method not in METHODS:
        raise ConfigError(f"unknown tune method '{method}'; valid: {', '.join(METHODS)}")
    settings = settings_from(OmegaConf.to_container(cfg.tune.params))
    prefs, out = Path(prefs), Path(out)
    manifest = _manifest(prefs)
    if (manifest.get("settings", {}).get("kind") == "sentences") != (method == "sft"):
        wanted = "prefs sentences" if method == "sft" else "prefs build"
        raise DataError(f"tune {method} trains on a folder written by `{wanted}`; {prefs} is not")
    train = [r for r in read_prefs(prefs, "train") if r["source"] in settings.sources]
    held = [r for r in read_prefs(prefs, "validation") if r["source"] in settings.sources]
    held = held[: settings.eval_pairs]
    if not train:
        raise DataError(f"no training rows from sources {settings.sources} in {prefs}")
    base = str(cfg.generator.params.get("model", "")) or _default_model()
    start = time.perf_counter()
    model, tokenizer = _load(base, settings.dtype)
    before = perplexity(model, tokenizer, _editorial(held))
    trainer = _trainer(method, settings, model, tokenizer, train, held, out, progress)
    for callback in callbacks:
        trainer.add_callback(callback)
    from transformers.trainer_utils import get_last_checkpoint

    checkpoints = out / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
    metrics: dict[str, Any] = {}
    if held:
        before_training = trainer.evaluate()
        metrics.update({f"{k}_before": round(v, 4) for k, v in before_training.items() if _kept(k)})
    result = trainer.train(resume_from_checkpoint=last)
    metrics.update(
        {
            "train_loss": round(result.training_loss, 4),
            "steps": result.global_step,
            "pairs_seen": result.global_step * settings.batch_size * settings.grad_accum,
            "resumed_from": Path(last).name if last else None,
        }
    )
    if held:
        evaluated = trainer.evaluate()
        metrics.update({k: round(v, 4) for k, v in evaluated.items() if _kept(k)})
    if settings.lora:  # the adapter alone (what linernotes-generators ships)
        trainer.model.peft_config["default"].base_model_name_or_path = base
        trainer.model.save_pretrained(out / "adapter")
        _to_bfloat16(out / "adapter" / "adapter_model.safetensors")
    tuned = trainer.model.merge_and_unload() if settings.lora else trainer.model
    tuned.eval()
    after = perplexity(tuned, tokenizer, _editorial(held))
    metrics.update(
        {
            "editorial_perplexity_base": before,
            "editorial_perplexity_tuned": after,
            "train_seconds": round(time.perf_counter() - start, 1),
        }
    )
    tuned.save_pretrained(out)
    tokenizer.save_pretrained(out)
    card = {
        "method": method,
        "base_model": base,
        "prefs": str(prefs),
        "pairs": {"train": len(train), "validation": len(held), "by_source": _count(train)},
        "shots": 0 if method == "sft" else manifest.get("settings", {}).get("shots", 0),
        "settings": dataclasses.asdict(settings),
        "prefs_manifest": manifest,
        "metrics": metrics,
        "loss_curve": [
            {"step": h["step"], "loss": round(h["loss"], 4)}
            for h in trainer.state.log_history
            if "loss" in h
        ],
    }
    (out / CARD).write_text(json.dumps(card, indent=2) + "\n")
    (out / "README.md").write_text(model_card(card))
    shutil.rmtree(checkpoints, ignore_errors=True)
    return card


def perplexity(model, tokenizer, rows: Sequence[dict[str, Any]]) -> float | None:
    """Perplexity of each row's ``chosen`` story given its ``prompt`` (story tokens only)."""
    import torch

    if not rows:
        return None
    nll, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for row in rows:
            prompt = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True)
            full = tokenizer.apply_chat_template(row["prompt"] + row["chosen"])
            prompt, full = _ids(prompt), _ids(full)
            ids = torch.tensor([full], device=model.device)
            labels = ids.clone()
            labels[:, : len(prompt)] = -100
            n = int((labels[:, 1:] != -100).sum())
            nll += float(model(input_ids=ids, labels=labels).loss) * n
            count += n
    return round(math.exp(nll / count), 3)


def model_card(card: dict[str, Any]) -> str:
    """A Hugging Face style model card: what the model is, its data, config and metrics."""
    m = card["metrics"]
    lines = [
        "---",
        f"base_model: {card['base_model']}",
        "library_name: transformers",
        f"tags: [linernotes, trl, {card['method']}]",
        "---",
        "",
        f"# linernotes story model ({card['method'].upper()})",
        "",
        f"Fine-tuned from `{card['base_model']}` with TRL ({card['method'].upper()}) on "
        f"{card['pairs']['train']} preference pairs from `{card['prefs']}` "
        f"({', '.join(f'{k} {v}' for k, v in card['pairs']['by_source'].items())}); "
        f"{card['pairs']['validation']} pairs held out by listener.",
        "",
        "Use it: `linernotes recommend --listener 2 generator.params.model=THIS_FOLDER "
        f"generator.params.shots={card['shots']}`.",
        "",
        "## Metrics",
        "",
        *(f"- {k}: {v}" for k, v in m.items()),
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(card["settings"], indent=2),
        "```",
        "",
        "## Data",
        "",
        "```json",
        json.dumps(card["prefs_manifest"], indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def _trainer(method, s: TuneSettings, model, tokenizer, train, held, out: Path, progress: bool):
    import torch
    from datasets import Dataset

    common: dict[str, Any] = dict(
        output_dir=str(out / "checkpoints"),
        per_device_train_batch_size=s.batch_size,
        per_device_eval_batch_size=s.batch_size,
        gradient_accumulation_steps=s.grad_accum,
        learning_rate=s.learning_rate,
        num_train_epochs=s.epochs,
        max_steps=s.max_steps,
        lr_scheduler_type="cosine",
        warmup_steps=s.warmup_ratio,
        logging_steps=1,
        save_steps=s.save_steps,
        save_total_limit=1,
        report_to=[],
        seed=s.seed,
        max_length=s.max_length,
        disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    peft = None
    if s.lora:
        from peft import LoraConfig

        peft = LoraConfig(
            r=s.lora_r,
            lora_alpha=s.lora_alpha,
            lora_dropout=s.lora_dropout,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    if method == "dpo":
        from trl import DPOConfig, DPOTrainer

        losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, s.sft_weight]}
        args = DPOConfig(**common, beta=s.beta, **(losses if s.sft_weight > 0 else {}))
        trainer_cls, data = DPOTrainer, _paired
    elif method == "kto":
        from trl import KTOConfig, KTOTrainer

        args, trainer_cls, data = KTOConfig(**common, beta=s.beta), KTOTrainer, _unpaired
    else:
        from trl import SFTConfig, SFTTrainer

        args = SFTConfig(**common, completion_only_loss=True, gradient_checkpointing=False)
        trainer_cls, data = SFTTrainer, _completions
    return trainer_cls(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(data(train)),
        eval_dataset=Dataset.from_list(data(held)) if held else None,
        processing_class=tokenizer,
        peft_config=peft,
    )


def _paired(rows):
    return [{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in rows]


def _to_bfloat16(path: Path) -> None:
    """Rewrite a safetensors file's floating-point tensors in bfloat16: half the size."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    cast = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in tensors.items()}
    save_file(cast, path, metadata={"format": "pt"})


def _completions(rows):
    return [{k: r[k] for k in ("prompt", "completion")} for r in rows]


def _unpaired(rows):
    """KTO's format: each distinct (prompt, story) once, labelled good (chosen) or bad."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:
        for key, label in (("chosen", True), ("rejected", False)):
            item = {"prompt": r["prompt"], "completion": r[key], "label": label}
            seen.setdefault(json.dumps([r["prompt"], r[key]]), item)
    return list(seen.values())


def _editorial(rows):
    return [r for r in rows if r["source"] == "editorial"]


def _load(base: str, dtype: str = "float32"):
    import torch
    from linernotes_generators.models import resolve
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, _ = resolve(base)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    return model, tokenizer


def _default_model() -> str:
    from linernotes_generators.models import DEFAULT_MODEL

    return DEFAULT_MODEL


def _manifest(prefs: Path) -> dict[str, Any]:
    path = prefs / MANIFEST
    if not path.is_file():
        raise DataError(f"no {MANIFEST} in {prefs}; run `linernotes prefs build --out {prefs}`")
    return json.loads(path.read_text())


def _ids(encoded) -> list[int]:
    return list(encoded["input_ids"] if hasattr(encoded, "keys") else encoded)


def _count(rows) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["source"]] = counts.get(r["source"], 0) + 1
    return counts


def _kept(key: str) -> bool:
    return key in ("eval_loss",) or key.startswith("eval_rewards") or key.startswith("eval_kl")
