"""Spark against DuckDB at a million lines: the same customers table, segments and ledger. Apart
from tests/test_spark.py so that the Spark comparisons spread over the test workers."""

from __future__ import annotations

from data.generate_sample import generate, write_csv
from tests.test_spark import assert_same_report, both, pytestmark  # noqa: F401

CUSTOMERS = 11_800   # about a million lines from the sample's generator


def test_spark_and_duckdb_give_the_same_customers_segments_and_ledger_at_a_million_lines(spark, tmp_path):
    path = tmp_path / "million.csv"
    write_csv(generate(n_customers=CUSTOMERS, seed=23)[0], path)
    duck, spk = both(spark, path, seed=1)
    assert duck.source.rows >= 1_000_000
    assert_same_report(duck, spk)
    # a build this size fits the value models in a second process on both engines (analysis.worker)
    assert repr(duck.value.purchase_model) == repr(spk.value.purchase_model)  # (repr: NaN errors)
