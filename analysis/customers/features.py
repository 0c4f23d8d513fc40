"""One row per customer: recency, frequency, monetary and behaviour features.

Aggregation runs on the engine over the kept lines and the tables summed from them (derived:
orders and products); the result (one row per customer) is pandas.
"""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from analysis import engine
from analysis.engine import rollups

CUSTOMER_FEATURES = [
    "customer_id", "country", "first_order_date", "last_order_date", "recency_days",
    "days_since_any_order", "frequency_orders", "order_days", "monetary", "revenue_last_365_days",
    "avg_order_value", "tenure_days",
    "mean_days_between_orders", "items_per_order", "distinct_products", "returns_lines", "returns_value",
    "return_rate",
    "lines_per_order", "price_index", "low_price_share", "gap_cv", "weekend_share", "evening_share",
    "share_q1", "share_q2", "share_q3", "share_q4", "active_days", "item_price", "peak_quarter_share",
]
LOW_PRICE = 0.9  # a line below 90% of the product's median price counts as bought at a low price
def _main_country(orders: ibis.Table) -> ibis.Table:
    """Each customer's country with the most revenue (ties: alphabetical), for deterministic output."""
    by = orders.group_by(["customer_id", "country"]).aggregate(revenue=orders.revenue.sum())
    rank = ibis.row_number().over(group_by=by.customer_id, order_by=[ibis.desc(by.revenue.round(2)), by.country])
    by = by.mutate(_rank=rank)
    return by.filter(by._rank == 0).select("customer_id", "country")


def _price_habits(lines: ibis.Table, products: ibis.Table | None = None) -> ibis.Table:
    """Per customer: the line count, price_index (mean over lines of unit price / the product's
    median price; 1 = catalogue price) and low_price_share (share of lines below LOW_PRICE x the
    median; both NULL for lines without a product)."""
    prices = (rollups.products(lines) if products is None else products).select("product_id", "median_price")
    l = lines.left_join(prices, "product_id")
    ratio = l.unit_price / l.median_price
    return l.group_by("customer_id").aggregate(
        n_lines=l.count(), price_index=ratio.mean(), low_price_share=(ratio < LOW_PRICE).cast("float64").mean())


def _distinct_products(lines: ibis.Table, customers: pd.DataFrame) -> pd.DataFrame:
    """customer_id and distinct_products of `customers` (customer_id and _hc, the number of each
    customer's id: engine.hash64). A query of its own: beside other aggregates of the lines, the
    engine copies every line first to share it between them. Counted over pairs of numbers
    (customer, product) when both kinds of number are distinct, else over the ids themselves:
    DuckDB cannot spill an aggregation of tens of millions of groups keyed by text within its
    budget, and numbers group faster anyway."""
    with_product = lines.filter(lines.product_id.notnull())
    if customers["_hc"].is_unique and rollups.product_keys(lines) is not None:
        pairs = with_product.select(_hc=engine.hash64(with_product.customer_id, engine.kind_of(lines)),
                                    _hp=rollups.product_key(with_product)).distinct()
        counts = engine.execute(pairs.group_by("_hc").aggregate(distinct_products=pairs.count()))
        return customers.merge(counts, on="_hc", how="left")[["customer_id", "distinct_products"]]
    pairs = with_product.select("customer_id", "product_id").distinct()
    return engine.execute(pairs.group_by("customer_id").aggregate(distinct_products=pairs.count()))


def _order_habits(orders: ibis.Table) -> ibis.Table:
    """Per customer: weekend, evening (18:00 or later) and quarter shares of orders, and gap_cv,
    the coefficient of variation of days between consecutive orders (NULL below 3 orders)."""
    day = orders.order_ts.date()
    previous = day.lag().over(group_by=orders.customer_id, order_by=[orders.order_ts, orders.order_id])
    gap = day.delta(previous, unit="day")
    o = orders.mutate(gap=gap.cast("float64"), weekend=orders.order_ts.day_of_week.index() >= 5,
                      evening=orders.order_ts.hour() >= 18, quarter=orders.order_ts.quarter())
    share = lambda cond: cond.cast("float64").mean()  # noqa: E731
    return o.group_by("customer_id").aggregate(
        weekend_share=share(o.weekend), evening_share=share(o.evening),
        **{f"share_q{q}": share(o.quarter == q) for q in range(1, 5)},
        gap_mean=o.gap.mean(), gap_std=o.gap.std(how="pop"), n_gaps=o.gap.count(),
    )


