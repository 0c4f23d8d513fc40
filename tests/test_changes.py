"""Segments at an earlier date, the transition matrix, movers and revenue at risk, worked out by hand;
then the planted lapsed_big customers of the generated data slipping into lapsing segments."""

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from analysis.read import returns
from analysis.customers import rfm
from analysis.read.clean import clean
from analysis.customers.features import customer_features
from analysis.customers.rfm import lapsing_segments
from analysis.schema import detect_columns
from analysis.read.source import open_source
from analysis.studies.changes import (MATRIX_COLUMNS, MOVER_COLUMNS, RISK_COLUMNS, RISK_SEGMENT_COLUMNS,
                                  SEGMENTS_AT_COLUMNS, days_to_second_order, movers, revenue_at_risk,
                                  segments_at, transition_matrix)
from data.generate_sample import generate, write_csv

T1, T2 = dt.date(2024, 7, 1), dt.date(2025, 1, 1)
# One line of 100 per order unless said. Before T1 (5 customers, so each distinct value scores its rank):
#   A 5 orders, last 06-30 (1 day)   -> R5 F5 M5 (500)  Champions
#   B 4 orders, last 06-20 (11 days) -> R3 F4 M4 (400)  Loyal
#   C 3 orders, last 01-31 (152)     -> R1 F3 M3 (300)  At Risk
#   D 2 orders, last 03-01 (122)     -> R2 F2 M2 (200)  Hibernating
#   E 1 order,  06-25 (6 days)       -> R4 F1 M1 (100)  Promising
# After T1: A orders 12-01, D 11-15, F (new) 09-01 for 150. At T2 (6 customers; edges are the 2nd-5th values):
#   recency A 31, D 47, F 122, E 190, B 195, C 336 -> edges 47 122 190 195 -> A5 D5 F4 E3 B2 C1
#   orders  E 1, F 1, C 3, D 3, B 4, A 6           -> edges 1 3 3 4       -> E1 F1 C2 D2 B4 A5
#   money   E 100, F 150, C 300, D 300, B 400, A 600 -> edges 150 300 300 400 -> E1 F1 C2 D2 B4 A5
#   A Champions, B Can't Lose Them, C Lost, D Potential Loyalists, E About to Sleep, F Promising
ORDERS = {
    "A": ["2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-30", "2024-12-01"],
    "B": ["2024-03-10", "2024-04-10", "2024-05-10", "2024-06-20"],
    "C": ["2023-11-30", "2023-12-31", "2024-01-31"],
    "D": ["2024-02-01", "2024-03-01", "2024-11-15"],
    "E": ["2024-06-25"],
    "F": ["2024-09-01"],
}


NO_RETURNS = pd.DataFrame({"customer_id": pd.Series(dtype="string"), "returns_lines": pd.Series(dtype="int64"),
                           "returns_value": pd.Series(dtype="float64"),
                           "last_returned_order_ts": pd.Series(dtype="datetime64[us]")})


@pytest.fixture(scope="module")
def history():
    rows = [(f"{c}{i}", c, pd.Timestamp(d) + pd.Timedelta(hours=10), 150.0 if c == "F" else 100.0)
            for c, dates in ORDERS.items() for i, d in enumerate(dates)]
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "revenue"])
    df = df.assign(product_id="P1", product_name="MUG", category="Kitchen", quantity=1.0,
                   unit_price=df["revenue"], country="United Kingdom")
    df = df.astype({c: "string" for c in ["order_id", "customer_id", "product_id", "product_name", "category",
                                          "country"]})
    con = ibis.duckdb.connect()
    lines = con.create_table("lines", ibis.memtable(df))
    return lines, NO_RETURNS


