"""The row ledger on a twelve-line file whose every row's fate is known by hand."""

import datetime as dt

import ibis
import pandas as pd
import pytest

from analysis.read.clean import clean
from analysis.errors import DataError
from analysis.schema import detect_columns
from analysis.read.source import open_source


def run_clean(path, as_of=None):
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    mapping = detect_columns(list(src.columns))
    return clean(src.table, mapping, con, shown=str(path), as_of=as_of), src


def test_every_row_gets_the_reason_worked_out_by_hand(tiny_csv):
    cleaned, src = run_clean(tiny_csv)
    rows = cleaned.ledger.set_index("reason")["rows"].to_dict()
    assert rows == {"kept": 5, "bad_date": 1, "bad_number": 1, "other_currency": 0, "missing_customer": 1, "cancellation": 1,
                    "non_positive_price": 1, "non_product": 1, "duplicate": 1, "after_as_of": 0}


def test_ledger_sums_to_the_input_row_count(tiny_csv):
    cleaned, src = run_clean(tiny_csv)
    assert cleaned.ledger["rows"].sum() == int(src.table.count().execute()) == 12
    assert cleaned.ledger["share_rows"].sum() == pytest.approx(1.0)


def test_kept_revenue_is_the_sum_of_kept_lines(tiny_csv):
    cleaned, _ = run_clean(tiny_csv)
    kept = cleaned.ledger.set_index("reason").loc["kept"]
    assert kept["revenue"] == pytest.approx(10 + 20 + 20 + 30 + 10)
    assert cleaned.lines.revenue.sum().execute() == pytest.approx(90)


def test_default_as_of_is_the_day_after_the_last_kept_order(tiny_csv):
    cleaned, _ = run_clean(tiny_csv)
    assert cleaned.as_of == dt.date(2024, 4, 2)


def test_orders_on_or_after_the_as_of_date_are_dropped_with_their_reason(tiny_csv):
    cleaned, _ = run_clean(tiny_csv, as_of=dt.date(2024, 4, 1))
    rows = cleaned.ledger.set_index("reason")["rows"]
    assert rows["after_as_of"] == 1 and rows["kept"] == 4


def test_cancellations_are_handed_on_as_return_lines_as_read(tiny_csv):
    cleaned, _ = run_clean(tiny_csv)
    returns = cleaned.returns.execute()
    assert list(returns.customer_id) == ["A"] and returns.product_id.tolist() == ["P2"]
    assert returns.quantity.tolist() == [-1] and returns.revenue.tolist() == [-20.0]
    assert returns.non_product.tolist() == [False]


def test_customers_with_purchases_counts_customers_before_price_and_product_filters(tiny_csv):
    cleaned, _ = run_clean(tiny_csv)
    assert cleaned.customers_with_purchases == 3  # A, B, and C (whose only line is free)


