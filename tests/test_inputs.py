"""Every supported input shape gives the same customers table as the same data in plain CSV."""

import gzip
import zipfile

import ibis
import pandas as pd
import pytest

from analysis.read import returns
from analysis.read.clean import clean
from analysis.customers.features import customer_features
from analysis.schema import detect_columns, detect_profile
from analysis.read.source import open_source
from data.generate_sample import generate, write_csv


def customers_of(path, tmp_path, **options):
    con = ibis.duckdb.connect()
    read = {k: options.pop(k) for k in ("encoding", "sheet") if k in options}
    src = open_source(path, con, workdir=tmp_path, **read)
    columns = list(src.columns)
    profile = detect_profile(columns)
    cleaned = clean(src.table, detect_columns(columns, options.pop("mapping", None)), con, shown=str(path),
                    as_of=None, fill_order_fields=bool(profile), **options)
    netted = returns.net_of_returns(cleaned, con)
    return customer_features(netted.lines, netted.customer_returns, cleaned.as_of), cleaned.ledger


@pytest.fixture(scope="module")
def sales():
    tx, _ = generate(n_customers=120, seed=4)
    return tx


@pytest.fixture(scope="module")
def expected(sales, tmp_path_factory):
    d = tmp_path_factory.mktemp("plain")
    write_csv(sales, d / "plain.csv")
    return customers_of(d / "plain.csv", d)


def _text(df: pd.DataFrame, sep: str = ",", decimal: str = ".") -> str:
    out = df.copy()
    if decimal == ",":
        out["unit_price"] = out["unit_price"].map(lambda v: f"{v:.2f}".replace(".", ","))
    return out.to_csv(index=False, sep=sep)


WRITERS = {
    "tab-separated": ("s.tsv", lambda df, p: p.write_text(_text(df, "\t"))),
    "semicolon": ("s.csv", lambda df, p: p.write_text(_text(df, ";"))),
    "pipe": ("s.txt", lambda df, p: p.write_text(_text(df, "|"))),
    "gzip": ("s.csv.gz", lambda df, p: p.write_bytes(gzip.compress(_text(df).encode()))),
    "zip": ("s.zip", lambda df, p: zipfile.ZipFile(p, "w").writestr("sales.csv", _text(df))),
    "parquet": ("s.parquet", lambda df, p: df.astype(str).replace({"": None}).to_parquet(p)),
    "excel": ("s.xlsx", lambda df, p: df.to_excel(p, index=False)),
    "utf-8 with BOM": ("s.csv", lambda df, p: p.write_bytes(b"\xef\xbb\xbf" + _text(df).encode())),
    "cp1252": ("s.csv", lambda df, p: p.write_bytes(_text(df).encode("cp1252"))),
    "folder of monthly files": ("monthly", None),
    "glob": ("monthly/*.csv", None),
}


def _write_monthly(df, folder):
    folder.mkdir(exist_ok=True)
    for month, part in df.groupby(df["order_date"].str[:7]):
        (folder / f"sales-{month}.csv").write_text(_text(part))


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(WRITERS))
def test_each_format_gives_the_same_customers_as_plain_csv(shape, sales, expected, tmp_path):
    name, writer = WRITERS[shape]
    if writer is None:
        _write_monthly(sales, tmp_path / "monthly")
    else:
        writer(sales, tmp_path / name)
    got, ledger = customers_of(str(tmp_path / name), tmp_path)
    pd.testing.assert_frame_equal(got, expected[0])
    pd.testing.assert_frame_equal(ledger, expected[1])


def test_decimal_comma_amounts_read_with_the_decimal_option(sales, expected, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(_text(sales, ";", decimal=","))
    got, _ = customers_of(path, tmp_path, decimal=",")
    pd.testing.assert_frame_equal(got, expected[0])


def test_whitespace_aligned_text_reads_like_csv(tmp_path):
    rows = [("00001", "19970101", "1", "11.77"), ("00002", "19970112", "1", "12.00"),
            ("00001", "19970302", "2", "20.50")]
    aligned = "customer_id  date  number_of_cds  dollar_value\n" + "".join(
        f" {c:>5} {d} {n:>3} {v:>8}\r\n" for c, d, n, v in rows)
    (tmp_path / "a.txt").write_text(aligned)
    (tmp_path / "a.csv").write_text("customer_id,date,number_of_cds,dollar_value\n" +
                                    "".join(",".join(r) + "\n" for r in rows))
    mapping = {"quantity": "number_of_cds", "revenue": "dollar_value"}
    got, _ = customers_of(tmp_path / "a.txt", tmp_path, mapping=mapping)
    want, _ = customers_of(tmp_path / "a.csv", tmp_path, mapping=mapping)
    pd.testing.assert_frame_equal(got, want)
    assert got["customer_id"].tolist() == ["00001", "00002"]  # zero-padded ids stay text


def test_an_order_level_export_counts_each_row_as_one_order(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,order_date,total\n1,A,2024-01-01,30\n2,A,2024-02-01,20\n3,B,2024-02-03,5\n")
    got, _ = customers_of(path, tmp_path)
    assert got.set_index("customer_id").loc["A", ["frequency_orders", "monetary"]].tolist() == [2, 50.0]


def test_a_minimal_file_treats_each_customer_day_as_one_order(tmp_path):
    path = tmp_path / "minimal.csv"
    path.write_text("customer,date,amount\nA,2024-01-01,10\nA,2024-01-01,5\nA,2024-01-09,5\n")
    got, _ = customers_of(path, tmp_path)
    assert got.loc[0, ["frequency_orders", "monetary", "mean_days_between_orders"]].tolist() == [2, 20.0, 8.0]


def test_a_shop_export_uses_line_items_and_fills_order_fields_on_later_rows(tmp_path):
    path = tmp_path / "orders_export.csv"
    path.write_text(
        "Name,Email,Financial Status,Currency,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price,"
        "Lineitem sku,Billing Country\n"
        "#1001,ann@example.com,paid,EUR,53.91,2025-10-07 09:50:26 +0200,3,Mask,14.90,M1,FR\n"
        "#1001,ann@example.com,,,,,1,Cream,9.21,C1,\n"
        "#1002,bob@example.com,paid,EUR,20.00,2025-10-08 23:30:00 +0200,2,Soap,10.00,S1,DE\n")
    got, ledger = customers_of(path, tmp_path)
    ann = got.set_index("customer_id").loc["ann@example.com"]
    assert ann["monetary"] == pytest.approx(3 * 14.90 + 9.21) and ann["frequency_orders"] == 1
    assert ann["country"] == "FR" and ledger.set_index("reason").loc["kept", "rows"] == 3


@pytest.mark.parametrize("value", ["2024-03-05T10:00:00Z", "2024-03-05 10:00:00+01:00", "1709632800",
                                   "03/05/2024 10:00", "20240305"])
def test_dates_with_zones_epochs_and_us_order_are_read(tmp_path, value):
    path = tmp_path / "d.csv"
    path.write_text(f"customer_id,order_date,revenue\nA,{value},10\nB,{value},5\n")
    got, _ = customers_of(path, tmp_path)
    assert str(got.loc[0, "first_order_date"]) == "2024-03-05"


def test_dayfirst_reads_day_month_dates(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("customer_id,order_date,revenue\nA,05/03/2024,10\nB,06/03/2024,5\n")
    got, _ = customers_of(path, tmp_path, dayfirst=True)
    assert str(got.loc[0, "first_order_date"]) == "2024-03-05"