def test_segments_at_an_earlier_date_use_only_the_lines_before_it(history):
    before = segments_at(history[0], T1)
    assert list(before.columns) == SEGMENTS_AT_COLUMNS
    assert before["customer_id"].tolist() == list("ABCDE")  # F's first order is after T1
    assert before["rfm_segment"].tolist() == ["Champions", "Loyal", "At Risk", "Hibernating", "Promising"]
    assert before["monetary"].tolist() == [500.0, 400.0, 300.0, 200.0, 100.0]  # A's 12-01 order not yet


def test_segments_at_the_later_date_score_on_that_dates_own_quintile_edges(history):
    after = segments_at(history[0], T2)
    assert after["rfm_segment"].tolist() == ["Champions", "Can't Lose Them", "Lost", "Potential Loyalists",
                                             "About to Sleep", "Promising"]
    # and it is exactly what the segmentation stage gives on the same lines and date
    customers = customer_features(*history, T2)
    expected = rfm.assign_segments(rfm.rfm_scores(customers)[0])
    assert after["rfm_segment"].tolist() == expected.tolist()


def test_transition_matrix_counts_customers_and_revenue_since_the_earlier_date(history):
    got = transition_matrix(segments_at(history[0], T1), segments_at(history[0], T2))
    assert list(got.columns) == MATRIX_COLUMNS
    # rows best to worst by the earlier segment, customers new since T1 first; revenue_after = spent T1..T2
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        ("(new)", "Promising", 1, 150.0),
        ("Champions", "Champions", 1, 100.0),
        ("Loyal", "Can't Lose Them", 1, 0.0),
        ("Promising", "About to Sleep", 1, 0.0),
        ("At Risk", "Lost", 1, 0.0),
        ("Hibernating", "Potential Loyalists", 1, 100.0),
    ]


def test_before_the_first_order_there_are_no_segments_and_everyone_later_is_new(history):
    before = segments_at(history[0], dt.date(2023, 1, 1))
    assert before.empty and list(before.columns) == SEGMENTS_AT_COLUMNS
    got = transition_matrix(before, segments_at(history[0], T1))
    assert set(got["from_segment"]) == {"(new)"} and got["customers"].sum() == 5
    assert got["revenue_after"].sum() == 1500.0  # all spending before T1


def test_transition_matrix_adds_up_customers_in_the_same_cell_and_counts_customers_gone():
    before = pd.DataFrame({"customer_id": ["a", "b", "c"], "rfm_segment": ["Loyal", "Loyal", "Lost"],
                           "monetary": [10.0, 20.0, 5.0]})
    after = pd.DataFrame({"customer_id": ["a", "b", "d"], "rfm_segment": ["At Risk", "At Risk", "New"],
                          "monetary": [15.0, 27.5, 8.0]})
    got = transition_matrix(before, after)
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        ("(new)", "New", 1, 8.0), ("Loyal", "At Risk", 2, 12.5), ("Lost", "(gone)", 1, 0.0)]


def test_transition_matrix_needs_monetary_on_both_sides():
    frame = pd.DataFrame({"customer_id": ["a"], "rfm_segment": ["Loyal"]})
    with pytest.raises(ValueError, match="'before' lacks columns \\['monetary'\\]"):
        transition_matrix(frame, frame.assign(monetary=1.0))


def test_movers_are_customers_who_slipped_into_a_lapsing_segment_biggest_spenders_first(history):
    now = customer_features(*history, T2)
    got = movers(segments_at(history[0], T1), segments_at(history[0], T2), now)
    assert list(got.columns) == MOVER_COLUMNS
    # B Loyal -> Can't Lose Them (400, last order 195 days ago); E Promising -> About to Sleep (100, 190 days).
    # Not C (At Risk -> Lost: already lapsing), D (got better), A (stayed) or F (new).
    assert [tuple(r) for r in got.itertuples(index=False)] == [
        ("B", "Loyal", "Can't Lose Them", 400.0, 195), ("E", "Promising", "About to Sleep", 100.0, 190)]


def test_which_segments_count_as_lapsing_is_a_parameter(history):
    now = customer_features(*history, T2)
    got = movers(segments_at(history[0], T1), segments_at(history[0], T2), now, lapsing={"Lost"})
    assert got["customer_id"].tolist() == ["C"]


