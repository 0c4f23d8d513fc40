"""Shared fixtures: tiny hand-written transaction files and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

HEADER = "order_id,customer_id,order_date,product_id,product_name,quantity,unit_price,country"
# Twelve lines whose fate is known by hand (see test_clean.py for each line's reason).
TINY_LINES = [
    "1001,A,2024-01-05 10:00:00,P1,MUG,2,5.00,United Kingdom",           # kept 10
    "1001,A,2024-01-05 10:00:00,P2,PLATE,1,20.00,United Kingdom",        # kept 20
    "1001,A,2024-01-05 10:00:00,P2,PLATE,1,20.00,United Kingdom",        # duplicate
    "1002,B,2024-02-10 09:00:00,P1,MUG,4,5.00,France",                   # kept 20
    "C1003,A,2024-02-11 09:00:00,P2,PLATE,-1,20.00,United Kingdom",      # cancellation (return 20)
    "1004,,2024-02-12 09:00:00,P1,MUG,1,5.00,United Kingdom",            # missing customer
    "1005,B,2024-03-01 12:00:00,POST,POSTAGE,1,15.00,France",            # non-product
    "1006,C,2024-03-02 12:00:00,P3,FREE GIFT,1,0,United Kingdom",        # non-positive price
    "1007,A,2024-03-05 08:00:00,P3,VASE,1,30.00,United Kingdom",         # kept 30
    "1008,C,not a date,P1,MUG,1,5.00,United Kingdom",                    # bad date
    "1009,C,2024-03-06 10:00:00,P1,MUG,x,5.00,United Kingdom",           # bad number
    "1010,B,2024-04-01 10:00:00,P1,MUG,2,5.00,France",                   # kept 10
]


@pytest.fixture
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    path.write_text("\n".join([HEADER, *TINY_LINES]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "online_retail.csv.gz").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (present in CI; absent in a fresh clone)")
    return SHARED_DATA


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run build_report.main in-process; returns (exit code, stdout, stderr)."""
    import contextlib
    import io

    import build_report

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = build_report.main(list(args))
    return code, out.getvalue(), err.getvalue()


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/golden/ from a fresh build of the golden data (review the diff, then commit it)")


# Spark in local mode, one session per test worker (tests/test_spark*.py)
@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    from analysis import engine

    session = (SparkSession.builder.master("local[2]").appName("segment-report-tests")
               .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    yield engine.spark_session("local[2]")  # the session above, with the build's settings
    session.stop()
