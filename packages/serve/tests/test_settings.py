"""The server's process settings for small requests (``serving_settings``)."""

from __future__ import annotations

import gc

import pytest
from linernotes_serve import create_app
from threadpoolctl import threadpool_info


def blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_a_running_server_freezes_its_pipeline_and_runs_blas_on_one_thread(
    tiny_pipeline, run_server
):
    before = blas_threads()
    if before == {1}:
        pytest.skip("BLAS runs on one thread here anyway (one core, or set so)")
    with run_server(create_app(tiny_pipeline)):
        assert blas_threads() == {1}
        tracked = {id(o) for o in gc.get_objects()}  # frozen objects are in no generation
        assert id(tiny_pipeline.catalog) not in tracked
        assert id(tiny_pipeline.ranker) not in tracked
    assert blas_threads() == before