def test_days_to_second_order_count_calendar_days_for_repeat_customers_only(history):
    got = days_to_second_order(history[0])
    assert got.to_dict() == {"A": 29, "B": 31, "C": 31, "D": 29}  # E and F ordered once


# Eight customers by hand; days since their last order placed (a cancelled one counts) in `quiet`.
# A rhythm needs orders on 3 or more days: typical gap = (last - first order day) / (order days - 1).
#   A 4 order days over 91 days: gap 30.33, quiet 50 <= 2 x 30.33            -> not at risk
#   B 3 order days over 60 days: gap 30, quiet 61 > 60                       -> at risk
#   C 1 order day: the 90th percentile of days to a 2nd order (10..100) = 91, quiet 100 > 91 -> at risk
#   D 1 order day, quiet 20 <= 91                                            -> not at risk
#   E 2 order days (no rhythm): 91, quiet 200                                -> at risk
#   F six orders on 2 days, 18 days ago (UCI's 18139): no rhythm, quiet 18   -> not at risk
#   G 11 order days over 50 days: gap 5, quiet 25 > 10 but within 30 days    -> not at risk
#   H last kept order 200 days ago, but an order cancelled yesterday: quiet 1 -> not at risk
RISK_CUSTOMERS = pd.DataFrame({
    "customer_id": list("ABCDEFGH"),
    "first_order_date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-06-01", "2024-06-01", "2024-01-01",
                                        "2024-11-21", "2024-01-01", "2024-01-01"]).date,
    "last_order_date": pd.to_datetime(["2024-04-01", "2024-03-01", "2024-06-01", "2024-06-01", "2024-02-01",
                                       "2024-11-22", "2024-02-20", "2024-05-01"]).date,
    "order_days": [4, 3, 1, 1, 2, 2, 11, 3],
    "days_since_any_order": [50, 61, 100, 20, 200, 18, 25, 1],
    "monetary": [730.0, 1460.0, 50.0, 60.0, 100.0, 8438.34, 300.0, 900.0],
    "revenue_last_365_days": [730.0, 500.0, 50.0, 60.0, 0.0, 8438.34, 300.0, 900.0],
    "tenure_days": [365, 730, 100, 20, 400, 18, 365, 400],
    "rfm_segment": ["Loyal", "Loyal", "Lost", "New", "Hibernating", "Champions", "Loyal", "Lost"],
    "cluster_name": ["K1", "K1", "K2", "K2", "K2", "K1", "K1", "K2"],
})
SEGMENTS = pd.DataFrame({"kind": ["rfm"] * 5 + ["cluster"] * 2,
                         "segment": ["Champions", "Loyal", "New", "Hibernating", "Lost", "K1", "K2"],
                         "action": ["reward", "upsell", "onboard", "reactivate", "suppress", "act 1", "act 2"]})
SECOND = pd.Series(range(10, 101, 10), index=[f"r{i}" for i in range(10)])


def test_at_risk_needs_a_rhythm_of_three_order_days_and_a_month_of_quiet():
    per_customer, _ = revenue_at_risk(RISK_CUSTOMERS, SEGMENTS, SECOND)
    assert list(per_customer.columns) == RISK_COLUMNS
    got = per_customer.set_index("customer_id")
    assert got["at_risk"].tolist() == [False, True, True, False, True, False, False, False]
    assert got["own_rhythm"].tolist() == [True, True, False, False, False, False, True, True]
    assert got["expected_gap_days"].tolist() == pytest.approx([91 / 3, 30, 91, 91, 91, 91, 5, 60.5])
    assert got["overdue_days"].tolist() == pytest.approx([50 - 91 / 3, 31, 9, 0, 109, 0, 20, 0])


