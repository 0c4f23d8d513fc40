"""Cohorts, repeat purchase and new vs returning revenue on nine order lines worked out by hand."""

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from analysis.studies.cohorts import cohort_retention, new_vs_returning, repeat_summary

# Four customers, eight orders, nine lines (2024 is a leap year: February has 29 days).
#   A: o1 Jan 5 (two lines, 10 + 20), o2 Jan 20 (15), o3 Mar 2 (40)       -> cohort Jan
#   B: o4 Jan 31 18:00 (50), o5 Mar 1 08:00 (25)                            -> cohort Jan
#   C: o6 Feb 10 (60), o8 Mar 20 (30)                                       -> cohort Feb
#   D: o7 Mar 15 (5)                                                        -> cohort Mar
LINES = [
    ("o1", "A", "2024-01-05 10:00", 10.0),
    ("o1", "A", "2024-01-05 10:00", 20.0),
    ("o2", "A", "2024-01-20 09:00", 15.0),
    ("o3", "A", "2024-03-02 12:00", 40.0),
    ("o4", "B", "2024-01-31 18:00", 50.0),
    ("o5", "B", "2024-03-01 08:00", 25.0),
    ("o6", "C", "2024-02-10 11:00", 60.0),
    ("o7", "D", "2024-03-15 15:00", 5.0),
    ("o8", "C", "2024-03-20 16:00", 30.0),
]


def make_lines(rows) -> ibis.Table:
    """Kept lines with the canonical columns, as an engine table (the pipeline's contract)."""
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "revenue"])
    df["order_ts"] = pd.to_datetime(df["order_ts"])
    df = df.assign(product_id="P1", product_name="MUG", category="Kitchen", quantity=1,
                   unit_price=df["revenue"], country="United Kingdom")
    con = ibis.duckdb.connect()
    return con.create_table("lines", ibis.memtable(df[["order_id", "customer_id", "order_ts", "product_id",
                                                       "product_name", "category", "quantity", "unit_price",
                                                       "revenue", "country"]]))


@pytest.fixture
def lines() -> ibis.Table:
    return make_lines(LINES)


def test_cohort_table_matches_hand_computation(lines):
    # Jan cohort {A, B}: Jan A 30+15 and B 50 = 95; Feb nobody; Mar A 40 and B 25 = 65.
    # Feb cohort {C}: Feb 60; Mar 30.  Mar cohort {D}: Mar 5.  The data ends in March.
    jan, feb, mar = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)
    expected = pd.DataFrame({
        "cohort_month": [jan, jan, jan, feb, feb, mar],
        "already_customers": False,
        "months_since_first": [0, 1, 2, 0, 1, 0],
        "customers": [2, 0, 2, 1, 1, 1],
        "cohort_size": [2, 2, 2, 1, 1, 1],
        "retention": [1.0, 0.0, 1.0, 1.0, 1.0, 1.0],
        "revenue": [95.0, 0.0, 65.0, 60.0, 30.0, 5.0],
    })
    pd.testing.assert_frame_equal(cohort_retention(lines), expected)


def test_month_zero_retention_is_one_and_revenue_adds_up(lines):
    out = cohort_retention(lines)
    assert (out.loc[out["months_since_first"] == 0, "retention"] == 1.0).all()
    assert out["revenue"].sum() == sum(r[3] for r in LINES) == 255.0


def test_retention_counts_customers_not_orders():
    # Jan cohort {E, F}; E orders twice in February: one retained customer of two, revenue 2 + 3.
    out = cohort_retention(make_lines([("e1", "E", "2024-01-03", 1.0), ("e2", "E", "2024-02-03", 2.0),
                                       ("e3", "E", "2024-02-20", 3.0), ("f1", "F", "2024-01-09", 4.0)]))
    assert out["months_since_first"].tolist() == [0, 1]
    assert out["customers"].tolist() == [2, 1]
    assert out["retention"].tolist() == [1.0, 0.5]
    assert out["revenue"].tolist() == [5.0, 5.0]


