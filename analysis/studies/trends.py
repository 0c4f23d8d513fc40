"""Revenue over time: monthly totals and monthly revenue per segment (engine work).

Both read the orders (rollups.orders: one row per customer and order, dated by its first
line), which are far fewer than the lines; an order's revenue counts in the month of its date."""

from __future__ import annotations

import ibis
import pandas as pd

from analysis import engine
from analysis.engine import rollups
from analysis.studies.study import Study, StudyResult


def monthly(lines: ibis.Table, customers: pd.DataFrame, start=None) -> pd.DataFrame:
    """schema.TABLES['monthly']: month (first day), revenue, orders, active customers, new customers
    (customers whose first order falls in the month; none in the month of `start`, the data's first
    day: customers first seen then were customers already, see analysis.studies.cohorts)."""
    orders = rollups.orders(lines)
    m = orders.mutate(month=orders.order_ts.truncate("M").date())
    agg = engine.execute(m.group_by("month").aggregate(
        revenue=m.revenue.sum(), orders=m.count(), customers=m.customer_id.nunique()))
    agg["month"] = pd.to_datetime(agg["month"])
    agg["revenue"] = agg["revenue"].round(2)  # parallel sums carry float noise
    first = pd.to_datetime(customers["first_order_date"]).dt.to_period("M").dt.to_timestamp()
    if start is not None:
        first = first[first != pd.Timestamp(start).to_period("M").to_timestamp()]
    new = first.value_counts().rename("new_customers")
    out = agg.merge(new, left_on="month", right_index=True, how="left")
    out["new_customers"] = out["new_customers"].fillna(0).astype("int64")
    out["month"] = out["month"].dt.date
    return out.sort_values("month").reset_index(drop=True)[
        ["month", "revenue", "orders", "customers", "new_customers"]].astype(
        {"orders": "int64", "customers": "int64"})


def monthly_by_segment(lines: ibis.Table, assignments: pd.DataFrame) -> pd.DataFrame:
    """schema.TABLES['monthly_by_segment']: revenue and active customers per month, kind and segment.
    `assignments`: (customer_id, kind, segment), see affinity.assignments_from.

    Orders are summed per customer and month first, so the join with the segments and the count of
    customers (one row per customer and month) work on far fewer rows than there are lines."""
    orders = rollups.orders(lines)
    m = orders.mutate(month=orders.order_ts.truncate("M").date())
    per = m.group_by(["customer_id", "month"]).aggregate(revenue=m.revenue.sum())
    j = per.join(engine.memtable(assignments), "customer_id")
    out = engine.execute(j.group_by(["month", "kind", "segment"]).aggregate(revenue=j.revenue.sum(),
                                                                            customers=j.count()))
    out["customers"] = out["customers"].astype("int64")
    out["revenue"] = out["revenue"].round(2)
    out["month"] = pd.to_datetime(out["month"]).dt.date
    return out.sort_values(["kind", "segment", "month"]).reset_index(drop=True)[
        ["month", "kind", "segment", "revenue", "customers"]]


def _queries(inputs) -> dict:
    return {"monthly": (monthly, inputs.lines, inputs.customers[["first_order_date"]].copy(), inputs.start)}


def _segment_queries(inputs) -> dict:
    from analysis.studies.products import assignments_from

    return {"monthly_by_segment": (monthly_by_segment, inputs.lines, assignments_from(inputs.customers))}


def _result(inputs, queried) -> StudyResult:
    return StudyResult({"monthly": queried["trends.monthly"],
                        "monthly_by_segment": queried["trends.monthly_by_segment"]})


STUDY = Study("trends", _result, queries=_queries, segment_queries=_segment_queries)
