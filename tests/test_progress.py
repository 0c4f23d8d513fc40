"""The build's progress: stage notifications from the pipeline and the console bar."""

from __future__ import annotations

import pytest

from analysis.config import make_config
from analysis.pipeline import STAGES, run_analysis
from data.generate_sample import generate, write_csv
from report.progress import StageBar


class Recorder:
    def __init__(self):
        self.events = []

    def start(self, stage):
        self.events.append(("start", stage))

    def __call__(self, stage, seconds):
        assert seconds >= 0
        self.events.append(("done", stage))


@pytest.mark.slow
def test_pipeline_announces_each_stage_before_and_after_it_runs(tmp_path):
    tx, _ = generate(n_customers=200, seed=3)
    path = tmp_path / "tx.csv"
    write_csv(tx, path)
    recorder = Recorder()
    run_analysis(make_config(input=str(path), output=str(tmp_path / "site")), progress=recorder)
    expected = [event for stage in STAGES for event in (("start", stage), ("done", stage))]
    assert recorder.events == expected


def test_plain_progress_lines_go_to_the_callback_when_not_a_terminal():
    said = []
    bar = StageBar(("read", "clean"), said.append, enabled=False)
    bar.start("read")
    bar("read", 1.25)
    bar.start("clean")
    bar("clean", 0.5)
    bar.close()
    assert said == ["  read         1.25 s", "  clean        0.50 s"]


def test_terminal_bar_shows_the_running_stage_and_the_count(capsys, monkeypatch):
    said = []
    bar = StageBar(("read", "clean"), said.append, enabled=True)
    bar.start("clean")
    bar("read", 0.1)
    bar("clean", 0.2)
    bar("site", 0.3)  # one more than announced still counts
    bar.close()
    err = capsys.readouterr().err
    assert "clean ..." in err
    assert "3/3 stages" in err
    assert "  site         0.30 s" in err
    assert said == []  # in a terminal the lines are written above the bar, not printed twice
