"""Returns matched to the purchases they undo, on files whose every figure is worked out by hand."""

import datetime as dt

import hypothesis.strategies as hs
import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from analysis.read import returns
from analysis.read.clean import clean
from analysis.schema import detect_columns
from analysis.read.source import open_source

HEADER = "order_id,customer_id,order_date,product_id,product_name,quantity,unit_price,country"


def net(tmp_path, lines: list[str], header: str = HEADER, as_of=None):
    path = tmp_path / "sales.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    cleaned = clean(src.table, detect_columns(list(src.columns)), con, shown=str(path), as_of=as_of)
    return returns.net_of_returns(cleaned, con), cleaned


def kept(netted) -> pd.DataFrame:
    """The net lines, one row per (order, product), sorted."""
    df = netted.lines.execute()
    return df.sort_values(["customer_id", "order_id", "product_id"]).reset_index(drop=True)


def money(netted) -> dict:
    return dict(zip(netted.money["item"], zip(netted.money["lines"], netted.money["value"])))


def test_a_partial_return_leaves_what_was_kept(tmp_path):
    n, _ = net(tmp_path, ["1,A,2024-01-05,P1,MUG,10,2.00,UK",
                          "C2,A,2024-01-20,P1,MUG,-4,2.00,UK"])
    lines = kept(n)
    assert lines[["order_id", "quantity", "revenue"]].values.tolist() == [["1", 6.0, 12.0]]
    m = money(n)
    assert (m["gross"][1], m["returned"][1], m["net"][1]) == (20.0, -8.0, 12.0)
    assert n.customer_returns[["customer_id", "returns_lines", "returns_value"]].values.tolist() == [["A", 1, 8.0]]


def test_a_return_takes_from_the_nearest_earlier_order_first_then_the_one_before(tmp_path):
    n, _ = net(tmp_path, ["1,A,2024-01-01,P1,MUG,5,2.00,UK",
                          "2,A,2024-01-10,P1,MUG,3,2.00,UK",
                          "3,A,2024-01-12,P2,VASE,1,9.00,UK",
                          "C4,A,2024-01-20,P1,MUG,-6,2.00,UK"])
    lines = kept(n)
    # order 2 (nearest) gives back all 3, order 1 the other 3: order 2 is gone, order 1 keeps 2
    assert lines[["order_id", "product_id", "quantity", "revenue"]].values.tolist() == [
        ["1", "P1", 2.0, 4.0], ["3", "P2", 1.0, 9.0]]
    assert n.figures["orders_returned_in_full"] == 1 and n.figures["lines_returned_in_full"] == 1
    assert n.figures["net_revenue"] == 13.0


def test_an_order_cancelled_the_same_day_did_not_happen(tmp_path):
    n, _ = net(tmp_path, ["581483,B,2024-03-01 09:15:00,P1,MUG,80,2.10,UK",
                          "581483,B,2024-03-01 09:15:00,P2,VASE,2,5.00,UK",
                          "C581484,B,2024-03-01 09:27:00,P1,MUG,-80,2.10,UK",
                          "C581484,B,2024-03-01 09:27:00,P2,VASE,-2,5.00,UK",
                          "500,B,2024-02-01 10:00:00,P3,PLATE,1,2.90,UK"])
    lines = kept(n)
    assert lines["order_id"].tolist() == ["500"] and lines["revenue"].tolist() == [2.90]
    assert n.figures["orders_returned_in_full"] == 1
    assert n.returned_everything.empty  # B keeps the earlier order
    # B placed the cancelled order later than the one kept: the contact date is the cancelled order's
    assert n.customer_returns["last_returned_order_ts"].tolist() == [pd.Timestamp("2024-03-01 09:15:00")]


def test_a_return_larger_than_the_purchase_undoes_the_purchase_and_the_rest_is_not_subtracted(tmp_path):
    n, _ = net(tmp_path, ["1,A,2024-01-05,P1,MUG,2,3.00,UK",
                          "9,A,2024-01-06,P2,VASE,1,10.00,UK",
                          "C2,A,2024-01-20,P1,MUG,-5,3.00,UK"])
    assert kept(n)["order_id"].tolist() == ["9"]
    m = money(n)
    assert m["returned"] == (1, -6.0) and m["net"][1] == 10.0
    assert m["matched"] == (1, -6.0) and m["excess"] == (1, -9.0)
    assert m["total"] == (1, -15.0)


