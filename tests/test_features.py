"""Per-customer features on the twelve-line file, against values worked out by hand."""

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest

from analysis.read import returns
from analysis.read.clean import clean
from analysis.customers.features import _distinct_products, _price_habits, customer_features, rfm_at
from analysis.schema import detect_columns
from analysis.read.source import open_source


@pytest.fixture
def cleaned(tiny_csv):
    con = ibis.duckdb.connect()
    src = open_source(tiny_csv, con)
    return clean(src.table, detect_columns(list(src.columns)), con, shown="tiny", as_of=None)


def features_of(cleaned):
    netted = returns.net_of_returns(cleaned, cleaned.lines._find_backend())
    return customer_features(netted.lines, netted.customer_returns, cleaned.as_of).set_index("customer_id")


@pytest.fixture
def net_lines(cleaned):
    return returns.net_of_returns(cleaned, cleaned.lines._find_backend()).lines


@pytest.fixture
def customers(cleaned):
    return features_of(cleaned)


def test_only_customers_with_kept_lines_appear(customers):
    assert list(customers.index) == ["A", "B"]


def test_recency_frequency_and_monetary_match_hand_computation(customers):
    # as of 2024-04-02: A last ordered 2024-03-05 (28 days), B on 2024-04-01 (1 day); A returned the
    # plate of order 1001 (20), which keeps its mug (10): two orders, 40 net
    assert customers.loc["A", ["recency_days", "frequency_orders", "monetary"]].tolist() == [28, 2, 40.0]
    assert customers.loc["B", ["recency_days", "frequency_orders", "monetary"]].tolist() == [1, 2, 30.0]


def test_first_and_last_order_dates_are_the_calendar_days_of_the_orders_kept(customers):
    # A ordered on 2024-01-05 and 2024-03-05 (its first order's plate came back, the mug stayed)
    assert [customers.loc["A", c] for c in ("first_order_date", "last_order_date")] == [
        dt.date(2024, 1, 5), dt.date(2024, 3, 5)]


def test_rfm_at_an_earlier_date_counts_only_the_orders_before_it(cleaned, net_lines, customers):
    # at the as-of date it is the customers table's recency, frequency and monetary
    now = rfm_at(net_lines, cleaned.as_of).set_index("customer_id")
    cols = ["recency_days", "frequency_orders", "monetary"]
    assert now.equals(customers[cols].astype(now.dtypes.to_dict()))
    # on 2024-03-01 A has one order (2024-01-05, 56 days before, 10.0 net) and B one (2024-02-10, 20.0)
    then = rfm_at(net_lines, dt.date(2024, 3, 1)).set_index("customer_id")
    assert then.loc["A", cols].tolist() == [56, 1, 10.0] and then.loc["B", cols].tolist() == [20, 1, 20.0]


def test_tenure_and_days_between_orders_count_calendar_days(customers):
    assert customers.loc["A", "tenure_days"] == (dt.date(2024, 4, 2) - dt.date(2024, 1, 5)).days == 88
    assert customers.loc["A", "mean_days_between_orders"] == 60  # 2024-01-05 -> 2024-03-05
    assert customers.loc["B", "mean_days_between_orders"] == 51  # 2024-02-10 -> 2024-04-01


def test_basket_features_count_items_and_distinct_products(customers):
    assert customers.loc["A", "avg_order_value"] == 20.0     # 40 net / 2 orders
    assert customers.loc["A", "items_per_order"] == 1.5      # (2 mugs + 1 vase) / 2 orders: the plate came back
    assert customers.loc["A", "distinct_products"] == 2
    assert customers.loc["B", "country"] == "France"


def test_returns_are_counted_per_customer_with_a_rate_of_what_was_bought(customers):
    assert customers.loc["A", ["returns_lines", "returns_value"]].tolist() == [1, 20.0]
    assert customers.loc["A", "return_rate"] == pytest.approx(20 / 60)  # 60 bought, 20 of it returned
    assert customers.loc["B", "return_rate"] == 0.0


def test_one_order_customers_have_no_gap_between_orders(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("customer_id,order_date,revenue\nA,2024-01-01,10\nB,2024-01-01,5\nB,2024-01-11,5\n")
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    cleaned = clean(src.table, detect_columns(list(src.columns)), con, shown="one", as_of=None)
    c = features_of(cleaned)
    assert np.isnan(c.loc["A", "mean_days_between_orders"])
    assert c.loc["B", "frequency_orders"] == 2  # without order ids each customer-day is one order
    assert c.loc["B", "mean_days_between_orders"] == 10


def test_price_habits_compare_each_line_with_the_products_median_price():
    # X sells at 10 three times and once at 8 (80% of the median 10, so a low price); C's line
    # without a product counts as a line but has no price ratio and no distinct product
    lines = ibis.memtable(pd.DataFrame({
        "customer_id": ["A", "B", "B", "C", "C"], "product_id": ["X", "X", "X", "X", None],
        "product_name": ["x"] * 4 + [None], "unit_price": [10.0, 10.0, 10.0, 8.0, 3.0]}))
    got = _price_habits(lines).execute().set_index("customer_id").sort_index()
    assert got["n_lines"].tolist() == [1, 2, 2]
    assert got["price_index"].tolist() == pytest.approx([1.0, 1.0, 0.8])
    assert got["low_price_share"].tolist() == [0.0, 0.0, 1.0]


def test_distinct_products_are_counted_over_numbers_or_over_ids_alike():
    from analysis import engine

    lines = ibis.memtable(pd.DataFrame({
        "customer_id": ["A", "A", "A", "B", "B", "C"], "product_id": ["X", "Y", "X", "X", None, None],
        "product_name": ["x", "y", "x", "x", None, None], "unit_price": [1.0] * 6}))
    ids = ibis.memtable(pd.DataFrame({"customer_id": ["A", "B", "C"]}))
    customers = ids.mutate(_hc=engine.hash64(ids.customer_id)).execute()
    by_numbers = _distinct_products(lines, customers).set_index("customer_id")["distinct_products"]
    colliding = customers.assign(_hc=7)  # as if two ids shared a number: counted over the ids
    by_ids = _distinct_products(lines, colliding).set_index("customer_id")["distinct_products"]
    assert by_numbers.fillna(0).to_dict() == {"A": 2, "B": 1, "C": 0}
    assert by_ids.reindex(["A", "B", "C"]).fillna(0).to_dict() == {"A": 2, "B": 1, "C": 0}
