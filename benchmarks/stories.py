"""Story ablation: one row per way of writing the story, on the same test-split listeners.

    uv run python benchmarks/stories.py                        # 200 listeners, every row
    uv run python benchmarks/stories.py --listeners 48 --rows template,planned

Each row runs ``linernotes eval stories`` (half the listeners get a seeded
context) with the row's overrides and prints the goal measures of the story
issue as one Markdown table, with the generate time per listener (batch of 16)
and the machine's load average, since timings depend on what else runs.
"""

from __future__ import annotations

import argparse
import os

ROWS = {
    "template": ["generator=template"],
    "transformers": ["generator=transformers"],
    "planned-1-sample": ["generator.params.samples=1", "generator.params.retries=0"],
    "planned-no-repair": ["generator.params.retries=0"],
    "planned": [],
}
COLUMNS = {
    "model-written": "model_written_rate",
    "model sentences": "model_sentence_share",
    "grounded (re-checked)": "delivered_grounded_rate",
    "picks named": "picks_named_mean",
    "context mentioned": "context_mention_rate",
    "novelty": "novelty_median",
    "distinct-2": "distinct_2",
    "top opening": "top_opening_share",
    "words": "mean_words",
    "3-5 sentences, 40-100 words": "length_ok_rate",
}


def main() -> None:
    from linernotes.evaluation.stories import evaluate_stories

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=200)
    parser.add_argument("--context-share", type=float, default=0.5)
    parser.add_argument(
        "--rows", default=",".join(ROWS), help="comma-separated: " + ", ".join(ROWS)
    )
    args = parser.parse_args()
    header = ["row", *COLUMNS, "generate s/listener"]
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for row in args.rows.split(","):
        r = evaluate_stories(
            ROWS[row], limit=args.listeners, context_share=args.context_share, progress=False
        ).to_dict()
        cells = [f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k]) for k in COLUMNS.values()]
        generate = r["latency_ms_per_listener"].get("generate", 0) / 1000
        print(f"| {row} | " + " | ".join(cells) + f" | {generate:.2f} |", flush=True)
    print(f"\nload average after the run: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
