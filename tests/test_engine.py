"""Engine selection and inputs beyond files: --engine, connection URLs, the missing-pyspark message.

None of these need Spark (tests/test_spark.py compares the engines).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis.config import display_path, make_config
from analysis.errors import DataError
from analysis.pipeline import run_analysis
from data.generate_sample import generate, write_csv
from tests.conftest import run_cli

PROJECT = Path(__file__).resolve().parent.parent


def test_asking_for_spark_without_pyspark_says_how_to_install_it(tiny_csv, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark now raises ImportError
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    code, _out, err = run_cli("--input", str(tiny_csv), "--engine", "spark", "--output", str(tmp_path / "site"),
                              "--quiet")
    assert code == 2
    assert "needs pyspark" in err and "pip install -r requirements-spark.txt" in err
    assert "Traceback" not in err and not (tmp_path / "site").exists()


def test_the_default_build_never_imports_pyspark():
    code = ("import sys, build_report, analysis.pipeline, analysis.engine, analysis.read.clean; "
            "build_report.parser().parse_args([]); print('pyspark' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_an_unknown_engine_is_a_config_error():
    from analysis.errors import ConfigError

    with pytest.raises(ConfigError, match="--engine must be duckdb or spark"):
        make_config(engine="polars")


@pytest.fixture(scope="module")
def orders_db(tmp_path_factory):
    """A DuckDB database file holding generated transactions as table `orders`, and the CSV."""
    folder = tmp_path_factory.mktemp("warehouse")
    csv = folder / "orders.csv"
    write_csv(generate(n_customers=300, seed=5)[0], csv)
    db = folder / "shop.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{csv}', all_varchar=true)")
        con.execute("CREATE SCHEMA sales; CREATE TABLE sales.orders AS SELECT * FROM orders")
    return db, csv


@pytest.mark.slow
def test_a_table_in_a_duckdb_file_gives_the_same_report_as_the_file(orders_db):
    db, csv = orders_db
    before = db.stat().st_mtime_ns
    from_table = run_analysis(make_config(input=f"duckdb:///{db}?table=orders"))
    from_file = run_analysis(make_config(input=csv))
    a, b = from_file.tables["customers"], from_table.tables["customers"]
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(from_file.tables["ledger"], from_table.tables["ledger"])
    assert from_table.source.format == "table (duckdb)"
    assert db.stat().st_mtime_ns == before  # read-only: nothing written to the user's database
    with duckdb.connect(str(db), read_only=True) as con:
        assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["orders"]
    # a schema-qualified name reads the table in that schema
    in_schema = run_analysis(make_config(input=f"duckdb:///{db}?table=sales.orders"))
    pd.testing.assert_frame_equal(a, in_schema.tables["customers"])


@pytest.mark.slow
def test_typed_warehouse_columns_give_the_same_customers_within_float_tolerance(orders_db, tmp_path):
    db, csv = orders_db
    typed = tmp_path / "typed.duckdb"
    with duckdb.connect(str(typed)) as con:
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{csv}')")  # timestamps, doubles
    a = run_analysis(make_config(input=csv)).tables["customers"]
    b = run_analysis(make_config(input=f"duckdb:///{typed}?table=orders")).tables["customers"]
    assert list(a["customer_id"]) == list(b["customer_id"])
    assert (a["rfm_segment"] == b["rfm_segment"]).all()
    np.testing.assert_allclose(a["monetary"], b["monetary"], rtol=1e-9)


@pytest.mark.parametrize("url, problem", [
    ("duckdb:///{db}", "connection URL names no table"),
    ("duckdb:///{db}?table=nope", "table 'nope' could not be read"),
    ("duckdb:///{db}?table=nope.orders", "table 'nope.orders' could not be read"),
    ("duckdb:///{missing}?table=orders", "database file not found"),
])
def test_a_bad_connection_url_is_one_clear_error(orders_db, tmp_path, url, problem):
    db, _csv = orders_db
    code, _out, err = run_cli("--input", url.format(db=db, missing=tmp_path / "missing.duckdb"),
                              "--output", str(tmp_path / "site"), "--quiet")
    assert code == 2 and problem in err and "Traceback" not in err


def test_a_password_in_a_connection_url_is_never_shown():
    shown = display_path("postgres://analyst:s3cret@db.example.com:5432/shop?table=orders")
    assert "s3cret" not in shown and shown == "postgres://analyst:***@db.example.com:5432/shop?table=orders"


def test_a_connection_url_is_kept_as_given_not_as_a_path():
    config = make_config(input="duckdb:///data/shop.duckdb?table=orders")
    assert config.input == "duckdb:///data/shop.duckdb?table=orders"
    assert config.as_dict()["input"] == "duckdb:///data/shop.duckdb?table=orders"
    assert "engine" not in config.as_dict()  # the same report whatever the engine


def test_an_unreadable_url_backend_is_a_data_error():
    from analysis.read.source import connect_url

    with pytest.raises(DataError, match="could not connect"):
        connect_url("nosuchbackend://host/db?table=orders", "nosuchbackend://host/db")


# --- background queries -----------------------------------------------------------------------

def _stored_lines(tmp_path):
    from analysis import engine

    con = engine.connect("duckdb", tmp_path)
    frame = pd.DataFrame({"customer_id": ["A", "B", "B"], "revenue": [1.0, 2.0, 3.0]})
    import ibis

    return con, engine.store(con, "_lines", ibis.memtable(frame), folder=tmp_path)


def test_background_tasks_read_stored_tables_on_their_own_connection_while_the_caller_queries(tmp_path):
    from analysis import engine

    con, lines = _stored_lines(tmp_path)
    background = engine.Background(con)
    try:
        def total(table):  # runs on the worker thread, through engine.execute
            return float(engine.execute(table.revenue.sum()))
        futures = [background.submit(total, lines) for _ in range(3)]
        assert float(lines.revenue.sum().execute()) == 6.0  # the caller's own connection, meanwhile
        assert [f.result() for f in futures] == [6.0, 6.0, 6.0]
    finally:
        background.close()
        engine.close(con)


def test_an_error_in_a_background_task_is_raised_where_its_result_is_awaited(tmp_path):
    from analysis import engine

    con, lines = _stored_lines(tmp_path)
    background = engine.Background(con)
    try:
        future = background.submit(lambda t: engine.execute(t.filter(t.revenue.cast("string").cast("int64") > 0)),
                                   lines.mutate(revenue=lines.customer_id))
        with pytest.raises(duckdb.Error):
            future.result()
        assert background.submit(lambda: 7).result() == 7  # and the worker goes on
    finally:
        background.close()
        engine.close(con)


def _long_strings(con):
    con.raw_sql("CREATE TABLE strings AS SELECT i::VARCHAR || 'padding-to-make-it-long' AS s FROM range(3000000) t(i)")
    con.raw_sql("SET memory_limit = '32MiB'")
    return con.table("strings")


def test_a_query_that_outgrows_the_memory_budget_runs_again_with_a_bigger_one(tmp_path, monkeypatch):
    # DISTINCT over 3M long strings cannot spill within 32 MB (DuckDB 2): the budget doubles
    # until it fits, and the raise is noted for the console
    import ibis

    from analysis import engine

    monkeypatch.setattr(engine, "memory_ceiling_bytes", lambda: 512 * 2**20)
    monkeypatch.setattr(engine, "MEMORY_NOTES", [])
    strings = _long_strings(ibis.duckdb.connect())
    assert int(engine.execute(strings.distinct().count())) == 3_000_000
    assert engine._memory_limit(strings.get_backend().con) > 32 * 2**20
    assert engine.MEMORY_NOTES and "raised to" in engine.MEMORY_NOTES[0] and "SEGMENT_REPORT_ENGINE_MB" in engine.MEMORY_NOTES[0]


def test_out_of_memory_at_the_ceiling_is_raised(monkeypatch):
    import ibis

    from analysis import engine

    monkeypatch.setattr(engine, "memory_ceiling_bytes", lambda: 32 * 2**20)
    strings = _long_strings(ibis.duckdb.connect())
    with pytest.raises(duckdb.OutOfMemoryException):
        engine.execute(strings.distinct().count())


_EVERY_TYPE = """SELECT i::VARCHAR AS s, CASE WHEN i % 3 = 0 THEN NULL ELSE 'x' || i END AS s_null,
    i AS i64, CASE WHEN i % 3 = 0 THEN NULL ELSE i END AS i64_null, (i % 100)::TINYINT AS i8,
    CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 100)::TINYINT END AS i8_null, i / 7 AS f,
    CASE WHEN i % 3 = 0 THEN NULL WHEN i % 5 = 0 THEN 'nan'::DOUBLE ELSE i / 3 END AS f_null,
    i % 2 = 0 AS b, CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END AS b_null,
    TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE AS ts,
    CASE WHEN i % 3 = 0 THEN NULL ELSE TIMESTAMP '2024-01-01 10:30' + INTERVAL (i) HOUR END AS ts_null,
    DATE '2024-01-01' + (i % 300)::INT AS d, CASE WHEN i % 3 = 0 THEN NULL ELSE DATE '2024-02-29' + i::INT END AS d_null,
    (i / 7)::DECIMAL(18, 2) AS dec, CASE WHEN i % 3 = 0 THEN NULL ELSE (i / 7)::DECIMAL(18, 2) END AS dec_null,
    hash(i) AS h, {'a': i, 'b': CASE WHEN i % 2 = 0 THEN NULL ELSE 'y' END} AS nested,
    CASE WHEN i % 4 = 0 THEN NULL ELSE [i, i + 1] END AS list
    FROM range(500) r(i)"""


def test_fetching_results_gives_what_ibis_execute_gives_for_every_type_with_and_without_nulls(tmp_path):
    # engine.execute converts DuckDB's Arrow result itself (much faster where columns hold NULLs)
    import ibis

    from analysis import engine

    con = ibis.duckdb.connect()
    con.raw_sql(f"CREATE TABLE every_type AS {_EVERY_TYPE}")
    t = con.table("every_type")
    got, want = engine.execute(t), t.execute()
    pd.testing.assert_frame_equal(got, want)
    assert got["i64_null"].isna().sum() == 167 and got["nested"].iloc[1] == {"a": 1, "b": "y"}
    for column in t.columns:
        pd.testing.assert_series_equal(engine.execute(t[column]), t[column].execute())
    empty = t.filter(t.i64 < 0)
    pd.testing.assert_frame_equal(engine.execute(empty), empty.execute())
    assert engine.execute(t.f_null.mean()) == pytest.approx(t.f_null.mean().execute(), nan_ok=True)
    assert engine.execute(t.i64.sum()) == t.i64.sum().execute() == sum(range(500))
    assert engine.execute(t.s_null.max()) == t.s_null.max().execute()
    # and on a Background worker's own connection
    background = engine.Background(con)
    try:
        pd.testing.assert_frame_equal(background.submit(engine.execute, t).result(), want)
    finally:
        background.close()


def test_spark_connect_without_its_extra_or_server_is_one_clear_error(monkeypatch):
    pytest.importorskip("pyspark")
    from analysis import engine

    monkeypatch.setenv("SPARK_REMOTE", "sc://localhost:1")
    with pytest.raises(DataError) as err:
        engine.spark_session()
    message = str(err.value)  # nothing listens on port 1: said at once, not after minutes of retries
    assert "Spark Connect at localhost:1 could not be reached" in message and "SPARK_REMOTE" in message


def test_spark_connect_without_its_client_names_the_extra(monkeypatch):
    pytest.importorskip("pyspark")
    from analysis import engine

    with socket.socket() as listening:  # something answers at the address...
        listening.bind(("localhost", 0))
        listening.listen()
        monkeypatch.setenv("SPARK_REMOTE", f"sc://localhost:{listening.getsockname()[1]}")
        monkeypatch.setitem(sys.modules, "grpc", None)  # ...but the client's grpcio is missing
        with pytest.raises(DataError) as err:
            engine.spark_session()
    message = str(err.value)
    assert "pyspark's connect extra" in message and "pyspark[connect]" in message and "Java" not in message
