"""``linernotes prefs sentences``: supervised examples for the planned generator.

Rejection sampling: the configured planned generator writes stories for listeners
outside the test split (a seeded share of them with a context). Every
model-written fact sentence of a delivered story passed every candidate rule, the
citer and the safety filters, and won over its rivals; it becomes one example: the
zero-shot prompt of its fact (:func:`linernotes_generators.planned.prompt`, with
the sentence's place in the story) and the sentence, without its citation. The
golden sentences are added as the editors' examples (``golden_copies`` times each).
Examples are split into train and validation by listener; ``linernotes tune sft``
trains on them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linernotes import FactPack, Listener, Request, Sentence
from linernotes.errors import ConfigError

from .prefs import MANIFEST, _hash, write_splits

SOURCES = ("model", "golden")
_CITATION = re.compile(r"\s*\[\d+\]")


@dataclass
class SentencesReport:
    """What ``build_sentences`` wrote: examples by source and split."""

    out: str
    listeners: int
    stories: int
    examples: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def build_sentences(
    out: str | Path,
    overrides: Sequence[str] = (),
    listeners: int = 300,
    context_share: float = 0.5,
    golden_copies: int = 2,
    validation_share: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> SentencesReport:
    """Write ``train.jsonl``, ``validation.jsonl`` and a manifest of (prompt, completion)
    examples into ``out``; ``overrides`` compose the pipeline, whose generator must be
    ``planned``."""
    from linernotes.evaluation.stories import progress_bar, seeded_contexts
    from linernotes.pipeline import build_pipeline
    from linernotes.split import holdout_split

    if listeners < 1 or golden_copies < 0:
        raise ConfigError("prefs sentences needs --listeners ≥ 1 and --golden-copies ≥ 0")
    pipe = build_pipeline(overrides, progress=progress)
    writer = pipe.generator
    if writer.name != "planned":
        raise ConfigError(
            f"prefs sentences records the planned generator's sentences; generator is "
            f"'{writer.name}', use generator=planned"
        )
    test = set(holdout_split(pipe.catalog, seed=seed).listeners("test"))
    pool = sorted(
        (i for i in pipe.catalog.listener_ids if i not in test), key=lambda i: _hash(seed, i)
    )[:listeners]
    requests = seeded_contexts([Request(Listener(i)) for i in pool], context_share, seed)
    rows: list[dict[str, Any]] = []
    stories = 0
    with progress_bar(progress, len(requests), "writing stories") as advance:
        for start in range(0, len(requests), writer.batch_size):
            for result in pipe.run(requests[start : start + writer.batch_size]):
                story = result.story
                if story is not None and not story.fallback and story.generator == "planned":
                    stories += 1
                    rows += _examples(result.facts, story.sentences, writer.sentences)
            advance(min(writer.batch_size, len(requests) - start))
    golden = [
        {
            "prompt": _golden_prompt(g),
            "completion": " " + g.text,
            "source": "golden",
            "listener": "editor",
            "kind": g.kind,
            "place": g.place,
        }
        for g in writer.golden
        if g.kind != "intro"
    ]
    rows += golden * golden_copies
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = SentencesReport(
        out=str(out),
        listeners=len(pool),
        stories=stories,
        examples=dict(Counter(r["source"] for r in rows)),
        splits=write_splits(out, rows, seed, validation_share),
        settings={
            "kind": "sentences",
            "overrides": list(overrides),
            "listeners": listeners,
            "context_share": context_share,
            "golden_copies": golden_copies,
            "model": writer.model,
            "shots": writer.shots,
            "seed": seed,
            "excluded_test_listeners": len(test),
        },
    )
    (out / MANIFEST).write_text(json.dumps(report.__dict__, indent=2) + "\n")
    return report


def _examples(pack: FactPack, told: list[Sentence], count: int) -> list[dict[str, Any]]:
    """One example per model-written fact sentence of a planned story: the zero-shot
    prompt of the fact it cites (its step's own, or a spare's after a repair)."""
    from linernotes_generators.planned import Step, plan, prompt

    rows = []
    for step, sentence in zip(plan(pack, count), told, strict=False):
        if step.fact is None or sentence.writer != "model":
            continue
        options = [(step.number, step.fact), *step.spares]
        number, fact = next(((n, f) for n, f in options if n in sentence.facts), options[0])
        rows.append(
            {
                "prompt": prompt(Step(number, fact, step.place)),
                "completion": " " + _CITATION.sub("", sentence.text),
                "source": "model",
                "listener": pack.listener_id or pack.request_id,
                "kind": fact.kind,
                "place": step.place,
            }
        )
    return rows


def _golden_prompt(golden) -> str:
    """The zero-shot prompt of a golden sentence's fact, at its place in its story."""
    from linernotes import Fact
    from linernotes_generators.planned import Step, prompt

    fact = Fact("golden", "", golden.kind, golden.fact)
    return prompt(Step(1, fact, golden.place, golden.moment))
