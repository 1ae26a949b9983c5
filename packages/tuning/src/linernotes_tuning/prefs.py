"""``linernotes prefs build``: preference pairs from three sources, split by listener.

- ``verifier`` (AI feedback): the model writes ``drafts`` drafts per prompt; the
  verifier (:mod:`linernotes_tuning.verifier`) scores each, and the best is
  paired with the worst when they differ by at least ``margin``.
- ``editorial``: an editor's story against a model draft that is not grounded.
  The editors are the golden examples (``writer: golden``) and, for every
  prompt, the template generator's story restricted to the facts the prompt
  shows (``writer: template``; grounded by construction and re-checked).
- ``feedback``: logged listener feedback (:mod:`linernotes_tuning.feedback_pairs`).

Prompts come from listeners outside the evaluation's test split (seeded
holdout), so ``linernotes eval stories`` never scores a listener the model was
tuned on. Pairs are deduplicated and split into train and validation by listener.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linernotes import Draft, FactPack, Listener, Request
from linernotes.errors import ConfigError, DataError

from .pairs import Pair
from .verifier import Judgment, judge

TRAIN, VALIDATION = "train.jsonl", "validation.jsonl"
MANIFEST = "manifest.json"
_CITE = re.compile(r"\[(\d+)\]")


@dataclass
class PrefsReport:
    """What ``build_prefs`` wrote: pair counts by source and split, and draft statistics."""

    out: str
    prompts: int
    drafts: int
    grounded_drafts: int
    pairs: dict[str, int] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)


def build_prefs(
    out: str | Path,
    overrides: Sequence[str] = (),
    listeners: int = 200,
    drafts: int = 4,
    margin: float = 1.0,
    shots: int = 0,
    temperature: float = 1.0,
    feedback: str | Path | None = None,
    validation_share: float = 0.1,
    seed: int = 0,
    progress: bool = True,
) -> PrefsReport:
    """Build preference pairs into ``out`` (``train.jsonl``, ``validation.jsonl``, manifest).

    ``overrides`` compose the pipeline whose model (of the ``transformers`` or
    ``planned`` generator) writes whole-story drafts with the transformers
    generator's prompt, with ``shots`` golden examples in each prompt and the given
    sampling ``temperature``; ``feedback`` is a feedback store to add logged pairs.
    """
    from linernotes.config import compose
    from linernotes.evaluation.stories import progress_bar
    from linernotes.pipeline import Pipeline
    from linernotes.registry import get_registry
    from linernotes.split import holdout_split
    from linernotes_generators import TemplateGenerator, load_examples

    if listeners < 1 or drafts < 2:
        raise ConfigError("prefs build needs --listeners ≥ 1 and --drafts ≥ 2")
    cfg = compose([*overrides, "generator=template"])
    gen_cfg = compose(overrides).generator
    if gen_cfg.component not in ("transformers", "planned"):
        raise ConfigError(
            f"prefs build samples drafts from a local model; generator is "
            f"'{gen_cfg.component}', use generator=transformers"
        )
    pipe = Pipeline.from_config(cfg, progress=progress)
    # whole-story drafts from the configured model, with the transformers generator's prompt
    model = {k: gen_cfg.params[k] for k in ("model", "device", "dtype")}
    base = gen_cfg.params if gen_cfg.component == "transformers" else model
    params = {**base, "shots": shots, "temperature": temperature, "seed": seed}
    writer = get_registry().create("generator", "transformers", params)
    writer.fit(pipe.catalog)
    editor = TemplateGenerator(seed=seed, facts_per_pick=writer.prompter.facts_per_pick)
    test = set(holdout_split(pipe.catalog, seed=seed).listeners("test"))
    pool = sorted(
        (i for i in pipe.catalog.listener_ids if i not in test), key=lambda i: _hash(seed, i)
    )[:listeners]

    pairs: list[Pair] = []
    stats: Counter = Counter()
    total = len(pool) + len(load_examples())
    with progress_bar(progress, total, "writing and judging drafts") as advance:
        for start in range(0, len(pool), writer.batch_size):
            results = pipe.run(
                [Request(Listener(i)) for i in pool[start : start + writer.batch_size]]
            )
            packs = [r.facts for r in results if r.facts.facts]
            stats["no_facts"] += len(results) - len(packs)
            written = writer.generate(packs, drafts)
            reviews = pipe.review(written, packs)
            references = pipe.review(
                [[_reference(editor, p, writer.prompter)] for p in packs], packs
            )
            for pack, rs, ref in zip(packs, reviews, references, strict=True):
                shown = {n for n, _ in writer.prompter.shown(pack)[0]}
                judged = [(r.draft.text, judge(r, shown)) for r in rs]
                stats["drafts"] += len(judged)
                stats["grounded"] += sum(j.grounded for _, j in judged)
                pairs += _verifier_pairs(pack, judged, margin)
                if ref[0].passed:
                    pairs += _editorial_pairs(pack, ref[0].draft.text, judged, "template")
                else:
                    stats["reference_blocked"] += 1
            advance(len(results))
        pairs += _golden_pairs(writer, drafts, advance)
    if feedback is not None:
        from .feedback_pairs import feedback_pairs
        from .store import read_events

        pairs += feedback_pairs(read_events(feedback), exclude_listeners=test)
    return write_prefs(
        out,
        pairs,
        writer.prompter,
        validation_share,
        seed,
        prompts=len(pool),
        stats=stats,
        settings={
            "overrides": list(overrides),
            "listeners": listeners,
            "drafts": drafts,
            "margin": margin,
            "shots": shots,
            "temperature": temperature,
            "facts_per_pick": writer.prompter.facts_per_pick,
            "model": str(gen_cfg.params.get("model", "")) or "default",
            "feedback": str(feedback) if feedback else None,
            "seed": seed,
            "excluded_test_listeners": len(test),
        },
    )


def write_prefs(
    out: str | Path,
    pairs: Sequence[Pair],
    prompter,
    validation_share: float = 0.1,
    seed: int = 0,
    prompts: int = 0,
    stats: Counter | None = None,
    settings: dict[str, Any] | None = None,
) -> PrefsReport:
    """Deduplicate ``pairs``, split them by listener and write them as chat-format JSONL.

    Each line holds ``prompt`` (chat messages), ``chosen`` and ``rejected`` (one
    assistant message each, TRL's conversational preference format), plus
    ``source``, ``listener``, ``margin`` and ``meta``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stats = stats or Counter()
    rows: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        prompt = pair.prompt or prompter.messages(pair.pack)
        key = _hash(json.dumps(prompt), pair.chosen, pair.rejected)
        if pair.chosen.strip() == pair.rejected.strip() or key in rows:
            stats["duplicates"] += 1
            continue
        rows[key] = {
            "prompt": prompt,
            "chosen": [{"role": "assistant", "content": pair.chosen}],
            "rejected": [{"role": "assistant", "content": pair.rejected}],
            "source": pair.source,
            "listener": pair.listener,
            "margin": round(pair.margin, 4),
            "meta": pair.meta,
        }
    report = PrefsReport(
        out=str(out),
        prompts=prompts,
        drafts=stats["drafts"],
        grounded_drafts=stats["grounded"],
        pairs=dict(Counter(r["source"] for r in rows.values())),
        splits=write_splits(out, rows.values(), seed, validation_share),
        skipped={k: v for k, v in stats.items() if k not in ("drafts", "grounded")},
        settings=settings or {},
    )
    (out / MANIFEST).write_text(json.dumps(report.__dict__, indent=2) + "\n")
    return report


def write_splits(
    out: Path, rows: Iterable[dict[str, Any]], seed: int, validation_share: float
) -> dict[str, int]:
    """Write ``rows`` into ``out`` as ``train.jsonl`` and ``validation.jsonl``, split by
    listener (a seeded ``validation_share``; editors' rows always train); the rows per split."""
    splits: dict[str, list[dict[str, Any]]] = {TRAIN: [], VALIDATION: []}
    for row in rows:
        held = int(_hash(seed, "split", row["listener"])[:8], 16) / 16**8 < validation_share
        splits[VALIDATION if held and row["listener"] != "editor" else TRAIN].append(row)
    for name, split_rows in splits.items():
        with (out / name).open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in split_rows)
    return {name.removesuffix(".jsonl"): len(r) for name, r in splits.items()}