def customer_features(lines: ibis.Table, customer_returns: pd.DataFrame, as_of: dt.date,
                      orders: ibis.Table | None = None, distinct: bool = True,
                      products: ibis.Table | None = None) -> pd.DataFrame:
    """Columns CUSTOMER_FEATURES, sorted by customer_id: one row per customer with a line in `lines`
    (the kept lines net of returns: returns.Netted.lines).

    recency_days and tenure_days count whole days from the last and first order date to `as_of`;
    days_since_any_order counts them from the last order placed, counting orders that later came back
    in full (a customer who ordered yesterday and cancelled is in touch, not lapsed);
    order_days counts distinct days with an order; mean_days_between_orders is (last - first order
    date) / (orders - 1), NaN for one order; monetary is net revenue, revenue_last_365_days the part
    of it in the 365 days before `as_of`. customer_returns (returns.Netted.customer_returns):
    returns_lines and returns_value (what the customer's returns undid, at the price paid; 0
    without); return_rate is returns_value / what they bought (monetary + returns_value).
    Habits: lines_per_order (basket breadth), price_index and low_price_share (see _price_habits),
    gap_cv (order regularity; NaN below 3 orders), weekend_share, evening_share (NaN when the data
    has no times of day) and share_q1..share_q4 (seasonality: share of orders in each calendar quarter),
    peak_quarter_share (the largest of them), active_days (last - first order date), item_price (net
    revenue per item bought).
    `orders`: the orders of these lines when already at hand (a filter of the stored ones, say),
    `products`: the products whose median prices price_index compares with (default: these lines');
    distinct=False leaves distinct_products at 0 and spares a pass over the lines (for the
    validation's earlier snapshot, which does not use it).
    """
    orders = rollups.orders(lines) if orders is None else orders
    year_ago = engine.day_start(as_of - dt.timedelta(days=365))
    per_customer = orders.group_by("customer_id").aggregate(
        first_ts=orders.order_ts.min(), last_ts=orders.order_ts.max(), frequency_orders=orders.count(),
        order_days=orders.order_ts.date().nunique(), monetary=orders.revenue.sum(),
        revenue_last_365_days=orders.revenue.sum(where=orders.order_ts >= year_ago), items=orders["items"].sum(),
    )
    per_customer = per_customer.mutate(_hc=engine.hash64(per_customer.customer_id, engine.kind_of(lines)))
    joined = (per_customer.left_join(_price_habits(lines, products), "customer_id")
              .left_join(_main_country(orders), "customer_id")
              .left_join(_order_habits(orders), "customer_id"))
    df = engine.execute(joined.select(
        "customer_id", "country", "first_ts", "last_ts", "frequency_orders", "order_days", "monetary",
        "revenue_last_365_days", "items", "n_lines", "price_index", "low_price_share",
        "weekend_share", "evening_share", "share_q1", "share_q2", "share_q3", "share_q4",
        "gap_mean", "gap_std", "n_gaps", "_hc",
    ))
    df["customer_id"] = df["customer_id"].astype("string")
    # Sorted once, here, so that the columns below are looked up by position (a merge would copy
    # every column of every customer again: at a million customers, each copy is hundreds of MB).
    df = df.take(np.argsort(df["customer_id"].to_numpy(dtype=object), kind="stable")).reset_index(drop=True)
    if distinct:
        counts = _distinct_products(lines, df[["customer_id", "_hc"]])
        df["distinct_products"] = by_customer(df["customer_id"], counts, ["distinct_products"])["distinct_products"]
    else:
        df["distinct_products"] = 0
    returned = ["returns_lines", "returns_value", "last_returned_order_ts"]
    df[returned] = by_customer(df["customer_id"], customer_returns, returned)
    return derive(df, as_of, has_times=_has_times(orders))


