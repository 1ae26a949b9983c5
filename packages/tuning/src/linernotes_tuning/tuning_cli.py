"""``linernotes prefs`` and ``linernotes tune``: preference pairs or sentence examples, then
DPO, KTO or SFT fine-tuning."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from linernotes.cli import Json, Overrides, handled

prefs_app = typer.Typer(
    help="Build preference pairs (verifier judgments, editorial stories, feedback) or the "
    "planned generator's sentence examples.",
    no_args_is_help=True,
)
tune_app = typer.Typer(
    help="Fine-tune the story model on preference pairs or sentence examples (TRL), then "
    "load it with generator.params.model=PATH.",
    no_args_is_help=True,
)
PrefsDir = Annotated[Path, typer.Option("--prefs", help="A folder written by `prefs build`.")]


def _print_json(value) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


@prefs_app.command("build")
@handled
def prefs_build(
    overrides: Overrides = None,
    out: Annotated[Path, typer.Option(help="Folder for train.jsonl, validation.jsonl.")] = Path(
        "prefs"
    ),
    listeners: Annotated[
        int, typer.Option(help="Prompts: this many listeners outside the test split.", min=1)
    ] = 120,
    drafts: Annotated[int, typer.Option(help="Model drafts per prompt.", min=2)] = 3,
    margin: Annotated[
        float, typer.Option(help="Verifier pairs need at least this score difference.")
    ] = 1.0,
    shots: Annotated[
        int, typer.Option(help="Golden examples in each prompt (a tuned model needs none).", min=0)
    ] = 0,
    temperature: Annotated[float, typer.Option(help="Sampling temperature of drafts.")] = 0.7,
    feedback: Annotated[
        Path | None, typer.Option(help="Add pairs from this feedback store (feedback ingest).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split and sampling.")] = 0,
    as_json: Json = False,
):
    """Write drafts, judge them, and pair better stories with worse ones."""
    from .prefs import build_prefs

    report = build_prefs(
        out,
        overrides or [],
        listeners=listeners,
        drafts=drafts,
        margin=margin,
        shots=shots,
        temperature=temperature,
        feedback=feedback,
        seed=seed,
        progress=not as_json,
    )
    if as_json:
        _print_json(report.__dict__)
        return
    typer.echo(
        f"{sum(report.pairs.values())} pairs from {report.prompts} prompts "
        f"({report.grounded_drafts}/{report.drafts} drafts grounded): "
        + _written(report.pairs, report.splits, out)
    )


@prefs_app.command("sentences")
@handled
def prefs_sentences(
    overrides: Overrides = None,
    out: Annotated[Path, typer.Option(help="Folder for train.jsonl, validation.jsonl.")] = Path(
        "sentences"
    ),
    listeners: Annotated[
        int, typer.Option(help="Stories for this many listeners outside the test split.", min=1)
    ] = 300,
    context_share: Annotated[
        float, typer.Option(help="Seeded share of listeners given a context.", min=0, max=1)
    ] = 0.5,
    golden_copies: Annotated[
        int, typer.Option(help="Times each golden sentence is added.", min=0)
    ] = 2,
    seed: Annotated[int, typer.Option(help="Seed of the holdout split and contexts.")] = 0,
    as_json: Json = False,
):
    """Record the planned generator's winning sentences as (prompt, sentence) examples.

    To rebuild the shipped story adapter's data, write with the base model and examples:
    `linernotes prefs sentences generator.params.model=HuggingFaceTB/SmolLM2-135M-Instruct
    generator.params.shots=3`, then `linernotes tune sft --prefs sentences`.
    """
    from .sentences import build_sentences

    report = build_sentences(
        out,
        overrides or [],
        listeners=listeners,
        context_share=context_share,
        golden_copies=golden_copies,
        seed=seed,
        progress=not as_json,
    )
    if as_json:
        _print_json(report.__dict__)
        return
    typer.echo(
        f"{sum(report.examples.values())} examples from {report.stories} stories of "
        f"{report.listeners} listeners: " + _written(report.examples, report.splits, out)
    )


def _written(by_source: dict[str, int], splits: dict[str, int], out: Path) -> str:
    """Rows by source, then by split, and where they went: "golden 2, model 3; train 4,
    validation 1 -> out"."""
    return (
        ", ".join(f"{k} {v}" for k, v in sorted(by_source.items()))
        + f"; train {splits.get('train', 0)}, validation {splits.get('validation', 0)} -> {out}"
    )


def _tune(method: str, overrides: list[str], prefs: Path, out: Path, as_json: bool) -> None:
    from .tune import tune

    card = tune(prefs, out, [f"tune={method}", *overrides], progress=not as_json)
    if as_json:
        _print_json(card)
        return
    metrics = card["metrics"]
    typer.echo(
        f"tuned {card['base_model']} with {card['method']}: {metrics['steps']} steps, "
        f"{metrics['pairs_seen']} of {card['pairs']['train']} training rows seen, "
        f"in {metrics['train_seconds']:.0f} s -> {out}\n"
        + "\n".join(f"  {k}: {v}" for k, v in metrics.items())
        + f"\nuse it: linernotes recommend --listener 2 generator.params.model={out} "
        f"generator.params.shots={card['shots']}"
    )


@tune_app.command("dpo")
@handled
def tune_dpo(
    overrides: Overrides = None,
    prefs: PrefsDir = Path("prefs"),
    out: Annotated[Path, typer.Option(help="The tuned model's folder.")] = Path("tuned"),
    as_json: Json = False,
):
    """Direct preference optimisation (TRL DPOTrainer); resumes from the last checkpoint."""
    overrides = overrides or []
    method = next((o.split("=", 1)[1] for o in overrides if o.startswith("tune=")), "dpo")
    rest = [o for o in overrides if not o.startswith("tune=")]
    if not method.startswith("dpo"):
        from linernotes.errors import ConfigError

        raise ConfigError(f"tune dpo needs a dpo option (dpo, dpo_full), got tune={method}")
    _tune(method, rest, prefs, out, as_json)


@tune_app.command("kto")
@handled
def tune_kto(
    overrides: Overrides = None,
    prefs: PrefsDir = Path("prefs"),
    out: Annotated[Path, typer.Option(help="The tuned model's folder.")] = Path("tuned-kto"),
    as_json: Json = False,
):
    """Kahneman-Tversky optimisation (TRL KTOTrainer) on unpaired good and bad stories."""
    _tune("kto", [o for o in overrides or [] if not o.startswith("tune=")], prefs, out, as_json)


@tune_app.command("sft")
@handled
def tune_sft(
    overrides: Overrides = None,
    prefs: Annotated[
        Path, typer.Option("--prefs", help="A folder written by `prefs sentences`.")
    ] = Path("sentences"),
    out: Annotated[Path, typer.Option(help="The tuned model's folder.")] = Path("tuned-sft"),
    as_json: Json = False,
):
    """Supervised fine-tuning (TRL SFTTrainer) of the planned generator's sentences; the
    LoRA adapter is also saved alone in OUT/adapter."""
    _tune("sft", [o for o in overrides or [] if not o.startswith("tune=")], prefs, out, as_json)