def read_prefs(folder: str | Path, split: str = "train") -> list[dict[str, Any]]:
    """The pairs of one split (``train`` or ``validation``) of a ``prefs build`` folder."""
    path = Path(folder) / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"no {path.name} in {folder}; run `linernotes prefs build --out {folder}`")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    if not rows and split == "train":
        raise DataError(f"{path} holds no pairs")
    return rows


def _verifier_pairs(pack: FactPack, judged: list[tuple[str, Judgment]], margin: float):
    ranked = sorted(judged, key=lambda x: x[1].score, reverse=True)
    (best, jb), (worst, jw) = ranked[0], ranked[-1]
    if not jb.safe or jb.score - jw.score < margin:
        return []
    meta = {"chosen_codes": list(jb.codes), "rejected_codes": list(jw.codes)}
    return [Pair(pack, best, worst, "verifier", pack.listener_id or "", jb.score - jw.score, meta)]


def _editorial_pairs(pack: FactPack, story: str, judged, writer: str) -> list[Pair]:
    """The editor's story against the best and the worst ungrounded draft."""
    ungrounded = sorted((j for j in judged if not j[1].grounded), key=lambda x: x[1].score)
    picked = {d for d, _ in (ungrounded[:1] + ungrounded[-1:])}
    return [
        Pair(pack, story, d, "editorial", pack.listener_id or "", 0.0, {"writer": writer})
        for d in sorted(picked)
    ]


def _golden_pairs(writer, drafts: int, advance) -> list[Pair]:
    """Each golden example's story against the model's own drafts for its facts."""
    from linernotes_generators import load_examples

    pairs = []
    for n, example in enumerate(load_examples(writer.prompter.source)):
        chat = writer.prompter.example_messages(example)
        texts = writer.complete([chat], drafts)
        meta = {"writer": "golden", "example": n}
        pairs += [
            Pair(None, example.story, t, "editorial", "editor", 0.0, meta, prompt=chat)
            for t in dict.fromkeys(texts)
            if t.strip()
        ][:2]
        advance(1)
    return pairs


def _reference(editor, pack: FactPack, prompter) -> Draft:
    """The template's story about only the facts the prompt shows, cited by pack number."""
    numbers = [n for n, _ in prompter.shown(pack)[0]]
    shown = FactPack(
        pack.request_id,
        pack.listener_id,
        pack.picks,
        pack.history,
        [pack.facts[n - 1] for n in numbers],
        pack.context,
    )
    text = editor.generate([shown], 1)[0][0].text
    return Draft(_CITE.sub(lambda m: f"[{numbers[int(m.group(1)) - 1]}]", text), "editorial")


def _hash(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()
