"""How well the model's own fluency tells clumsy sentences from good ones, from hand labels.

    uv run python benchmarks/fluency_floor.py report            # the shipped labels
    uv run python benchmarks/fluency_floor.py candidates --out c.jsonl   # new ones to label
    uv run python benchmarks/fluency_floor.py delivered --out d.json     # blind, per floor
    uv run python benchmarks/fluency_floor.py delivered --out d.json generator.params.retries=3

``candidates`` writes every candidate sentence that passes the planned generator's checks
for the validation split's first listeners (``--limit``), with its fluency (mean token
log-probability under the model) and ``"clumsy": null`` for a reader to fill in.
``delivered`` writes the fact sentences the generator delivers for the test split's first
listeners at each ``--floors`` value of ``min_fluency``, and the distinct ones shuffled
under ``blind`` (``"clumsy": null``), so a reader labels them without knowing the floor.
Both take Hydra overrides after their options. ``report`` prints, from labelled files:
the AUC of fluency for good against clumsy, what each floor would keep, and the clumsy
share delivered at each floor.
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


def packs(split: str, limit: int, overrides: list[str]):
    """The pipeline and the screened fact packs of ``split``'s first listeners."""
    import linernotes
    from linernotes.split import holdout_split

    pipeline = linernotes.build_pipeline(overrides, progress=False)
    ids = holdout_split(pipeline.catalog).listeners(split)[:limit]
    *_, screened = pipeline._prepare([pipeline.request(listener=i) for i in ids])
    return pipeline.generator, screened


def candidates(args) -> None:
    from linernotes_generators.planned import FRESHNESS, _fresh

    generator, screened = packs("validation", args.limit, args.overrides)
    choose, rows = generator._choose, []

    def recording(lines, pack, step, told, shown):
        best = choose(lines, pack, step, told, shown)
        if step.fact is None:  # intros are not labelled
            return best
        seen = set()
        for line in lines:
            one = choose([line], pack, step, told, shown)
            if one is None or one.text in seen:
                continue
            seen.add(one.text)
            fresh = _fresh(one.text, step.fact.text) + _fresh(one.text, " ".join(shown or told))
            rows.append({
                "listener": pack.request_id, "fact": step.fact.text, "place": step.place,
                "text": one.text, "fluency": round(line.logprob, 4),
                "score": round(line.logprob + FRESHNESS * fresh, 4),
                "chosen": best is not None and one.text == best.text, "clumsy": None,
            })  # fmt: skip
        return best

    generator._choose = recording
    generator.min_fluency = float("-inf")  # every candidate, to label
    generator.generate(screened, 1)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} candidates -> {args.out}")


def delivered(args) -> None:
    generator, screened = packs("test", args.limit, args.overrides)
    variants = {}
    for floor in args.floors.split(","):
        generator.min_fluency = float(floor)
        start = time.perf_counter()
        drafts = generator.generate(screened, 1)
        seconds = (time.perf_counter() - start) / len(screened)
        pairs = zip(screened, drafts, strict=True)
        told = [(p.request_id, s) for p, (d,) in pairs for s in d.sentences if s.facts]
        variants[floor] = [
            {"listener": i, "text": s.text, "writer": s.writer, "tries": s.tries} for i, s in told
        ]
        model = sum(s.writer == "model" for _, s in told)
        print(f"min_fluency {floor}: {seconds:.2f} s/listener, {model}/{len(told)} by the model")
    texts = sorted({s["text"] for v in variants.values() for s in v})
    random.Random(7).shuffle(texts)
    blind = [{"text": t, "clumsy": None} for t in texts]
    data = {"overrides": args.overrides, "retries": generator.retries, "variants": variants}
    data["blind"] = blind
    Path(args.out).write_text(json.dumps(data, indent=1))
    print(f"{len(texts)} distinct sentences -> {args.out}")


def report(args) -> None:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    rows = [json.loads(line) for line in Path(args.candidates).read_text().splitlines()]
    clumsy = np.array([r["clumsy"] for r in rows], dtype=bool)
    fluency, score = (np.array([r[k] for r in rows]) for k in ("fluency", "score"))
    facts = defaultdict(list)
    for i, r in enumerate(rows):
        facts[(r["listener"], r["fact"], r["place"])].append(i)
    print(f"{len(rows)} candidates for {len(facts)} facts, {clumsy.sum()} clumsy")
    for name, s in (("fluency", fluency), ("fluency with the freshness bonus", score)):
        print(f"AUC of {name}, good against clumsy: {roc_auc_score(~clumsy, s):.3f}")
    print("\n| min_fluency | candidates kept | clumsy dropped | good dropped "
          "| facts left with a candidate | clumsy among their winners |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for floor in args.floors.split(","):
        keep = fluency >= float(floor)
        winners = [max(kept, key=score.__getitem__) for g in facts.values()
                   if (kept := [i for i in g if keep[i]])]  # fmt: skip
        print(
            f"| {floor} | {keep.mean():.0%} | {(~keep & clumsy).sum()}/{clumsy.sum()} "
            f"| {(~keep & ~clumsy).sum()}/{(~clumsy).sum()} | {len(winners)}/{len(facts)} "
            f"| {clumsy[winners].mean():.1%} |"
        )
    for path in args.delivered:
        data = json.loads(Path(path).read_text())
        bad = {b["text"] for b in data["blind"] if b["clumsy"]}
        print(f"\n{path.name}, {data['retries']} repair rounds: ", end="")
        print(f"{len(data['blind'])} sentences labelled blind, {len(bad)} clumsy")
        print("\n| min_fluency | fact sentences | clumsy | by the model | repaired |")
        print("| --- | --- | --- | --- | --- |")
        for floor, told in data["variants"].items():
            n, worse = len(told), sum(s["text"] in bad for s in told)
            model = sum(s["writer"] == "model" for s in told)
            repaired = sum(s["tries"] > 1 for s in told)
            print(f"| {floor} | {n} | {worse} ({worse / n:.1%}) | {model} | {repaired} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("candidates", help="every passing candidate, to label")
    c.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. generator.params.retries=3")
    c.add_argument("--limit", type=int, default=60, help="validation listeners")
    c.add_argument("--out", required=True)
    d = sub.add_parser("delivered", help="delivered sentences per floor, to label blind")
    d.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. generator.params.retries=3")
    d.add_argument("--limit", type=int, default=30, help="test listeners")
    d.add_argument("--floors", default="-inf,-0.7,-0.65")
    d.add_argument("--out", required=True)
    r = sub.add_parser("report", help="AUC and floors from labelled files")
    r.add_argument("--candidates", default=str(LABELS / "fluency_candidates.jsonl"))
    r.add_argument(
        "--delivered", nargs="*", type=Path, default=sorted(LABELS.glob("fluency_delivered*.json"))
    )
    r.add_argument("--floors", default="-0.9,-0.8,-0.75,-0.7,-0.65,-0.6,-0.55,-0.5")
    args = parser.parse_args()
    {"candidates": candidates, "delivered": delivered, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
