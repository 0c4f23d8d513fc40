"""Spark gives the same report as DuckDB: customers table, row ledger and segment assignments.

Runs Spark in local mode (local[2], 4 shuffle partitions, no UI) in one session shared by every
test here. Skipped when pyspark or Java is missing (pip install -r requirements-spark.txt);
the real-data test also needs ../shared/data/online_retail.csv.gz.
"""

from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pandas as pd
import pytest

from analysis.read.clean import clean
from analysis.config import make_config
from analysis.pipeline import run_analysis
from analysis.schema import detect_columns
from analysis.read.source import open_source
from data.generate_sample import generate, write_csv
from tests.conftest import HEADER, TINY_LINES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None,
                       reason="pyspark not installed (pip install -r requirements-spark.txt)"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Java not found (Spark needs Java 17)"),
]
UCI_SAMPLE_ROWS = 30_000


def both(spark, path, **options):
    """The analysis of `path` on DuckDB and on Spark."""
    return (run_analysis(make_config(input=path, **options)),
            run_analysis(make_config(input=path, engine="spark", **options)))


def assert_same_customers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """The same customers in the same order, every column equal (floats within 1e-9)."""
    assert list(a["customer_id"]) == list(b["customer_id"])
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_float_dtype(x):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=1e-9, atol=1e-9,
                                       equal_nan=True, err_msg=col)
        else:
            assert x.astype("string").fillna("<NA>").tolist() == y.astype("string").fillna("<NA>").tolist(), col


def assert_same_report(duck, spk):
    """Same customers (every column, floats within 1e-9), ledger and segment assignments."""
    a, b = duck.tables["customers"], spk.tables["customers"]
    assert_same_customers(a, b)
    assert (a["rfm_segment"] == b["rfm_segment"]).all() and (a["cluster"] == b["cluster"]).all()
    assert (a["cluster_name"] == b["cluster_name"]).all()
    pd.testing.assert_frame_equal(duck.tables["ledger"], spk.tables["ledger"])
    assert duck.source.rows == spk.source.rows and duck.source.columns == spk.source.columns


def test_spark_and_duckdb_give_the_same_customers_ledger_and_segments_on_generated_data(spark, tmp_path):
    path = tmp_path / "generated.csv"
    write_csv(generate(n_customers=600, seed=11)[0], path)
    duck, spk = both(spark, path, seed=1)
    assert_same_report(duck, spk)
    # the rest of the report follows from these; spot-check the engine-computed tables too
    for name in ("monthly", "cohorts", "segment_products", "new_vs_returning"):
        pd.testing.assert_frame_equal(duck.tables[name], spk.tables[name], check_dtype=False, rtol=1e-9)
    assert spk.headline["revenue"] == pytest.approx(duck.headline["revenue"], rel=1e-12)
    # summary.json says which engine did the work
    assert duck.engine == {"name": "duckdb"}
    assert spk.engine["name"] == "spark" and spk.engine["master"].startswith("local") and spk.engine["version"]
    # shuffles sized from the input: a small file gets two partitions per core (local[2])
    assert spk.engine["shuffle_partitions"] == "4" == spark.conf.get("spark.sql.shuffle.partitions")


def _clean_on(con, path, **options):
    src = open_source(path, con)
    cleaned = clean(src.table, detect_columns(list(src.columns), {}), con, shown=str(path), as_of=None,
                    head=src.head, **options)
    kept = cleaned.lines.execute().sort_values(["order_id", "product_id", "order_ts", "quantity"], kind="stable")
    return cleaned, kept.reset_index(drop=True)


@pytest.mark.parametrize("dates", [
    ["2024-01-05 10:00:00", "2024-02-10T09:00:00Z", "2024-02-11 09:00:00.123+01:00", "not a date"],
    ["1/5/2024 10:00", "2/10/2024 9:00", "12/11/2024 9:00", "13/45/2024 9:00"],
    ["05.01.2024", "10.02.2024", "11.02.2024", "31.02.2024"],
    ["20240105", "20240210", "20240211", "2024"],
    ["1704448800", "1707555600", "1707642000", "x"],
])
def test_both_engines_read_the_same_dates_and_drop_the_same_rows(spark, tmp_path, dates):
    import ibis

    lines = [f"{i},{'AB'[i % 2]},{d},P{i},ITEM {i},\"{q}\",1{i}.50,UK"
             for i, (d, q) in enumerate(zip(dates[:3] * 4 + dates[3:], ["2", "1,000", "3", "-1"] * 4))]
    path = tmp_path / "dates.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    duck, duck_kept = _clean_on(ibis.duckdb.connect(), path)
    spk, spk_kept = _clean_on(ibis.pyspark.connect(spark), path)
    pd.testing.assert_frame_equal(duck.ledger, spk.ledger)
    assert duck.date_format == spk.date_format and duck.warnings == spk.warnings
    pd.testing.assert_frame_equal(duck_kept, spk_kept, check_dtype=False)


