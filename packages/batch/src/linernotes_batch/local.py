"""The ``local`` executor: the pipeline in this process, batch after batch, with a progress bar."""

from __future__ import annotations

from .batches import Counts, Storyteller, write_dead_letter, write_results
from .executors import LocalParams


def run_local(plan, params: LocalParams, progress: bool = True) -> Counts:
    """Serve ``plan.pending`` in batches of ``params.batch_size``; each batch's shards are
    written before the next batch starts, so a killed run loses at most one batch."""
    from linernotes.pipeline import Pipeline
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    pipeline = Pipeline.from_config(plan.cfg, progress=progress)
    teller = Storyteller(pipeline, plan.run_id, plan.model)
    pending = plan.pending
    counts = Counts()
    columns = (
        TextColumn("stories"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failures]} failed"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), disable=not progress) as bar:
        task = bar.add_task("stories", total=len(pending), failures=0)
        for start in range(0, len(pending), params.batch_size):
            batch = pending[start : start + params.batch_size]
            output = teller.tell(batch)
            write_results(plan.store, output.rows)
            write_dead_letter(plan.store, output.dead)
            counts += output.counts
            bar.update(task, advance=len(batch), failures=counts.failures)
    return counts