def test_value_at_risk_is_a_years_spend_and_never_more_than_the_last_365_days():
    per_customer, _ = revenue_at_risk(RISK_CUSTOMERS, SEGMENTS, SECOND)
    got = per_customer.set_index("customer_id")
    # the smaller of monetary / max(tenure, 30) x 365 and the last 365 days' spend:
    # A 730 | 730; B 730 | 500; C 182.5 | 50; D 730 | 60; E 91.25 | 0; F 171,108 | 8,438.34; G 300 | 300; H 821.25 | 900
    assert got["annual_value"].tolist() == pytest.approx([730, 500, 50, 60, 0, 8438.34, 300, 821.25])
    assert got["value_at_risk"].tolist() == pytest.approx([0, 500, 50, 0, 0, 0, 0, 0])
    assert (got["value_at_risk"] <= RISK_CUSTOMERS.set_index("customer_id")["revenue_last_365_days"]).all()


def test_value_at_risk_per_segment_of_both_kinds_largest_first_with_the_action():
    _, per_segment = revenue_at_risk(RISK_CUSTOMERS, SEGMENTS, SECOND)
    assert list(per_segment.columns) == RISK_SEGMENT_COLUMNS
    rows = [tuple(r) for r in per_segment[["kind", "segment", "customers", "customers_at_risk", "value_at_risk",
                                           "action"]].itertuples(index=False)]
    assert rows == [("rfm", "Loyal", 3, 1, 500.0, "upsell"), ("rfm", "Lost", 2, 1, 50.0, "suppress"),
                    ("rfm", "Champions", 1, 0, 0.0, "reward"), ("rfm", "Hibernating", 1, 1, 0.0, "reactivate"),
                    ("rfm", "New", 1, 0, 0.0, "onboard"),
                    ("cluster", "K1", 4, 1, 500.0, "act 1"), ("cluster", "K2", 4, 2, 50.0, "act 2")]
    assert per_segment["share_of_value_at_risk"].tolist() == pytest.approx([500 / 550, 50 / 550, 0, 0, 0,
                                                                             500 / 550, 50 / 550])


def test_without_days_to_second_order_the_others_are_judged_by_the_rhythm_customers_gaps():
    per_customer, _ = revenue_at_risk(RISK_CUSTOMERS, SEGMENTS)
    # the 90th percentile of the own gaps 30.33, 30, 5, 60.5 is 51.3: C (100 days) past it, D (20) not
    got = per_customer.set_index("customer_id")
    expected = float(np.quantile([91 / 3, 30, 5, 60.5], 0.9))
    assert got.loc[["C", "D"], "expected_gap_days"].tolist() == pytest.approx([expected, expected])
    assert got.loc[["C", "D"], "at_risk"].tolist() == [True, False]


# The generated data: lapsed_big customers (3-8 orders at high prices) buy only in the first 45% of
# the two years (to 2024-11-25), the regular groups keep ordering at their own rhythm throughout.
@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tx, truth = generate(1500, seed=3)
    path = tmp_path_factory.mktemp("planted") / "planted.csv"
    write_csv(tx, path)
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    cleaned = clean(src.table, detect_columns(list(src.columns)), con, shown="planted", as_of=None)
    return returns.net_of_returns(cleaned, con), cleaned.as_of, truth


def test_planted_lapsed_big_customers_end_in_lapsing_segments_and_lead_the_movers(planted):
    netted, as_of, truth = planted
    lapsed = truth.index[truth == "lapsed_big"]
    end = segments_at(netted.lines, as_of)
    window_end = segments_at(netted.lines, dt.date(2024, 11, 25))
    year_before = segments_at(netted.lines, as_of - dt.timedelta(days=365))
    lapsing_at = lambda frame: frame.set_index("customer_id")["rfm_segment"].reindex(lapsed).isin(lapsing_segments())  # noqa: E731
    assert lapsing_at(end).mean() >= 0.95  # at the end: At Risk / Can't Lose Them / Hibernating / Lost
    assert lapsing_at(window_end).mean() <= 0.6  # while still buying, most were not
    assert lapsing_at(year_before).mean() < lapsing_at(end).mean()
    now = customer_features(netted.lines, netted.customer_returns, as_of)
    moved = movers(year_before, end, now)
    groups = truth.reindex(moved["customer_id"])
    assert (groups.iloc[:10] == "lapsed_big").all()  # the biggest spenders who slipped
    assert set(groups) <= {"lapsed_big", "one_off"}  # regular buyers never slip