def test_every_ledger_reason_of_the_hand_made_file_is_the_same_on_both_engines(spark, tiny_csv):
    import ibis

    duck, duck_kept = _clean_on(ibis.duckdb.connect(), tiny_csv)
    spk, spk_kept = _clean_on(ibis.pyspark.connect(spark), tiny_csv)
    pd.testing.assert_frame_equal(duck.ledger, spk.ledger)
    assert spk.ledger.set_index("reason")["rows"].gt(0).sum() == 8  # kept and seven reasons
    assert duck.warnings == spk.warnings
    pd.testing.assert_frame_equal(duck_kept, spk_kept, check_dtype=False)


def test_parquet_keeps_its_types_on_spark_and_gives_the_same_lines(spark, tmp_path):
    import ibis

    df = pd.DataFrame({"order_id": ["1", "2", "2", "C3"], "customer_id": ["A", "B", "B", "A"],
                       "order_date": pd.to_datetime(["2024-01-05 10:00", "2024-02-01 00:00", "2024-02-01 00:00", "2024-03-01 00:00"]),
                       "quantity": [2, 1, 1, -1], "unit_price": [5.0, 20.0, 20.0, 5.0]})
    path = tmp_path / "typed.parquet"
    df.to_parquet(path)
    con = ibis.pyspark.connect(spark)
    assert open_source(path, con).table.schema()["quantity"].is_integer()
    duck, duck_kept = _clean_on(ibis.duckdb.connect(), path)
    spk, spk_kept = _clean_on(con, path)
    pd.testing.assert_frame_equal(duck.ledger, spk.ledger)
    pd.testing.assert_frame_equal(duck_kept, spk_kept, check_dtype=False)


def test_a_folder_of_parquet_parts_is_read_on_spark_as_on_duckdb(spark, tmp_path):
    # Ibis's read_parquet took one path on Spark: a list of parts failed as a malformed glob
    import ibis

    df, _ = generate(150, seed=4)
    folder = tmp_path / "parts.parquet"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(df)), 3)):
        df.iloc[part].to_parquet(folder / f"part-{i}.parquet", index=False)
    src = open_source(folder, ibis.pyspark.connect(spark))
    assert src.format == "parquet (3 files)" and src.head is not None
    duck, duck_kept = _clean_on(ibis.duckdb.connect(), folder)
    spk, spk_kept = _clean_on(ibis.pyspark.connect(spark), folder)
    assert duck.ledger["rows"].sum() == len(df)
    pd.testing.assert_frame_equal(duck.ledger, spk.ledger)
    pd.testing.assert_frame_equal(duck_kept, spk_kept, check_dtype=False)


def test_a_spark_table_can_be_the_input(spark, tmp_path):
    import ibis

    path = tmp_path / "tiny.csv"
    path.write_text("\n".join([HEADER, *TINY_LINES]) + "\n", encoding="utf-8")
    spark.read.csv(str(path), header=True).createOrReplaceTempView("orders_for_test")
    src = open_source("orders_for_test", ibis.pyspark.connect(spark))
    assert src.format == "table (spark)" and "customer_id" in src.columns


def test_the_date_format_sample_is_the_first_files_first_rows_on_both_engines(spark, tmp_path):
    """Spark orders a read's parts by size, so an unordered sample of several files took the larger
    file's rows there and the first file's on DuckDB: here, d/m dates against ambiguous ones."""
    import ibis

    from analysis.read import parse

    folder = tmp_path / "parts"
    folder.mkdir()
    day_first = [f"{i},A,25/12/2023 10:00,P{i},ITEM,1,2.50,UK" for i in range(5)]
    ambiguous = [f"{100 + i},B,0{1 + i % 9}/0{1 + i % 3}/2024 10:00,P{i},ITEM,1,2.50,UK"
                 for i in range(parse.SAMPLE + 1000)]  # more than a sample: Spark's unordered one held only these
    (folder / "a.csv").write_text("\n".join([HEADER, *day_first]) + "\n", encoding="utf-8")
    (folder / "b.csv").write_text("\n".join([HEADER, *ambiguous]) + "\n", encoding="utf-8")
    duck, _ = _clean_on(ibis.duckdb.connect(), folder)
    spk, _ = _clean_on(ibis.pyspark.connect(spark), folder)
    assert duck.date_format == spk.date_format and duck.date_format.startswith("%d/%m")
    assert duck.warnings == spk.warnings
    pd.testing.assert_frame_equal(duck.ledger, spk.ledger)


def test_a_collect_larger_than_the_drivers_limit_is_refused_before_it_runs(spark, monkeypatch):
    import ibis

    from analysis import engine
    from analysis.engine import driver
    from analysis.errors import DataError

    con = ibis.pyspark.connect(spark)
    spark.range(1000).selectExpr("id", "cast(id as string) as customer_id").createOrReplaceTempView("driver_rows")
    rows = con.table("driver_rows")
    assert len(engine.execute(rows)) == 1000  # under Spark's default limit (1g)
    monkeypatch.setattr(driver, "result_limit", lambda session: 20_000.0)
    with pytest.raises(DataError, match="spark.driver.maxResultSize") as caught:
        engine.execute(rows)
    assert "1,000 rows" in str(caught.value) and "PYSPARK_SUBMIT_ARGS" in caught.value.fix
    assert len(engine.execute(rows.limit(10))) == 10  # a small result still passes