def test_repeat_rate_and_days_to_second_order_match_hand_computation(lines):
    # Repeat customers: A (3 orders), B, C of 4 -> 0.75.  Calendar days to the second order:
    # A Jan 5 -> Jan 20 = 15; B Jan 31 -> Mar 1 = 30 (29.6 days of clock time, dates count);
    # C Feb 10 -> Mar 20 = 39.  Sorted 15, 30, 39: q1 = 22.5, median = 30, q3 = 34.5.
    figures, histogram = repeat_summary(lines)
    assert figures == {"customers": 4, "repeat_customers": 3, "repeat_rate": 0.75, "acquired_customers": 4,
                       "acquired_repeat_customers": 3,
                       "days_to_second_q1": 22.5, "days_to_second_median": 30.0, "days_to_second_q3": 34.5}
    assert histogram["bin"].tolist() == ["0-7", "8-30", "31-60", "61-90", "91-180", "181-365", ">365"]
    assert histogram["customers"].tolist() == [0, 2, 1, 0, 0, 0, 0]  # 15 and 30 in 8-30, 39 in 31-60
    assert histogram["share"].tolist() == pytest.approx([0, 2 / 3, 1 / 3, 0, 0, 0, 0])
    assert histogram["low_days"].tolist()[-1] == 366 and pd.isna(histogram["high_days"].iloc[-1])


def test_second_order_on_the_same_day_is_zero_days_and_one_order_customers_have_none():
    figures, histogram = repeat_summary(make_lines([
        ("x1", "X", "2024-05-01 09:00", 5.0), ("x2", "X", "2024-05-01 17:00", 5.0),
        ("y1", "Y", "2024-05-02 09:00", 5.0), ("z1", "Z", "2023-01-01 09:00", 5.0),
        ("z2", "Z", "2024-05-02 09:00", 5.0),   # 487 days later
    ]))
    assert figures["repeat_rate"] == pytest.approx(2 / 3)
    assert histogram.set_index("bin")["customers"].to_dict() == {
        "0-7": 1, "8-30": 0, "31-60": 0, "61-90": 0, "91-180": 0, "181-365": 0, ">365": 1}


def test_without_repeat_customers_the_time_to_second_order_is_missing():
    figures, histogram = repeat_summary(make_lines([("a", "A", "2024-01-01", 1.0), ("b", "B", "2024-01-02", 1.0)]))
    assert figures["repeat_rate"] == 0.0 and np.isnan(figures["days_to_second_median"])
    assert histogram["customers"].sum() == 0


def test_new_and_returning_revenue_split_each_month(lines):
    # Jan: A 45 + B 50 new.  Feb: C 60 new.  Mar: D 5 new; A 40, B 25, C 30 returning = 95.
    expected = pd.DataFrame({
        "month": [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)],
        "new_revenue": [95.0, 60.0, 5.0],
        "returning_revenue": [0.0, 0.0, 95.0],
        "new_customers": [2, 1, 1],
        "returning_customers": [0, 0, 3],
    })
    pd.testing.assert_frame_equal(new_vs_returning(lines), expected)


def test_a_customers_later_orders_in_their_first_month_count_as_new(lines):
    # A's second order (Jan 20) is in the acquisition month, so January has no returning revenue.
    out = new_vs_returning(lines).set_index("month")
    assert out.loc[dt.date(2024, 1, 1), "returning_revenue"] == 0.0
    assert (out["new_revenue"] + out["returning_revenue"]).sum() == 255.0


# --- the data starts in the middle of relationships: the first month's customers are not new ---

START = dt.date(2024, 1, 5)  # the first kept order: January is the data's first month


def test_the_first_months_customers_are_already_customers_not_a_cohort(lines):
    out = cohort_retention(lines, start=START)
    jan = out[out["cohort_month"] == dt.date(2024, 1, 1)]
    assert jan["already_customers"].all() and not out.loc[out["cohort_month"] != dt.date(2024, 1, 1),
                                                          "already_customers"].any()
    assert out.drop(columns="already_customers").equals(cohort_retention(lines).drop(columns="already_customers"))


def test_revenue_of_customers_already_there_is_returning_even_in_the_first_month(lines):
    # Jan: A 45 + B 50, customers already: returning.  Feb: C 60 new.  Mar: D 5 new; A, B, C returning.
    out = new_vs_returning(lines, start=START)
    assert out["new_revenue"].tolist() == [0.0, 60.0, 5.0]
    assert out["returning_revenue"].tolist() == [95.0, 0.0, 95.0]
    assert out["new_customers"].tolist() == [0, 1, 1] and out["returning_customers"].tolist() == [2, 0, 3]


def test_time_to_second_order_counts_only_customers_acquired_in_the_data(lines):
    # A and B were first seen in January: their first order in the data is not their first. Of the
    # customers acquired later, C took 39 days (Feb 10 -> Mar 20) and D ordered once.
    figures, histogram = repeat_summary(lines, start=START)
    assert (figures["repeat_rate"], figures["acquired_customers"], figures["acquired_repeat_customers"]) == (0.75, 2, 1)
    assert figures["days_to_second_median"] == 39.0
    assert histogram["customers"].tolist() == [0, 0, 1, 0, 0, 0, 0]
