"""Spark against DuckDB on a sample of UCI Online Retail: the same report. Apart from
tests/test_spark.py so that the two longest Spark comparisons run on different test workers."""

from __future__ import annotations

import gzip

import pytest

from tests.conftest import SHARED_DATA
from tests.test_spark import UCI_SAMPLE_ROWS, assert_same_report, both, pytestmark  # noqa: F401


def test_spark_and_duckdb_give_the_same_report_on_a_sample_of_uci_online_retail(spark, tmp_path):
    source = SHARED_DATA / "online_retail.csv.gz"
    if not source.exists():
        pytest.skip(f"real data not found at {source} (present in CI; absent in a fresh clone)")
    path = tmp_path / "uci_sample.csv"
    with gzip.open(source, "rb") as src, open(path, "wb") as dst:
        for i, line in enumerate(src):
            if i > UCI_SAMPLE_ROWS:
                break
            dst.write(line)
    duck, spk = both(spark, path)
    assert duck.source.rows == UCI_SAMPLE_ROWS
    assert_same_report(duck, spk)
