"""Read a batch run's output with polars, and summarise it: counts, failures, exactly-once."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from linernotes.errors import DataError

from .batches import DEAD_LETTER
from .job import MANIFEST, requested_listeners
from .rows import STAGES, dead_letter_schema, result_schema
from .store import Store


def read_results(run: str):
    """The run folder's result shards as one polars DataFrame, one row per job."""
    import polars as pl

    return pl.from_arrow(Store(run).read_table(result_schema()))


def read_dead_letter(run: str):
    """The run folder's dead-letter shards as one polars DataFrame: job, listener, stage, error."""
    import polars as pl

    return pl.from_arrow(Store(run).child(DEAD_LETTER).read_table(dead_letter_schema()))


@dataclass
class Summary:
    """What a run folder holds, and whether every job asked for is there exactly once.

    ``stage_seconds`` are each stage's seconds per listener (a batch's stage time over
    its size; fitting the pipeline left out);
    ``failures`` counts dead-letter rows per stage; ``examples`` are the first of them.
    """

    run_id: str
    path: str
    config_id: str
    created: str
    requested: int
    results: int
    dead_letter: int
    missing: int
    duplicates: int
    stories: int
    fallbacks: int
    no_story: int
    blocked_drafts: int
    shards: int
    generators: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every job asked for is in the output or the dead letter, exactly once."""
        return self.missing == 0 and self.duplicates == 0

    def to_dict(self) -> dict:
        return {**asdict(self), "complete": self.complete}


def find_runs(path: str) -> list[Store]:
    """The run folders at ``path``: the folder itself if it is a run, else its runs."""
    store = Store(path)
    if store.read_bytes(MANIFEST) is not None:
        return [store]
    runs = [store.child(n) for n in store.folders()]
    runs = [r for r in runs if r.read_bytes(MANIFEST) is not None]
    if not runs:
        raise DataError(f"no batch run in {path} (a run folder holds {MANIFEST})")
    return runs


def summarize(path: str) -> list[Summary]:
    """One :class:`Summary` per run folder at ``path`` (a run folder or an output folder)."""
    return [_summarize(run) for run in find_runs(path)]


def _summarize(run: Store) -> Summary:
    import polars as pl

    manifest = json.loads(run.read_bytes(MANIFEST))
    results, dead = read_results(run.uri), read_dead_letter(run.uri)
    seen = pl.concat([results.select("job"), dead.select("job")])
    requested = requested_listeners(run)
    per_stage = results.select(
        (pl.col("timings").struct.field(s) / pl.col("batch_size")).mean().alias(s)
        for s in STAGES
        if s != "fit"
    )
    means = per_stage.row(0, named=True) if results.height else {}
    return Summary(
        run_id=manifest["run_id"],
        path=run.uri,
        config_id=manifest["config_id"],
        created=manifest["created"],
        requested=len(requested),
        results=results.height,
        dead_letter=dead.height,
        missing=len(set(requested) - set(seen["job"].to_list())),
        duplicates=seen.height - seen["job"].n_unique(),
        stories=results["story"].is_not_null().sum(),
        fallbacks=results["fallback"].sum(),
        no_story=results["story"].is_null().sum(),
        blocked_drafts=results["blocked_drafts"].sum(),
        shards=len(run.files()) + len(run.child(DEAD_LETTER).files()),
        generators=_counts(results.drop_nulls("generator"), "generator"),
        failures=_counts(dead, "stage"),
        stage_seconds={s: round(v, 6) for s, v in means.items() if v is not None},
        examples=dead.head(5).select("job", "stage", "error").to_dicts(),
    )


def _counts(frame, column: str) -> dict[str, int]:
    rows = frame.group_by(column).len().sort(column).iter_rows()
    return {key: count for key, count in rows}
