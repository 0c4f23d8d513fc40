"""Work in a second process: the same result as in this one, errors raised here, and the build
computing it itself when the process cannot give it."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

from analysis.config import make_config
from analysis.pipeline import run_analysis
from analysis import worker
from analysis.worker import Worker
from data.generate_sample import generate, write_csv


def test_the_worker_returns_what_the_function_returns_computed_in_another_process():
    pid = Worker(os.getpid).result()
    assert pid != os.getpid()
    assert Worker(math.comb, 10, 3).result() == 120


def test_an_error_in_the_worker_is_raised_in_the_build():
    with pytest.raises(ValueError, match="math domain error"):
        Worker(math.sqrt, -1.0).result()


def test_a_result_that_cannot_be_sent_back_is_computed_here():
    started = Worker(_unpicklable)
    assert started.result()() == "made here"


def test_a_stopped_worker_leaves_the_build_to_compute_it():
    started = Worker(sum, [1, 2, 3])
    started.close()
    assert started.result() == 6


def _unpicklable():
    return lambda: "made here"


def test_a_build_with_its_models_in_workers_equals_one_without(monkeypatch, tmp_path):
    """The value models are fitted in a worker from worker.MIN_CUSTOMERS customers: a build of the
    same data with a worker for any number of customers gives the same customers table (every
    value column), value tables and figures."""
    path = tmp_path / "sample.csv"
    write_csv(generate(n_customers=500, seed=5)[0], path)
    inline = run_analysis(make_config(input=path, seed=3))
    started = []
    real = worker.Worker

    class Counted(real):
        def __init__(self, fn, *args):
            started.append(fn.__name__)
            super().__init__(fn, *args)

    monkeypatch.setattr(worker, "MIN_CUSTOMERS", 1)
    monkeypatch.setattr(worker, "Worker", Counted)
    workers = run_analysis(make_config(input=path, seed=3))
    assert started == ["customer_value"]
    pd.testing.assert_frame_equal(inline.tables["customers"], workers.tables["customers"])
    for name in ("segment_value", "value_distribution", "alive_threshold", "holdout", "holdout_comparison"):
        pd.testing.assert_frame_equal(inline.tables[name], workers.tables[name])
    assert repr(inline.value) == repr(workers.value)


def test_a_build_that_fails_stops_its_workers(monkeypatch, tmp_path):
    """The CLI exits without the interpreter's teardown (which would stop daemon processes), so the
    build stops its own workers when it fails or is interrupted."""
    from analysis.studies import validation

    path = tmp_path / "sample.csv"
    write_csv(generate(n_customers=300, seed=2)[0], path)
    started = []
    real = worker.Worker

    class Kept(real):
        def __init__(self, fn, *args):
            super().__init__(fn, *args)
            started.append(self._process)

    monkeypatch.setattr(worker, "MIN_CUSTOMERS", 1)
    monkeypatch.setattr(worker, "Worker", Kept)

    def broken(*args, **kwargs):  # the validation stage runs before the value models are awaited
        raise RuntimeError("a stage failed")

    monkeypatch.setattr(validation, "validation_tables", broken)
    with pytest.raises(RuntimeError, match="a stage failed"):
        run_analysis(make_config(input=path, seed=3))
    assert len(started) == 1 and not started[0].is_alive()
    assert not list(worker._RUNNING)