def by_customer(ids: pd.Series, table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """table's `columns` for each of `ids`, in their order and with their index (NaN or NULL for an
    id not in table; table's customer ids unique): what a left join would add, without copying the
    other columns of the left side, as a merge does."""
    keys = pd.Index(table["customer_id"].astype("string"))
    return table[columns].set_axis(keys).reindex(pd.Index(ids)).set_axis(ids.index)


def rfm_at(lines: ibis.Table, as_of: dt.date) -> pd.DataFrame:
    """Recency, frequency and monetary value as they were on `as_of`: one row per customer with an
    order dated before it, sorted by customer_id (customer_id, recency_days, frequency_orders,
    monetary), the same figures customer_features gives. An order counts on the date of its first
    line, so this reads the (stored) orders, not the lines."""
    orders = rollups.orders(lines)
    before = orders.filter(orders.order_ts < engine.day_start(as_of))
    df = engine.execute(before.group_by("customer_id").aggregate(
        last_ts=before.order_ts.max(), frequency_orders=before.count(), monetary=before.revenue.sum()))
    last = pd.to_datetime(df["last_ts"]).dt.normalize()
    out = pd.DataFrame({
        "customer_id": df["customer_id"].astype("string"),
        "recency_days": (pd.Timestamp(as_of) - last).dt.days.astype("int64"),
        "frequency_orders": df["frequency_orders"].astype("int64"),
        "monetary": df["monetary"].astype("float64").round(2),  # as in derive
    })
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _has_times(orders: ibis.Table) -> bool:
    """Whether order timestamps carry a time of day (not all at midnight)."""
    ts = orders.order_ts
    return bool(engine.execute(orders.filter((ts.hour() != 0) | (ts.minute() != 0)).limit(1).count()))


def derive(df: pd.DataFrame, as_of: dt.date, has_times: bool = True) -> pd.DataFrame:
    """Derived per-customer columns from the aggregated ones (pure pandas), in the order of `df`
    (customer_features sorts it by customer_id)."""
    first = pd.to_datetime(df["first_ts"]).dt.normalize()
    last = pd.to_datetime(df["last_ts"]).dt.normalize()
    as_of_ts = pd.Timestamp(as_of)
    freq = df["frequency_orders"].astype("int64")
    # The engine sums in parallel, so sums carry float noise in the last bits; money is rounded to
    # cents so that scores, ties and the site are the same on every run.
    monetary = df["monetary"].astype("float64").round(2)
    span = (last - first).dt.days
    out = pd.DataFrame({
        "customer_id": df["customer_id"].astype("string"),
        "country": df["country"].astype("string").fillna("Unknown"),
        "first_order_date": first.dt.date,
        "last_order_date": last.dt.date,
        "recency_days": (as_of_ts - last).dt.days.astype("int64"),
        "days_since_any_order": (as_of_ts - np.maximum(last, pd.to_datetime(df["last_returned_order_ts"])
                                                       .dt.normalize().fillna(last))).dt.days.astype("int64"),
        "frequency_orders": freq,
        "order_days": df["order_days"].astype("int64"),
        "monetary": monetary,
        "revenue_last_365_days": df["revenue_last_365_days"].fillna(0.0).astype("float64").round(2),
        "avg_order_value": monetary / freq,
        "tenure_days": (as_of_ts - first).dt.days.astype("int64"),
        "mean_days_between_orders": np.where(freq > 1, span / (freq - 1).clip(lower=1), np.nan),
        "items_per_order": df["items"].astype("float64") / freq,
        "distinct_products": df["distinct_products"].fillna(0).astype("int64"),
        "returns_lines": df["returns_lines"].fillna(0).astype("int64"),
        "returns_value": df["returns_value"].fillna(0.0).astype("float64").round(2),
    })
    bought = out["monetary"] + out["returns_value"]
    out["return_rate"] = (out["returns_value"] / bought.where(bought > 0)).clip(0, 1).fillna(0.0)
    # Habits: rounded so parallel float noise cannot change clusters between runs.
    out["lines_per_order"] = (df["n_lines"].astype("float64") / freq).round(6)
    out["price_index"] = df["price_index"].astype("float64").round(6)
    out["low_price_share"] = df["low_price_share"].astype("float64").round(6)
    gaps_ok = (df["n_gaps"].fillna(0) >= 2) & (df["gap_mean"] > 0)
    out["gap_cv"] = (df["gap_std"] / df["gap_mean"]).where(gaps_ok).astype("float64").round(6)
    out["weekend_share"] = df["weekend_share"].astype("float64").round(6)
    out["evening_share"] = df["evening_share"].astype("float64").round(6) if has_times else np.nan
    for q in range(1, 5):
        out[f"share_q{q}"] = df[f"share_q{q}"].astype("float64").round(6)
    # Behaviour that is not a copy of another column for any customer: the days between first and
    # last order (0 for one order; tenure would repeat recency for them), the average net price of
    # an item (average order value over items per order), the share of orders in the busiest quarter.
    out["active_days"] = (out["tenure_days"] - out["recency_days"]).astype("int64")
    items = df["items"].astype("float64")
    out["item_price"] = (monetary / items.where(items > 0)).round(6)
    out["peak_quarter_share"] = out[[f"share_q{q}" for q in range(1, 5)]].max(axis=1).round(6)
    return out[CUSTOMER_FEATURES]
