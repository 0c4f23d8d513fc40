"""A table in PostgreSQL read through a connection URL: the warehouse answers one SELECT, the table
is copied into the build's own DuckDB, and the report is the one the same rows give as a CSV file.

The test starts a PostgreSQL server of its own (Debian's postgresql package, on a free local
port, in a temporary folder, as the `postgres` user when run as root) and stops it after; it skips
with the reason when the server or the driver is missing (CI installs both).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from analysis.config import make_config
from data.generate_sample import generate, write_csv
from tests.conftest import run_cli

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed "
                                                     "(pip install -r requirements-dev.txt)")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = Path(found[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="segment-report-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
        folder.chmod(0o755)
        shutil.chown(folder, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = folder / "data"
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"),
                    "-o", f"-p {port} -k {folder} -c listen_addresses=localhost", "start"], check=True,
                   capture_output=True)
    url = f"postgresql://postgres@localhost:{port}/postgres"
    try:
        yield url, psycopg
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def orders(server, tmp_path_factory):
    """The same generated transactions as a CSV file and as two tables: public.orders all text (as
    a raw load), sales.orders typed (timestamp, integer, numeric)."""
    url, psycopg = server
    csv = tmp_path_factory.mktemp("pg") / "orders.csv"
    frame = generate(n_customers=300, seed=5)[0]
    write_csv(frame, csv)
    text_columns = ", ".join(f"{c} text" for c in frame.columns)
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE TABLE public.orders ({text_columns})")
        with con.cursor().copy("COPY public.orders FROM STDIN WITH (FORMAT csv, HEADER true)") as copy:
            copy.write(csv.read_bytes())
        con.execute("INSERT INTO public.orders SELECT * FROM public.orders LIMIT 1")  # an exact duplicate
        con.execute("INSERT INTO public.orders (order_id, customer_id, order_date, quantity, unit_price) "
                    "VALUES ('X1', 'C9', 'not a date', '1', '2.0')")  # an unreadable date
        con.execute("CREATE SCHEMA sales")
        con.execute("CREATE TABLE sales.orders AS SELECT order_id, customer_id, order_date::timestamp AS order_date, "
                    "product_id, product_name, category, quantity::integer AS quantity, "
                    "unit_price::numeric(12, 2) AS unit_price, country FROM public.orders WHERE order_id <> 'X1'")
    return url, csv


def test_a_postgres_table_gives_the_report_its_rows_give_as_a_file(orders, tmp_path):
    from analysis.pipeline import run_analysis

    url, csv = orders
    raw = run_analysis(make_config(input=f"{url}?table=public.orders"))
    file = run_analysis(make_config(input=csv))
    pd.testing.assert_frame_equal(raw.tables["customers"], file.tables["customers"])
    ledger = raw.tables["ledger"].set_index("reason")["rows"]
    expected = file.tables["ledger"].set_index("reason")["rows"]
    # the table holds the file's rows plus one exact duplicate and one unreadable date, both in the ledger
    assert ledger["duplicate"] == expected["duplicate"] + 1 and ledger["bad_date"] == expected["bad_date"] + 1
    assert ledger.sum() == expected.sum() + 2 and ledger["kept"] == expected["kept"]
    assert raw.source.format == "table (duckdb)" and raw.source.rows == file.source.rows + 2


def test_a_typed_schema_qualified_postgres_table_gives_the_same_customers(orders):
    from analysis.pipeline import run_analysis

    url, csv = orders
    typed = run_analysis(make_config(input=f"{url}?table=sales.orders")).tables["customers"]
    file = run_analysis(make_config(input=csv)).tables["customers"]
    assert list(typed["customer_id"]) == list(file["customer_id"])
    assert (typed["rfm_segment"] == file["rfm_segment"]).all()
    assert (typed["monetary"] - file["monetary"]).abs().max() < 1e-6


@pytest.mark.parametrize("table, problem", [("nope.orders", "table 'nope.orders' could not be read"),
                                            ("public.nothing", "table 'public.nothing' could not be read")])
def test_a_missing_postgres_table_is_one_clear_error(orders, tmp_path, table, problem):
    url, _ = orders
    code, _, err = run_cli("--input", f"{url}?table={table}", "--output", str(tmp_path / "site"), "--quiet")
    assert code == 2 and problem in err and "Traceback" not in err and not (tmp_path / "site").exists()


def test_an_unreachable_server_is_one_clear_error(tmp_path):
    code, _, err = run_cli("--input", f"postgresql://postgres@localhost:{_free_port()}/postgres?table=orders",
                           "--output", str(tmp_path / "site"), "--quiet")
    assert code == 2 and "could not connect" in err and "Traceback" not in err
