"""Acquisition cohorts, repeat purchase and new vs returning revenue (engine work on the kept lines).

Each function takes the kept lines (an Ibis table with the canonical columns), aggregates on the
engine, and returns small pandas tables: one row per cohort and month, per month, or per bin.
An order's date is its first line's (rollups.orders); months are calendar months, shown
as their first day; a customer's cohort is the month of their first order.

The data starts in the middle of most customers' relationships: a customer whose first order in
the data falls in its first month (`start`, the first kept order's date) was most likely a
customer already. They form no acquisition cohort ("already customers when the data starts"),
their revenue is never new, and their first order in the data is not their first order, so they
are left out of the time to a second order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import ibis
import numpy as np
import pandas as pd

from analysis import engine
from analysis.engine import rollups
from analysis.studies.study import Study, StudyResult

# Time to second order: (label, first day, last day) per bin; None = no upper bound.
SECOND_ORDER_BINS = (
    ("0-7", 0, 7), ("8-30", 8, 30), ("31-60", 31, 60), ("61-90", 61, 90),
    ("91-180", 91, 180), ("181-365", 181, 365), (">365", 366, None),
)


def cohort_months(lines: ibis.Table) -> pd.DataFrame:
    """The engine's part of cohort_retention and new_vs_returning: one row per cohort and month
    with orders, first_month and month (months since year 0), customers (cohort members with an
    order that month) and revenue."""
    acts = _customer_months(lines)
    return engine.execute(acts.group_by(["first_month", "month"]).aggregate(
        customers=acts.count(), revenue=acts.revenue.sum()))


def month_index(day) -> int:
    """Months since year 0 of a date (the numbering of cohort_months)."""
    day = pd.Timestamp(day)
    return day.year * 12 + day.month - 1


def cohort_retention(lines: ibis.Table, months: pd.DataFrame | None = None, start=None) -> pd.DataFrame:
    """Monthly acquisition cohorts and the share of each that orders again in each later month.

    One row per cohort and month since its first month, up to the last month in the data (months
    with no orders from the cohort are rows of zeros), sorted by cohort_month, months_since_first:
    cohort_month (date, first day), already_customers (True for the cohort of `start`'s month,
    the data's first: customers already buying when the data starts, not acquired then; False for
    all without `start`), months_since_first (0 = the acquisition month), customers
    (distinct cohort members with an order that month), cohort_size (customers acquired that month),
    retention (customers / cohort_size, 0..1; 1 at month 0), revenue (the cohort's revenue that
    month, rounded to cents). `months`: cohort_months(lines), when already fetched.
    """
    agg = cohort_months(lines) if months is None else months
    cohorts = np.sort(agg["first_month"].unique()).astype(np.int64)
    last = int(agg["month"].max()) if len(agg) else 0
    grid = pd.DataFrame(
        [(c, k) for c in cohorts.tolist() for k in range(last - c + 1)], columns=["first_month", "k"],
    )
    agg = agg.assign(k=agg["month"] - agg["first_month"]).astype({"first_month": "int64", "k": "int64"})
    out = grid.merge(agg[["first_month", "k", "customers", "revenue"]], on=["first_month", "k"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64").round(2)   # parallel sums carry float noise
    size = out.loc[out["k"] == 0].set_index("first_month")["customers"]
    out["cohort_size"] = out["first_month"].map(size).astype("int64")
    out["retention"] = out["customers"] / out["cohort_size"]
    out["cohort_month"] = _month_start(out["first_month"])
    out["already_customers"] = out["first_month"] == month_index(start) if start is not None else False
    out = out.rename(columns={"k": "months_since_first"})
    return out[["cohort_month", "already_customers", "months_since_first", "customers", "cohort_size", "retention",
                "revenue"]]


class RepeatSummary(NamedTuple):
    """Repeat purchase: headline figures and the time-to-second-order histogram (see repeat_summary)."""

    figures: dict
    histogram: pd.DataFrame


def customer_days_to_second(lines: ibis.Table) -> pd.DataFrame:
    """The engine's part of repeat_summary: one row per customer, customer_id, first_day (the
    date of their first order in the data) and days (see days_to_second_order; NaN for one-order
    customers)."""
    return engine.execute(days_to_second_order(lines))


def acquired(days: pd.DataFrame, start=None) -> pd.DataFrame:
    """The rows of customer_days_to_second for customers acquired in the data: first order after
    the month of `start` (all rows without `start`)."""
    if start is None:
        return days
    first = pd.to_datetime(days["first_day"])
    return days[(first.dt.year * 12 + first.dt.month - 1) > month_index(start)]


def repeat_summary(lines: ibis.Table, days: pd.DataFrame | None = None, start=None) -> RepeatSummary:
    """How many customers come back, and how soon they place a second order.

    figures: customers (with a kept order), repeat_customers (with 2 or more orders), repeat_rate
    (repeat_customers / customers, 0..1), acquired_customers (whose first order falls after the
    data's first month, `start`'s; all without it) and, over the repeat customers among them,
    acquired_repeat_customers, days_to_second_q1, days_to_second_median, days_to_second_q3
    (calendar days from the first order's date to the second's, linear interpolation; NaN without
    such customers).
    histogram: one row per SECOND_ORDER_BINS bin, in order: bin (label, e.g. "8-30"), low_days,
    high_days (inclusive whole days; <NA> for the open last bin), customers, share (of the acquired
    repeat customers, 0..1). Two orders on the same date are 0 days apart. `days`:
    customer_days_to_second(lines), when already fetched.
    """
    per = customer_days_to_second(lines) if days is None else days
    customers, repeat_customers = len(per), int(per["days"].notna().sum())
    new = acquired(per, start)
    gaps = new["days"].dropna().to_numpy(dtype="float64")
    q1, median, q3 = np.quantile(gaps, [0.25, 0.5, 0.75]) if len(gaps) else (np.nan,) * 3  # linear
    figures = {
        "customers": customers, "repeat_customers": repeat_customers,
        "repeat_rate": repeat_customers / customers if customers else float("nan"),
        "acquired_customers": len(new), "acquired_repeat_customers": len(gaps),
        "days_to_second_q1": float(q1), "days_to_second_median": float(median), "days_to_second_q3": float(q3),
    }
    hist = pd.DataFrame(SECOND_ORDER_BINS, columns=["bin", "low_days", "high_days"])
    hist["high_days"] = hist["high_days"].astype("Int64")
    hist["customers"] = np.array([int(((gaps >= low) & (gaps <= (np.inf if high is None else high))).sum())
                                  for _label, low, high in SECOND_ORDER_BINS], dtype=np.int64)
    hist["share"] = hist["customers"] / len(gaps) if len(gaps) else 0.0
    return RepeatSummary(figures, hist)


def new_vs_returning(lines: ibis.Table, months: pd.DataFrame | None = None, start=None) -> pd.DataFrame:
    """Revenue and active customers per month, split by whether the customer is new that month.

    One row per month with orders, sorted: month (date, first day), new_revenue (from customers
    whose first order is in that month, all their orders that month), returning_revenue (from
    customers who first ordered in an earlier month, or in the data's first month, `start`'s:
    they were customers already), new_customers, returning_customers (distinct customers with an
    order that month). Revenue in the data's currency, rounded to cents; new_revenue +
    returning_revenue is the month's revenue. `months`: cohort_months(lines), when already fetched.
    """
    agg = cohort_months(lines) if months is None else months
    new = agg["month"] == agg["first_month"]
    if start is not None:
        new &= agg["first_month"] != month_index(start)
    by = agg.assign(new_revenue=agg["revenue"].where(new, 0.0), returning_revenue=agg["revenue"].where(~new, 0.0),
                    new_customers=agg["customers"].where(new, 0), returning_customers=agg["customers"].where(~new, 0))
    out = by.groupby("month", sort=True)[["new_revenue", "returning_revenue", "new_customers",
                                          "returning_customers"]].sum().reset_index()
    for col in ("new_revenue", "returning_revenue"):
        out[col] = out[col].astype("float64").round(2)
    for col in ("new_customers", "returning_customers"):
        out[col] = out[col].astype("int64")
    out["month"] = _month_start(out["month"])
    return out[["month", "new_revenue", "returning_revenue", "new_customers", "returning_customers"]]


def _customer_months(lines: ibis.Table) -> ibis.Table:
    """One row per customer and month with an order: customer_id, month, revenue and the customer's
    first month (months counted from year 0, so that month differences are integer subtraction)."""
    orders = rollups.orders(lines)
    orders = orders.mutate(month=orders.order_ts.year() * 12 + orders.order_ts.month() - 1)
    acts = orders.group_by(["customer_id", "month"]).aggregate(revenue=orders.revenue.sum())
    first = acts.group_by("customer_id").aggregate(first_month=acts.month.min())
    return acts.join(first, "customer_id").select("customer_id", "month", "first_month", "revenue")


def days_to_second_order(lines: ibis.Table) -> ibis.Table:
    """One row per customer: first_day (the date of the first order) and days, the calendar days
    from the first order's date to the second's (0 for two orders on the first date; null for
    one-order customers)."""
    orders = rollups.orders(lines)
    orders = orders.mutate(day=orders.order_ts.date())
    first = orders.group_by("customer_id").aggregate(first_day=orders.day.min())
    j = orders.join(first, "customer_id")
    # one join and aggregate rather than ranking every order by date
    per = j.group_by("customer_id").aggregate(
        first_day=j.first_day.min(), on_first_day=j.count(where=j.day == j.first_day),
        next_day=j.day.min(where=j.day > j.first_day))
    return per.select("customer_id", "first_day", days=ibis.ifelse(per.on_first_day >= 2, 0,
                                                                   per.next_day.delta(per.first_day, unit="day")))


def _month_start(index: pd.Series) -> pd.Series:
    """Months since year 0 -> datetime.date of the month's first day."""
    index = index.astype("int64")
    return pd.to_datetime(pd.DataFrame({"year": index // 12, "month": index % 12 + 1, "day": 1})).dt.date


def cohort_queries(lines) -> dict:
    """The engine's part of cohort_tables (and of change_tables' days to second order): customers
    and revenue per cohort and month, days from first to second order per customer."""
    return {"months": cohort_months(lines), "days": customer_days_to_second(lines)}


def cohort_tables(lines, queried: dict, start: dt.date | None = None) -> tuple[dict, dict]:
    """Monthly acquisition cohorts, repeat purchase and time to second order, new vs returning.
    `queried`: cohort_queries(lines); `start`: the data's first day (customers first seen in its
    month were customers already: see analysis.studies.cohorts)."""
    repeat = repeat_summary(lines, queried["days"], start)
    tables = {"cohorts": cohort_retention(lines, queried["months"], start), "second_order": repeat.histogram,
              "new_vs_returning": new_vs_returning(lines, queried["months"], start)}
    return tables, {f"repeat_{k}" if not k.startswith("repeat") else k: v for k, v in repeat.figures.items()}


def _queries(inputs) -> dict:
    return {"tables": (cohort_queries, inputs.lines)}


@dataclass(frozen=True)
class CohortFigures:
    repeat_customers: int                    # ordered on two or more days
    repeat_rate: float                       # of all customers
    repeat_acquired_customers: int           # first seen after the data's first month
    repeat_acquired_repeat_customers: int    # of those, the repeat customers
    repeat_days_to_second_q1: float          # their days from first to second order: quartiles
    repeat_days_to_second_median: float
    repeat_days_to_second_q3: float


def _result(inputs, queried) -> StudyResult:
    tables, figures = cohort_tables(inputs.lines, queried["cohorts.tables"], inputs.start)
    return StudyResult(tables, CohortFigures(**figures))


STUDY = Study("cohorts", _result, queries=_queries)