def test_a_return_with_no_earlier_purchase_is_counted_apart_and_never_subtracted(tmp_path):
    n, _ = net(tmp_path, ["1,A,2024-01-05,P1,MUG,2,3.00,UK",
                          "C2,A,2024-01-20,P9,LAMP,-1,40.00,UK",    # never bought
                          "C3,A,2024-01-02,P1,MUG,-1,3.00,UK"])     # before the purchase
    assert kept(n)["revenue"].tolist() == [6.0]
    m = money(n)
    assert m["no_purchase"] == (2, -43.0) and m["returned"] == (0, 0.0) and m["net"][1] == 6.0
    assert n.figures["unmatched_returns_value"] == 43.0


def test_a_credit_at_the_price_of_one_purchase_undoes_that_purchase_before_a_later_one(tmp_path):
    # UCI customer 15098: 60 small baskets at 4.95, then 60 at 649.50 (a keying error reversed by a
    # manual credit), then the 60 small ones came back at 4.95
    n, _ = net(tmp_path, ["556442,A,2011-06-10 15:22:00,22502,SMALL BASKET,60,4.95,UK",
                          "556444,A,2011-06-10 15:28:00,22502,BASKET 60 PIECES,60,649.50,UK",
                          "556446,A,2011-06-10 15:33:00,22502,BASKET 60 PIECES,1,649.50,UK",
                          "C556448,A,2011-06-10 15:39:00,22502,SMALL BASKET,-60,4.95,UK"])
    assert kept(n)["order_id"].tolist() == ["556444", "556446"]
    assert money(n)["returned"] == (1, -297.0)


def test_a_manual_credit_worth_exactly_one_earlier_purchase_undoes_it(tmp_path):
    # the rest of 15098's story: the 60 baskets at 649.50 were a keying error, put right by a
    # manual credit of 38,970.00 (code M, a non-product line); the one basket bought after stays
    n, _ = net(tmp_path, ["556444,A,2011-06-10 15:28:00,22502,BASKET 60 PIECES,60,649.50,UK",
                          "C556445,A,2011-06-10 15:31:00,M,Manual,-1,38970.00,UK",
                          "556446,A,2011-06-10 15:33:00,22502,BASKET 60 PIECES,1,649.50,UK",
                          "C9,A,2011-06-11 10:00:00,M,Manual,-1,12.34,UK"])           # worth no purchase
    assert kept(n)["order_id"].tolist() == ["556446"]
    m = money(n)
    assert m["reversal"] == (1, -38970.0) and m["returned"] == (1, -38970.0)
    assert m["non_product"] == (1, -12.34) and m["net"][1] == 649.5
    assert n.figures["orders_returned_in_full"] == 1


def test_a_customer_who_returned_everything_is_listed_apart(tmp_path):
    n, _ = net(tmp_path, ["541431,C,2011-01-18 10:01:00,23166,STORAGE JAR,74215,1.04,UK",
                          "C541433,C,2011-01-18 10:17:00,23166,STORAGE JAR,-74215,1.04,UK",
                          "1,A,2011-01-19,P1,MUG,1,3.00,UK"])
    gone = n.returned_everything
    assert gone[["customer_id", "orders", "bought_value", "returned_value"]].values.tolist() == [
        ["C", 1, 77183.6, 77183.6]]
    assert gone["last_order_date"].tolist() == [dt.date(2011, 1, 18)]
    assert kept(n)["customer_id"].tolist() == ["A"]


def test_without_product_ids_a_refund_is_matched_in_money(tmp_path):
    n, _ = net(tmp_path, ["C1,2024-01-05,120.00", "C1,2024-01-20,-50.00", "C1,2024-02-01,30.00"],
               header="customer_id,order_date,amount")
    lines = kept(n)
    assert sorted(lines["revenue"].tolist()) == pytest.approx([30.0, 70.0])
    assert money(n)["returned"] == (1, -50.0)


def test_postage_credits_and_repeated_lines_are_placed_and_the_returns_add_up_to_the_row_ledger(tmp_path):
    n, cleaned = net(tmp_path, ["1,A,2024-01-05,P1,MUG,4,2.50,UK",
                                "C2,A,2024-01-06,POST,POSTAGE,-1,15.00,UK",
                                "C3,A,2024-01-07,P1,MUG,-1,2.50,UK",
                                "C3,A,2024-01-07,P1,MUG,-1,2.50,UK",       # the same line again
                                "C4,A,2024-05-01,P1,MUG,-1,2.50,UK"],      # after the as-of date
               as_of=dt.date(2024, 3, 1))
    m = money(n)
    assert m["matched"] == (1, -2.5) and m["duplicate"] == (1, -2.5)
    assert m["non_product"] == (1, -15.0) and m["after_as_of"] == (1, -2.5)
    row_ledger = cleaned.ledger.set_index("reason").loc["cancellation"]
    assert m["total"] == (row_ledger["rows"], row_ledger["revenue"]) == (4, -22.5)
    returns_part = n.money[(n.money["section"] == "returns") & (n.money["item"] != "total")]
    assert returns_part["value"].sum() == pytest.approx(-22.5)
    assert kept(n)["quantity"].tolist() == [3.0]


