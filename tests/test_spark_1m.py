"""Spark against DuckDB at a million lines: the same row ledger, customers table and segments.
The transaction-level stages run on each engine (reading, cleaning, returns, the per-customer
features) and the segments are made from each engine's customers table; the later studies are
compared on smaller files in tests/test_spark.py, which keeps this file to a few minutes. Apart
from it so that the Spark comparisons spread over the test workers."""

from __future__ import annotations

import ibis
import pandas as pd

from analysis import engine
from analysis.customers import cluster, features, rfm
from analysis.engine import rollups
from analysis.read import returns
from analysis.read.clean import clean
from analysis.read.source import open_source
from analysis.schema import detect_columns
from data.generate_sample import generate, write_csv
from tests.test_spark import assert_same_customers, pytestmark  # noqa: F401

CUSTOMERS = 11_800   # about a million lines from the sample's generator


def customers_on(con, path, workdir):
    """(ledger, customers with RFM segments and clusters) as a build makes them on `con`."""
    src = open_source(path, con, workdir=workdir)
    cleaned = clean(src.table, detect_columns(list(src.columns), {}), con, shown=str(path), as_of=None,
                    head=src.head, workdir=workdir)
    netted = returns.net_of_returns(cleaned, con)
    rollups.store(con, netted.lines)
    customers = features.customer_features(netted.lines, netted.customer_returns, cleaned.as_of)
    scores, _ = rfm.rfm_scores(customers)
    customers = customers.join(scores)
    customers["rfm_segment"] = rfm.assign_segments(scores)
    customers["cluster"] = cluster.choose_clusters(customers, seed=1).labels
    rollups.forget()
    return cleaned.ledger, customers


def test_spark_and_duckdb_give_the_same_ledger_customers_and_segments_at_a_million_lines(spark, tmp_path):
    path = tmp_path / "million.csv"
    write_csv(generate(n_customers=CUSTOMERS, seed=23)[0], path)
    (tmp_path / "duck").mkdir()
    (tmp_path / "spark").mkdir()
    duck_ledger, duck = customers_on(engine.duckdb_connect(tmp_path / "duck"), path, tmp_path / "duck")
    spark_ledger, spk = customers_on(ibis.pyspark.connect(spark), path, tmp_path / "spark")
    assert int(duck_ledger["rows"].sum()) >= 1_000_000
    pd.testing.assert_frame_equal(duck_ledger, spark_ledger)
    assert len(duck) > 10_000
    assert_same_customers(duck, spk)