def test_ids_written_as_floats_are_read_as_the_same_customer(tmp_path):
    path = tmp_path / "floats.csv"
    path.write_text("InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                    "1,17850.0,12/1/2010 8:26,1,2.5\n2,17850,12/2/2010 9:00,1,2.5\n")
    cleaned, _ = run_clean(path)
    assert cleaned.lines.customer_id.execute().unique().tolist() == ["17850"]


@pytest.mark.parametrize("value, expected", [
    ("2011-12-01 08:26:00", dt.datetime(2011, 12, 1, 8, 26)),
    ("12/1/2010 8:26", dt.datetime(2010, 12, 1, 8, 26)),
    ("20101201", dt.datetime(2010, 12, 1)),
    ("2010-12-01", dt.datetime(2010, 12, 1)),
])
def test_common_date_formats_are_detected(tmp_path, value, expected):
    path = tmp_path / "dates.csv"
    path.write_text(f"customer_id,order_date,revenue\nA,{value},10\nB,{value},5\n")
    cleaned, _ = run_clean(path)
    assert cleaned.lines.order_ts.execute().iloc[0] == expected


def test_a_file_of_unreadable_dates_is_refused_with_column_and_example(tmp_path):
    path = tmp_path / "bad_dates.csv"
    path.write_text("customer_id,order_date,revenue\nA,yesterday,10\nB,soon,5\n")
    with pytest.raises(DataError) as err:
        run_clean(path)
    msg = err.value.message()
    assert "order_date" in msg and "'yesterday'" in msg and "--map order_ts=" in msg


def test_too_many_non_numeric_amounts_are_refused(tmp_path):
    path = tmp_path / "bad_numbers.csv"
    path.write_text("customer_id,order_date,revenue\nA,2024-01-01,ten\nB,2024-01-02,5\n")
    with pytest.raises(DataError, match=r"revenue.*not numbers.*'ten'"):
        run_clean(path)


def test_a_file_where_every_row_is_dropped_says_why(tmp_path):
    path = tmp_path / "cancelled.csv"
    path.write_text("InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                    "C1,1,2024-01-01,-1,2.5\nC2,2,2024-01-02,-3,2.5\n")
    with pytest.raises(DataError, match="no rows left after cleaning.*Cancellation"):
        run_clean(path)


def test_padded_values_are_trimmed_and_padded_amounts_and_dates_still_read(tmp_path):
    # a leading tab, trailing spaces, spaces around numbers and dates: all read as if unpadded
    path = tmp_path / "padded.csv"
    path.write_text("order_id,customer_id,order_date,product_id,product_name,quantity,unit_price,country\n"
                    "1,A,2024-01-01 10:00:00,P1,Mug,1,10,UK\n"
                    " 2 ,\tA,  2024-01-02 10:00:00 ,P1  ,Mug , 2 , 10 ,UK  \n")
    cleaned, _ = run_clean(path)
    lines = cleaned.lines.execute().sort_values("order_id")
    assert lines["order_id"].tolist() == ["1", "2"]
    assert set(lines["customer_id"]) == {"A"} and set(lines["product_id"]) == {"P1"}
    assert set(lines["product_name"]) == {"Mug"} and set(lines["country"]) == {"UK"}
    assert lines["revenue"].tolist() == [10.0, 20.0]
    assert cleaned.ledger.set_index("reason")["rows"]["kept"] == 2


def test_non_product_lines_are_found_by_code_or_name_whatever_the_case(tmp_path):
    path = tmp_path / "fees.csv"
    path.write_text("order_id,customer_id,order_date,product_id,product_name,quantity,unit_price\n"
                    "1,A,2024-01-01,post,Postage,1,5\n"              # code, lower case
                    "1,A,2024-01-01,gift_0001_20,Voucher,1,20\n"     # code prefix
                    "1,A,2024-01-01,90001,DOTCOM POSTAGE,1,5\n"      # a digit code, the name tells
                    "1,A,2024-01-01,90002,Postage stamp album,1,5\n"  # a product, not postage
                    "1,A,2024-01-01,ADJUSTABLE,Lamp,1,5\n")          # starts like a fee code
    cleaned, _ = run_clean(path)
    rows = cleaned.ledger.set_index("reason")["rows"]
    assert rows["non_product"] == 3 and rows["kept"] == 2
    assert sorted(cleaned.lines.product_id.execute()) == ["90002", "ADJUSTABLE"]


def test_a_hash_collision_between_different_rows_falls_back_to_exact_duplicates(tiny_csv, monkeypatch):
    # every row hashes alike: the typed rows of that hash differ, so duplicates are numbered over
    # the raw columns instead, and the ledger is the one worked out by hand
    import analysis.read.clean as clean_module
    monkeypatch.setattr(clean_module, "_row_hash", lambda table, columns, kind="duckdb": ibis.literal(7, "int64"))
    cleaned, _ = run_clean(tiny_csv)
    rows = cleaned.ledger.set_index("reason")["rows"]
    assert rows["duplicate"] == 1 and rows["kept"] == 5
    assert cleaned.lines.revenue.sum().execute() == pytest.approx(90)
    assert list(cleaned.returns.execute().revenue) == [-20.0]
    assert (cleaned.first, cleaned.last) == _kept_period(cleaned)


def _kept_period(cleaned):
    got = cleaned.lines.aggregate(first=cleaned.lines.order_ts.min(), last=cleaned.lines.order_ts.max()).execute()
    return got["first"].iloc[0], got["last"].iloc[0]


@pytest.mark.parametrize("as_of, first, last", [
    (None, "2024-01-05 10:00", "2024-04-01 10:00"),
    (dt.date(2024, 4, 1), "2024-01-05 10:00", "2024-03-05 08:00"),  # the 1 April line is after it
    (dt.date(2024, 3, 1), "2024-01-05 10:00", "2024-02-10 09:00"),
])
def test_the_period_is_that_of_the_kept_lines(tiny_csv, as_of, first, last):
    cleaned, _ = run_clean(tiny_csv, as_of=as_of)
    assert (cleaned.first, cleaned.last) == (pd.Timestamp(first), pd.Timestamp(last))
    assert (cleaned.first, cleaned.last) == _kept_period(cleaned)


def test_dropped_lines_outside_the_kept_dates_do_not_widen_the_period(tmp_path):
    from tests.conftest import HEADER, TINY_LINES

    path = tmp_path / "wide.csv"
    extra = ["C0999,A,2023-12-01 09:00:00,P2,PLATE,-1,20.00,United Kingdom",  # a return, before
             "0998,,2023-11-01 09:00:00,P1,MUG,1,5.00,United Kingdom",        # a guest order, before
             "1011,B,2024-05-01 12:00:00,POST,POSTAGE,1,15.00,France"]         # postage, after
    path.write_text("\n".join([HEADER, *TINY_LINES, *extra]) + "\n", encoding="utf-8")
    cleaned, _ = run_clean(path)
    assert (cleaned.first, cleaned.last) == (pd.Timestamp("2024-01-05 10:00"), pd.Timestamp("2024-04-01 10:00"))
    assert cleaned.as_of == dt.date(2024, 4, 2)


def test_each_customer_keeps_the_contact_of_their_latest_kept_order_that_has_one(tmp_path):
    from tests.conftest import HEADER, TINY_LINES

    # A changes address in March; A's credit note and C's lines (all dropped) carry contacts that
    # must not be used; B never gives one after February; a contact after the as-of date is ignored.
    emails = ["a@old.example", "a@old.example", "a@old.example", "b@example", "a@credit.example", "guest@x",
              "b@postage.example", "c@free.example", "a@new.example", "c@bad.example", "c@bad.example", ""]
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join([HEADER + ",Email", *(f"{line},{e}" for line, e in zip(TINY_LINES, emails))]) + "\n",
                    encoding="utf-8")
    cleaned, _ = run_clean(path)
    assert cleaned.contacts.to_dict("list") == {"customer_id": ["A", "B"], "contact": ["a@new.example", "b@example"]}
    assert "contact" not in cleaned.lines.columns
    early, _ = run_clean(path, as_of=dt.date(2024, 3, 1))
    assert early.contacts["contact"].tolist() == ["a@old.example", "b@example"]


def test_without_a_contact_column_there_are_no_contacts(tiny_csv):
    cleaned, _ = run_clean(tiny_csv)
    assert list(cleaned.contacts.columns) == ["customer_id", "contact"] and cleaned.contacts.empty


def _with_dates(tmp_path, extra):
    from tests.conftest import HEADER, TINY_LINES

    path = tmp_path / "stray.csv"
    path.write_text("\n".join([HEADER, *TINY_LINES, *extra]) + "\n", encoding="utf-8")
    return path


def test_a_stray_date_far_from_the_rest_is_dropped_as_a_bad_date_and_said(tmp_path):
    path = _with_dates(tmp_path, ["2001,A,1900-01-01 10:00:00,P1,MUG,1,5.00,United Kingdom",
                                  "2002,B,2099-12-31 10:00:00,P1,MUG,1,5.00,France"])
    cleaned, _ = run_clean(path)
    rows = cleaned.ledger.set_index("reason")["rows"]
    assert rows["bad_date"] == 1 + 2 and rows["kept"] == 5
    assert cleaned.as_of == dt.date(2024, 4, 2)  # as without the strays
    assert (cleaned.first.date(), cleaned.last.date()) == (dt.date(2024, 1, 5), dt.date(2024, 4, 1))
    said = [w for w in cleaned.warnings if "away from the rest" in w]
    assert len(said) == 1 and "2 rows" in said[0] and "1900-01-01" in said[0] and "--keep-outlier-dates" in said[0]
    assert any("1 rows dropped because column 'order_date' could not be read" in w for w in cleaned.warnings)


def test_outlier_dates_are_kept_when_asked_and_a_real_gap_in_busy_data_is_not_a_stray(tmp_path):
    from analysis.read.clean import clean
    from analysis.read.source import open_source
    from analysis.schema import detect_columns

    path = _with_dates(tmp_path, ["2001,A,1900-01-01 10:00:00,P1,MUG,1,5.00,United Kingdom"])
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    kept = clean(src.table, detect_columns(list(src.columns)), con, shown=str(path), as_of=None,
                 keep_outlier_dates=True)
    assert kept.ledger.set_index("reason")["rows"]["bad_date"] == 1 and kept.first.year == 1900
    # two busy years apart: many rows on each side of the gap, so neither side is a stray
    busy = [f"{3000 + i},C{i % 9},{2019 if i % 2 else 2023}-03-{1 + i % 28:02d} 10:00:00,P1,MUG,1,5.00,UK"
            for i in range(200)]
    cleaned, _ = run_clean(_with_dates(tmp_path, busy))
    assert cleaned.first.year == 2019 and not any("away from the rest" in w for w in cleaned.warnings)