def test_without_returns_the_lines_are_the_kept_lines(tmp_path):
    n, cleaned = net(tmp_path, ["1,A,2024-01-05,P1,MUG,2,3.00,UK", "2,B,2024-01-06,P1,MUG,1,3.00,UK"])
    assert kept(n)[["order_id", "quantity", "revenue"]].values.tolist() == [["1", 2.0, 6.0], ["2", 1.0, 3.0]]
    assert n.figures["returned_value"] == 0 and n.returned_everything.empty and n.customer_returns.empty


# --- the matching itself, on any events ------------------------------------------------------

# (customer, product, day, is a return, amount, price)
events = hs.lists(hs.tuples(hs.sampled_from("AB"), hs.sampled_from("xy"), hs.integers(0, 20), hs.booleans(),
                            hs.integers(1, 9), hs.sampled_from([1.0, 2.5])), max_size=40)


def event_frames(evs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The purchases and the returns among `evs`, as returns.match takes them (order ids in row order)."""
    def frame(rows):
        return pd.DataFrame({
            "customer_id": pd.Series([e[0] for e in rows], dtype="string"),
            "_pk": pd.Series([e[1] for e in rows], dtype="string"),
            "order_ts": pd.to_datetime([dt.datetime(2024, 1, 1) + dt.timedelta(days=e[2]) for e in rows]),
            "amount": np.array([float(e[4]) for e in rows]), "price": np.array([e[5] for e in rows]),
            "order_id": pd.Series([f"o{i:02d}" for i in range(len(rows))], dtype="string")})
    return frame([e for e in evs if not e[3]]), frame([e for e in evs if e[3]])


@settings(max_examples=200, deadline=None)
@given(events)
def test_matching_never_takes_more_than_was_bought_and_leaves_nothing_matchable_behind(evs):
    purchases, rets = event_frames(evs)
    taken, matched = returns.match(purchases, rets)
    assert taken.sum() == pytest.approx(matched.sum())
    assert (taken >= 0).all() and (taken <= purchases["amount"].to_numpy() + 1e-9).all()
    assert (matched >= 0).all() and (matched <= rets["amount"].to_numpy() + 1e-9).all()
    left = purchases["amount"].to_numpy() - taken
    for i, ret in rets.iterrows():
        if matched[i] < ret["amount"] - 1e-9:  # part unmatched: nothing it could take was left at the end
            could = ((purchases["customer_id"] == ret["customer_id"]) & (purchases["_pk"] == ret["_pk"])
                     & (purchases["order_ts"] <= ret["order_ts"])).to_numpy()
            assert (left[could] <= 1e-9).all()
    for j, bought in purchases.iterrows():  # a purchase with no return at or after it gives nothing back
        same = (rets["customer_id"] == bought["customer_id"]) & (rets["_pk"] == bought["_pk"])
        if not (same & (rets["order_ts"] >= bought["order_ts"])).any():
            assert taken[j] == 0


def reference_match(purchases: pd.DataFrame, returns: pd.DataFrame) -> tuple[list, list]:
    """The rule of returns.match written out plainly, one return at a time: first within the
    return's price, then within its product; each time from the latest earlier purchase."""
    left = purchases["amount"].astype(float).tolist()
    matched = [0.0] * len(returns)
    for same_price in (True, False):
        for i in sorted(range(len(returns)), key=lambda i: (returns["order_ts"].iloc[i], i)):
            r = returns.iloc[i]
            mine = [j for j in range(len(purchases))
                    if purchases["customer_id"].iloc[j] == r["customer_id"] and purchases["_pk"].iloc[j] == r["_pk"]
                    and purchases["order_ts"].iloc[j] <= r["order_ts"]
                    and (not same_price or purchases["price"].iloc[j] == r["price"])]
            mine.sort(key=lambda j: (purchases["order_ts"].iloc[j], purchases["order_id"].iloc[j], j))
            for j in reversed(mine):
                take = min(r["amount"] - matched[i], left[j])
                left[j] -= take
                matched[i] += take
    return [a - b for a, b in zip(purchases["amount"], left)], matched


@settings(max_examples=200, deadline=None)
@given(events)
def test_matching_agrees_with_the_rule_written_out_plainly(evs):
    purchases, rets = event_frames(evs)
    taken, matched = returns.match(purchases, rets)
    want_taken, want_matched = reference_match(purchases, rets)
    assert taken.tolist() == pytest.approx(want_taken) and matched.tolist() == pytest.approx(want_matched)
