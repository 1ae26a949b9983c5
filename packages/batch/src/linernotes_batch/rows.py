"""The output tables: one row per job served, one dead-letter row per job that failed.

A job is a listener in a context (:mod:`linernotes_batch.listeners`); ``job`` is its id.
"""

from __future__ import annotations

import json
from functools import cache

from linernotes import to_json

from .listeners import CONTEXT, parse_job

STAGES = ("retrieve", "rank", "ground", "screen", "generate", "safety", "fallback", "fit")
"""The timing fields: the pipeline's stages (seconds for the listener's whole batch) and
``fit``, the seconds it took to fit the pipeline once."""


@cache
def result_schema():
    """The Parquet schema of the results: one row per job."""
    import pyarrow as pa

    source = pa.struct([("retriever", pa.string()), ("score", pa.float64())])
    pick = pa.struct(
        [
            ("rank", pa.int32()),
            ("item_id", pa.string()),
            ("name", pa.string()),
            ("score", pa.float64()),
            ("sources", pa.list_(source)),
        ]
    )
    citation = pa.struct([("n", pa.int32()), ("fact_id", pa.string()), ("fact", pa.string())])
    draft = pa.struct(
        [
            ("draft", pa.int32()),
            ("text", pa.string()),
            ("generator", pa.string()),
            ("fallback", pa.bool_()),
            ("passed", pa.bool_()),
        ]
    )
    verdict = pa.struct(
        [
            ("draft", pa.int32()),
            ("filter", pa.string()),
            ("action", pa.string()),
            ("reasons", pa.list_(pa.string())),
        ]
    )
    return pa.schema(
        [
            ("run_id", pa.string()),
            ("job", pa.string()),
            ("listener", pa.string()),
            ("context", pa.struct([(f, pa.string()) for f in CONTEXT])),
            ("k", pa.int32()),
            ("request_id", pa.string()),
            ("picks", pa.list_(pick)),
            ("story_id", pa.string()),
            ("story", pa.string()),
            ("generator", pa.string()),
            ("fallback", pa.bool_()),
            ("citations", pa.list_(citation)),
            ("drafts", pa.list_(draft)),
            ("verdicts", pa.list_(verdict)),
            ("blocked_drafts", pa.int32()),
            ("events", pa.list_(pa.string())),
            ("model", pa.string()),
            ("config_id", pa.string()),
            ("components", pa.string()),
            ("timings", pa.struct([(s, pa.float64()) for s in STAGES])),
            ("batch_size", pa.int32()),
            ("result", pa.string()),
        ]
    )


@cache
def dead_letter_schema():
    """The Parquet schema of the dead-letter output: the job, its listener, the stage and
    the error."""
    import pyarrow as pa

    return pa.schema(
        [
            ("run_id", pa.string()),
            ("job", pa.string()),
            ("listener", pa.string()),
            ("stage", pa.string()),
            ("error", pa.string()),
        ]
    )


def result_row(result, job: str, run_id: str, model: str | None, batch_size: int) -> dict:
    """Job ``job``'s :class:`linernotes.Result` as a row of :func:`result_schema`.

    ``context`` and ``k`` are the request's (the context normalised, the seed an item id),
    as the server keys a stored story; ``drafts`` holds every draft reviewed (the
    fallback's too) and ``verdicts`` every filter's verdict on each, by the draft's index;
    ``components`` is JSON; ``result`` is the whole result as ``linernotes.to_json`` gives it.
    """
    story = result.story
    facts = {f.id: f.text for f in result.facts.facts}
    request = result.request
    return {
        "run_id": run_id,
        "job": job,
        "listener": request.listener.id,
        "context": {f: getattr(request.context, f) for f in CONTEXT},
        "k": request.k,
        "request_id": request.id,
        "picks": [
            {
                "rank": n,
                "item_id": p.item.id,
                "name": p.item.name,
                "score": float(p.score),
                "sources": [{"retriever": k, "score": float(v)} for k, v in p.sources.items()],
            }
            for n, p in enumerate(result.picks, 1)
        ],
        "story_id": story.id if story else None,
        "story": story.text if story else None,
        "generator": story.generator if story else None,
        "fallback": result.trace.fallback,
        "citations": [
            {"n": n, "fact_id": fact_id, "fact": facts.get(fact_id)}
            for n, fact_id in sorted(story.citations.items())
        ]
        if story
        else [],
        "drafts": [
            {
                "draft": i,
                "text": r.draft.text,
                "generator": r.draft.generator,
                "fallback": r.fallback,
                "passed": r.passed,
            }
            for i, r in enumerate(result.reviews)
        ],
        "verdicts": [
            {"draft": i, "filter": v.filter, "action": v.action, "reasons": list(v.reasons)}
            for i, r in enumerate(result.reviews)
            for v in r.verdicts
        ],
        "blocked_drafts": sum(not r.passed for r in result.reviews),
        "events": list(result.trace.events),
        "model": model,
        "config_id": result.trace.config_id,
        "components": json.dumps(result.trace.components, sort_keys=True),
        "timings": {s: result.trace.timings.get(s) for s in STAGES},
        "batch_size": batch_size,
        "result": to_json(result),
    }


def dead_row(run_id: str, job: str, stage: str, error: BaseException) -> dict:
    """A dead-letter row of :func:`dead_letter_schema`: the error as ``Type: message``."""
    message = " ".join(str(error).split())
    return {
        "run_id": run_id,
        "job": job,
        "listener": parse_job(job)[0],
        "stage": stage,
        "error": f"{type(error).__name__}: {message}",
    }


def to_table(rows: list[dict], schema):
    """A pyarrow table of ``rows`` with ``schema``."""
    import pyarrow as pa

    return pa.Table.from_pylist(rows, schema=schema)
