"""Smoke test of benchmarks/bench_build.py at a tiny size: it runs end to end and reports.

No timing assertions: a benchmark reports, and tests never fail on a slow machine.
"""

from __future__ import annotations

import importlib.util
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SCRIPT = PROJECT / "benchmarks" / "bench_build.py"

_spec = importlib.util.spec_from_file_location("bench_build", SCRIPT)
bench_build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_build)


@pytest.mark.parametrize("text, expected", [("20k", ("20k", 20_000)), ("1M", ("1M", 1_000_000)),
                                            ("1.5m", ("1.5M", 1_500_000)), ("20000", ("20000", 20_000))])
def test_parse_size(text, expected):
    assert bench_build.parse_size(text) == expected


def test_run_child_reports_wall_time_and_peak_rss_of_that_child():
    # Each child's own peak, not a running maximum over children (RUSAGE_CHILDREN would be).
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    size = int((parent_mb + 300) * 1e6)
    big = bench_build.run_child([sys.executable, "-c", f"b = bytearray({size}); b[::4096] = b'x' * len(b[::4096])"],
                                timeout=60)
    small = bench_build.run_child([sys.executable, "-c", "pass"], timeout=60)
    assert small["rc"] == big["rc"] == 0 and small["wall_s"] > 0
    assert big["peak_rss_mb"] > parent_mb + 250 and not big["rss_bounded_by_parent"]
    assert small["peak_rss_mb"] < big["peak_rss_mb"] - 250


def test_run_child_stops_a_child_at_the_timeout():
    res = bench_build.run_child([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert res["timed_out"] and res["rc"] != 0 and res["wall_s"] < 10


def test_benchmark_smoke(tmp_path: Path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "20k", "--out", str(tmp_path)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "floor (DuckDB alone)" in out
    assert "full build (build_report.py)" in out
    assert "ratio full/floor:" in out
    assert "target largest HTML page" in out and "target build_report.py --help" in out

    result = json.loads((tmp_path / "results-20k.json").read_text())
    assert result["errors"] == []
    assert result["lines"] > 10_000 and result["file_mb"] > 0
    for step in ("floor", "build", "stages"):
        assert result["steps"][step]["wall_s"] > 0 and result["steps"][step]["peak_rss_mb"] > 0
    assert result["steps"]["floor"]["customers"] == result["customers"]  # every generated customer buys
    assert set(result["steps"]["stages"]["timings"]) >= set(bench_build.STAGES)
    assert result["ratio_full_to_floor"] > 0
    assert result["site"]["largest_page_bytes"] > 0

    # The data is generated once and cached: a second run reuses the same file.
    csv = tmp_path / "transactions-20k.csv"
    before = csv.stat().st_mtime_ns
    path, meta = bench_build.ensure_data(tmp_path, "20k", 20_000, timeout=60, log=lambda m: None)
    assert meta["cached"] and path == csv and csv.stat().st_mtime_ns == before
