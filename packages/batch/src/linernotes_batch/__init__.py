"""linernotes-batch: the linernotes pipeline over many listeners, locally or on Apache Beam.

Resumable and exactly once: every listener asked for ends up in one result row or
one dead-letter row of the run folder. From Python::

    from linernotes_batch import read_results, run_batch, summarize

    report = run_batch(["generator=template", "executor=beam"], listeners="ids.txt", out="out")
    stories = read_results(report.path)     # a polars DataFrame, one row per listener
    print(summarize(report.path)[0].complete)

Heavy libraries (polars, Beam, the pipeline's models) load inside the functions.
"""

from .job import RunReport, run_batch
from .summary import Summary, read_dead_letter, read_results, summarize

__all__ = ["RunReport", "Summary", "read_dead_letter", "read_results", "run_batch", "summarize"]