def test_the_at_risk_rule_uses_no_purchase_model_output():
    """Whatever a purchase model says (here: absurd probabilities alive and lifetime values), the
    at-risk list is the same: the rule reads each customer's own order rhythm only."""
    with_model = RISK_CUSTOMERS.assign(p_alive=1.0, clv=1e9, expected_purchases_365=100.0)
    for got, want in zip(revenue_at_risk(with_model, SEGMENTS, SECOND), revenue_at_risk(RISK_CUSTOMERS, SEGMENTS, SECOND)):
        pd.testing.assert_frame_equal(got, want)


def test_the_customer_lists_are_ordered_in_the_analysis_not_the_report():
    """at_risk by value at risk, top_value by CLV (ties by id), disagreements by kind then revenue:
    the report only looks the customers up in these positions."""
    from analysis.studies.lists import customer_lists

    customers = pd.DataFrame({
        "customer_id": ["b", "a", "c", "d"], "at_risk": [True, True, False, True],
        "value_at_risk": [10.0, 10.0, 0.0, 30.0], "clv": [5.0, np.nan, 9.0, 5.0],
        "frequency_orders": [3, 1, 4, 2], "p_alive": [0.9, 1.0, 0.2, 0.95],
        "rfm_segment": ["Lost", "Lost", "Champions", "Champions"], "monetary": [50.0, 5.0, 80.0, 20.0]})
    got = customer_lists(customers)
    order = {name: g.sort_values("position")["customer_id"].tolist() for name, g in got.groupby("list")}
    assert order["at_risk"] == ["d", "a", "b"]          # 30 first, then 10 and 10 by id
    assert order["top_value"] == ["c", "b", "d"]        # a has no CLV
    # b: lapsing (Lost) yet P(alive) 0.9 -> still active; c: active segment, P(alive) 0.2 -> likely gone
    assert order["disagreements"] == ["c", "b"]
    assert got.loc[got["list"] == "disagreements", "disagreement"].tolist() == ["model: likely gone",
                                                                              "model: still active"]


@pytest.mark.slow
def test_a_renamed_segment_map_moves_and_flags_the_same_customers_under_its_own_names():
    from analysis.config import SAMPLE_INPUT, make_config
    from analysis.customers.rfm import SEGMENT_RULES
    from analysis.pipeline import run_analysis
    csv = SAMPLE_INPUT  # four of its customers slipped into a lapsing segment in the last 90 days
    renamed = [{"name": f"Our {rule.name}", "r": list(rule.r), "f": list(rule.f), "m": list(rule.m),
                "action": rule.action, "lapsing": rule.lapsing} for rule in SEGMENT_RULES]
    standard = run_analysis(make_config(input=csv))
    custom = run_analysis(make_config(input=csv, segment_map=renamed))
    ours = lambda s: s.where(s.isin(["(new)", "(gone)", "Other"]), "Our " + s)  # noqa: E731
    for table in ("movers", "transitions"):
        want = standard.tables[table].copy()
        for col in ("from_segment", "to_segment"):
            want[col] = ours(want[col].astype(object)).astype(want[col].dtype)
        pd.testing.assert_frame_equal(custom.tables[table], want)
    assert len(standard.tables["movers"]) > 0
    quiet = [f.text for f in custom.findings if "once-regular" in f.text]
    assert quiet and "Our At Risk" in quiet[0]
    assert custom.tables["customer_lists"].equals(standard.tables["customer_lists"])
