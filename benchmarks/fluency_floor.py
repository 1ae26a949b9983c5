"""How well the model's own fluency tells clumsy sentences from good ones, from hand labels.

    uv run python benchmarks/fluency_floor.py report            # the shipped labels
    uv run python benchmarks/fluency_floor.py candidates --out c.jsonl   # new ones to label
    uv run python benchmarks/fluency_floor.py delivered --out d.json     # blind, per floor
    uv run python benchmarks/fluency_floor.py delivered --out d.json generator.params.retries=3
    uv run python benchmarks/fluency_floor.py candidates --context-share 1 --limit 100 --out i.jsonl
    uv run python benchmarks/fluency_floor.py delivered --floor min_intro_fluency \
        --floors=-inf,-1.1 --context-share 1 --limit 60 --out i.json   # intros, blind

``candidates`` writes every candidate sentence that passes the planned generator's checks
for the validation split's first listeners (``--limit``; a ``--context-share`` of them
with a moment, whose intros are written too, with the moment as their "fact"), with its
fluency (mean token log-probability under the model), the score the generator ranks by
and ``"clumsy": null`` for a reader to fill in. ``delivered`` writes the fact sentences
(with ``--floor min_intro_fluency``: the intros) that the generator delivers for the test
split's first listeners at each ``--floors`` value of that floor, and the distinct ones
shuffled under ``blind`` (``"clumsy": null``), so a reader labels them without knowing
the floor (intros come from one pool per moment, sampled once, so each floor chooses
from the same candidates). Both take Hydra overrides after their options. ``report`` prints, from
labelled files: the AUC of fluency for good against clumsy, what each floor would keep
(fact sentences and intros), and the clumsy share delivered at each floor.
Needs LINERNOTES_DATA_MIRROR (or a downloaded dataset); the two writers run the model.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
LABELS = Path(__file__).parent / "labels"


def packs(split: str, limit: int, overrides: list[str], context_share: float = 0.0):
    """The generator and the screened fact packs of ``split``'s first listeners, a seeded
    ``context_share`` of them with a moment (as ``eval stories --context-share``)."""
    import linernotes
    from linernotes.evaluation.stories import seeded_contexts
    from linernotes.split import holdout_split

    pipeline = linernotes.build_pipeline(overrides, progress=False)
    ids = holdout_split(pipeline.catalog).listeners(split)[:limit]
    requests = seeded_contexts([pipeline.request(listener=i) for i in ids], context_share)
    *_, screened = pipeline._prepare(requests)
    return pipeline.generator, screened


def candidates(args) -> None:
    from linernotes_generators.planned import fact_score

    generator, screened = packs("validation", args.limit, args.overrides, args.context_share)
    choose, rows, seen = generator._choose, [], set()

    def recording(lines, pack, step, told, shown):
        best = choose(lines, pack, step, told, shown)
        for line in lines:
            one = choose([line], pack, step, told, shown)
            subject = step.moment if step.fact is None else step.fact.text  # an intro: its moment
            key = (pack.request_id, subject, step.place, one.text if one else None)
            if one is None or key in seen:  # a pool's intros are checked more than once
                continue
            seen.add(key)
            if step.fact is None:  # taken from its pool by seed, not by this score
                score, chosen = line.logprob, None
            else:
                score = fact_score(one.text, line.logprob, subject, shown or told)
                chosen = best is not None and one.text == best.text
            rows.append({
                "listener": pack.request_id, "fact": subject, "place": step.place,
                "text": one.text, "fluency": round(line.logprob, 4), "score": round(score, 4),
                "chosen": chosen, "clumsy": None,
            })  # fmt: skip
        return best

    generator._choose = recording
    generator.min_fluency = generator.min_intro_fluency = float("-inf")  # all, to label
    generator.generate(screened, 1)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} candidates -> {args.out}")


def delivered(args) -> None:
    generator, screened = packs("test", args.limit, args.overrides, args.context_share)
    intros = args.floor == "min_intro_fluency"
    variants = {}
    for floor in args.floors.split(","):
        setattr(generator, args.floor, float(floor))
        start = time.perf_counter()
        drafts = generator.generate(screened, 1)
        seconds = (time.perf_counter() - start) / len(screened)
        pairs = zip(screened, drafts, strict=True)
        told = [
            (p.request_id, s) for p, (d,) in pairs for s in d.sentences if intros != bool(s.facts)
        ]
        variants[floor] = [
            {"listener": i, "text": s.text, "writer": s.writer, "tries": s.tries} for i, s in told
        ]
        model = sum(s.writer == "model" for _, s in told)
        print(f"{args.floor} {floor}: {seconds:.2f} s/listener, {model}/{len(told)} by the model")
    texts = sorted({s["text"] for v in variants.values() for s in v})
    random.Random(7).shuffle(texts)
    blind = [{"text": t, "clumsy": None} for t in texts]
    data = {
        "overrides": args.overrides, "floor": args.floor, "context_share": args.context_share,
        "retries": generator.retries, "intro_pool": generator.intro_pool,
        "intro_choices": generator.intro_choices,
        "variants": variants, "blind": blind,
    }  # fmt: skip
    Path(args.out).write_text(json.dumps(data, indent=1))
    print(f"{len(texts)} distinct sentences -> {args.out}")


def report(args) -> None:
    for path, floors in (
        (args.candidates, args.floors),
        *((p, args.intro_floors) for p in args.intros),
    ):
        labelled_candidates(Path(path), floors)
    for path in args.delivered:
        labelled_delivered(path)


def labelled_candidates(path: Path, floors: str) -> None:
    """AUC of fluency for good against clumsy, and what each floor would keep."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    clumsy = np.array([r["clumsy"] for r in rows], dtype=bool)
    fluency, score = (np.array([r[k] for r in rows]) for k in ("fluency", "score"))
    steps = defaultdict(list)  # a fact, or an intro's moment, of one listener
    for i, r in enumerate(rows):
        steps[(r["listener"], r["fact"], r["place"])].append(i)
    print(
        f"\n{path.name}: {len(rows)} candidates for {len(steps)} sentences, {clumsy.sum()} clumsy"
    )
    for name, s in (("fluency", fluency), ("the score ranked by", score)):
        print(f"AUC of {name}, good against clumsy: {roc_auc_score(~clumsy, s):.3f}")
    print("\n| floor | candidates kept | clumsy dropped | good dropped "
          "| sentences left with a candidate | clumsy among their winners |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for floor in floors.split(","):
        keep = fluency >= float(floor)
        winners = [max(kept, key=score.__getitem__) for g in steps.values()
                   if (kept := [i for i in g if keep[i]])]  # fmt: skip
        print(
            f"| {floor} | {keep.mean():.0%} | {(~keep & clumsy).sum()}/{clumsy.sum()} "
            f"| {(~keep & ~clumsy).sum()}/{(~clumsy).sum()} | {len(winners)}/{len(steps)} "
            f"| {clumsy[winners].mean():.1%} |"
        )


def labelled_delivered(path: Path) -> None:
    """The clumsy share delivered at each floor, from blind labels."""
    data = json.loads(path.read_text())
    bad = {b["text"] for b in data["blind"] if b["clumsy"]}
    floor = data.get("floor", "min_fluency")
    labelled = len(data["blind"])
    intros = (
        f"intro pool {data['intro_pool']}, {data['intro_choices']} choices"
        if "intro_pool" in data  # later files; earlier ones sampled intros per listener
        else f"intro_boost {data.get('intro_boost', 1)}"
    )
    print(f"\n{path.name}, {data['retries']} repair rounds, {intros}: ", end="")
    print(f"{labelled} sentences labelled blind, {len(bad)} clumsy")
    print(f"\n| {floor} | sentences | clumsy | by the model | repaired |")
    print("| --- | --- | --- | --- | --- |")
    for value, told in data["variants"].items():
        n, worse = len(told), sum(s["text"] in bad for s in told)
        model = sum(s["writer"] == "model" for s in told)
        repaired = sum(s["tries"] > 1 for s in told)
        print(f"| {value} | {n} | {worse} ({worse / n:.1%}) | {model} | {repaired} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("candidates", help="every passing candidate, to label")
    c.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. generator.params.retries=3")
    c.add_argument("--limit", type=int, default=60, help="validation listeners")
    c.add_argument("--context-share", type=float, default=0.0, help="of them with a moment")
    c.add_argument("--out", required=True)
    d = sub.add_parser("delivered", help="delivered sentences per floor, to label blind")
    d.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. generator.params.retries=3")
    d.add_argument("--limit", type=int, default=30, help="test listeners")
    d.add_argument(
        "--floor",
        choices=["min_fluency", "min_intro_fluency"],
        default="min_fluency",
        help="the floor to vary: fact sentences' or intros' (then only intros are written out)",
    )
    d.add_argument("--floors", default="-inf,-0.7,-0.65")
    d.add_argument("--context-share", type=float, default=0.0, help="of them with a moment")
    d.add_argument("--out", required=True)
    r = sub.add_parser("report", help="AUC and floors from labelled files")
    r.add_argument("--candidates", default=str(LABELS / "fluency_candidates.jsonl"))
    r.add_argument("--intros", nargs="*", default=sorted(LABELS.glob("intro_candidates*.jsonl")))
    r.add_argument(
        "--delivered", nargs="*", type=Path, default=sorted(LABELS.glob("*_delivered*.json"))
    )
    r.add_argument("--floors", default="-0.9,-0.8,-0.75,-0.7,-0.65,-0.6,-0.55,-0.5")
    r.add_argument("--intro-floors", default="-1.4,-1.3,-1.2,-1.1,-1.0,-0.9")
    args = parser.parse_args()
    {"candidates": candidates, "delivered": delivered, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
