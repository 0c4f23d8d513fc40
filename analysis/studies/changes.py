"""How customers move between RFM segments over time, and the revenue at risk of lapsing.

segments_at replays the RFM stage at an earlier date on the engine (features.rfm_at, then
rfm.rfm_scores and assign_segments, each date with its own quintile edges); the rest is
vectorised pandas over one row per customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from analysis.customers import features, rfm
from analysis.schema import SEGMENT_KINDS
from analysis.studies import cohorts, validation
from analysis.studies.study import Study, StudyResult

NEW, GONE = "(new)", "(gone)"

AT_RISK_MARGIN = 2.0        # customers with a rhythm: at risk after this many times their typical gap
RHYTHM_ORDER_DAYS = 3       # a typical gap needs orders on at least this many distinct days
ONE_ORDER_QUANTILE = 0.9    # the others: at risk after this quantile of days to a 2nd order
MIN_QUIET_DAYS = 30         # nobody who ordered within this many days is overdue
MIN_TENURE_DAYS = 30        # annual value divides by at least this many days
YEAR_DAYS = 365
ACTION_NONE = ""            # action for a segment missing from the segments table

SEGMENTS_AT_COLUMNS = ["customer_id", "rfm_segment", "monetary"]
MATRIX_COLUMNS = ["from_segment", "to_segment", "customers", "revenue_after"]
MOVER_COLUMNS = ["customer_id", "from_segment", "to_segment", "monetary", "recency_days"]
RISK_COLUMNS = ["customer_id", "rfm_segment", "cluster_name", "at_risk", "own_rhythm", "expected_gap_days",
                "overdue_days", "annual_value", "value_at_risk"]
RISK_SEGMENT_COLUMNS = ["kind", "segment", "customers", "customers_at_risk", "value_at_risk",
                        "share_of_value_at_risk", "action"]


def segments_at(lines: ibis.Table, as_of: dt.date, rules=rfm.SEGMENT_RULES) -> pd.DataFrame:
    """RFM segments as they were on `as_of`, from the orders dated before it.

    Columns SEGMENTS_AT_COLUMNS, one row per customer with an order before `as_of`, sorted by
    customer_id: rfm_segment (named by `rules`, scored on that date's own quintile edges) and
    monetary (revenue of the kept lines before `as_of`, so two dates' monetary differ by what was
    spent in between). At the analysis as-of date this reproduces the customers table.
    """
    customers = features.rfm_at(lines, as_of)
    if customers.empty:
        return pd.DataFrame({c: pd.Series(dtype="string" if c != "monetary" else "float64")
                             for c in SEGMENTS_AT_COLUMNS})
    score_frame, _ = rfm.rfm_scores(customers)
    return pd.DataFrame({"customer_id": customers["customer_id"],
                         "rfm_segment": rfm.assign_segments(score_frame, rules),
                         "monetary": customers["monetary"]})[SEGMENTS_AT_COLUMNS]


def _order_key(names: pd.Series, order: list[str], first: str | None = None, last: str | None = None) -> pd.Series:
    """Sort key: `first`, then `order`, then other names alphabetically, then `last`."""
    rank = {name: i + 1 for i, name in enumerate(order)}
    others = sorted(set(names) - set(rank) - {first, last})
    rank |= {name: len(order) + 1 + i for i, name in enumerate(others)}
    rank |= {first: 0, last: len(rank) + 1}
    return names.map(rank)


def transition_matrix(before: pd.DataFrame, after: pd.DataFrame, rules=rfm.SEGMENT_RULES) -> pd.DataFrame:
    """Customers per (segment before, segment after). Columns MATRIX_COLUMNS, non-empty cells only.

    before, after: customer_id, rfm_segment, monetary (segments_at at two dates, or the customers
    table as `after`). from_segment is '(new)' for customers absent before; to_segment '(gone)' for
    customers absent after (none when both come from the same lines). revenue_after: what the
    cell's customers spent between the two dates (after's monetary minus before's, in the data's
    currency; 0 for customers gone). Rows ordered best to worst (rfm.segment_order of the segment map
    `rules`), '(new)' first.
    """
    for name, frame in (("before", before), ("after", after)):
        missing = {"customer_id", "rfm_segment", "monetary"} - set(frame.columns)
        if missing:
            raise ValueError(f"transition_matrix: '{name}' lacks columns {sorted(missing)}")
    m = before[["customer_id", "rfm_segment", "monetary"]].merge(
        after[["customer_id", "rfm_segment", "monetary"]], on="customer_id", how="outer", suffixes=("_b", "_a"))
    m = pd.DataFrame({
        "from_segment": m["rfm_segment_b"].astype("string").fillna(NEW),
        "to_segment": m["rfm_segment_a"].astype("string").fillna(GONE),
        "revenue_after": (m["monetary_a"] - m["monetary_b"].fillna(0.0)).fillna(0.0),
    })
    out = m.groupby(["from_segment", "to_segment"]).agg(
        customers=("revenue_after", "size"), revenue_after=("revenue_after", "sum")).reset_index()
    out["revenue_after"] = out["revenue_after"].round(2)
    out["customers"] = out["customers"].astype("int64")
    order = rfm.segment_order(rules)
    out = out.assign(_f=_order_key(out["from_segment"], order, first=NEW),
                     _t=_order_key(out["to_segment"], order, last=GONE))
    return out.sort_values(["_f", "_t"]).reset_index(drop=True)[MATRIX_COLUMNS]


def movers(before: pd.DataFrame, after: pd.DataFrame, customers: pd.DataFrame,
           lapsing=rfm.lapsing_segments()) -> pd.DataFrame:
    """Customers who slipped into a lapsing segment. Columns MOVER_COLUMNS, sorted by monetary
    (largest first), then customer_id.

    A mover was in a segment outside `lapsing` before (customers new since then are not movers)
    and is in one of `lapsing` after. before/after: customer_id, rfm_segment; customers: the
    customers table (monetary and recency_days are read from it, i.e. as of its date).
    """
    m = before[["customer_id", "rfm_segment"]].merge(after[["customer_id", "rfm_segment"]], on="customer_id",
                                                     suffixes=("_b", "_a"))
    m = m[~m["rfm_segment_b"].isin(lapsing) & m["rfm_segment_a"].isin(lapsing)]
    m = m.rename(columns={"rfm_segment_b": "from_segment", "rfm_segment_a": "to_segment"})
    m = m.merge(customers[["customer_id", "monetary", "recency_days"]], on="customer_id", how="left")
    m = m.sort_values(["monetary", "customer_id"], ascending=[False, True])
    return m.reset_index(drop=True)[MOVER_COLUMNS]


def days_to_second_order(lines: ibis.Table, days: pd.DataFrame | None = None, start=None) -> pd.Series:
    """Calendar days from each repeat customer's first to second order (index customer_id), among
    the customers acquired in the data (cohorts.acquired: their first order after the month of
    `start`; all customers without `start`, or when none was acquired later).
    `days`: cohorts.customer_days_to_second(lines), when already fetched."""
    days = cohorts.customer_days_to_second(lines) if days is None else days
    new = cohorts.acquired(days, start)
    df = (new if new["days"].notna().any() else days).dropna(subset=["days"])
    return pd.Series(df["days"].to_numpy(dtype="int64"), index=pd.Index(df["customer_id"].astype("string"),
                     name="customer_id"), name="days_to_second_order").sort_index()


def revenue_at_risk(customers: pd.DataFrame, segments: pd.DataFrame,
                    second_order_days: pd.Series | None = None, margin: float = AT_RISK_MARGIN,
                    quantile: float = ONE_ORDER_QUANTILE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per_customer, per_segment): who is overdue for their next order and what they are worth a year.

    customers: schema.TABLES['customers'] (days_since_any_order, order_days, first_order_date,
    last_order_date, monetary, revenue_last_365_days, tenure_days, rfm_segment, cluster_name);
    segments: schema.TABLES['segments'] (kind, segment, action); second_order_days:
    days_to_second_order(lines), optional.

    own_rhythm: the customer ordered on at least RHYTHM_ORDER_DAYS (3) distinct days, so has a
    typical gap of their own: (last - first order date) / (order days - 1), in days. Six orders
    on two days make no rhythm. expected_gap_days: that gap; for the others the `quantile` (0.9)
    of days from first to second order among repeat customers (or, without second_order_days,
    of the own-rhythm customers' gaps). at_risk: days since the last order placed (an order later
    returned in full counts: the customer was in touch) beyond both
    MIN_QUIET_DAYS (30) and the allowance, `margin` (2) x the typical gap for a customer with a
    rhythm, the expected gap itself for the others (the 90th percentile is already generous).
    overdue_days: days since the last order placed beyond the expected gap (0 when not yet due).
    annual_value: what the customer is worth a year, never more than they spent in the last 365
    days: the smaller of monetary / max(tenure_days, 30) x 365 and revenue_last_365_days, in the
    data's currency. value_at_risk: annual_value of at-risk customers, else 0.

    per_customer: RISK_COLUMNS in the customers' order. per_segment: RISK_SEGMENT_COLUMNS for both
    kinds (rfm by rfm_segment, cluster by cluster_name), rfm first, each by value_at_risk (largest
    first); share_of_value_at_risk: the segment's part of the kind's total value at risk (0..1).
    """
    order_days = customers["order_days"].to_numpy(dtype="float64")
    span = (pd.to_datetime(customers["last_order_date"]) - pd.to_datetime(customers["first_order_date"])).dt.days
    span = span.to_numpy(dtype="float64")
    own = (order_days >= RHYTHM_ORDER_DAYS) & (span > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        own_gap = np.where(own, span / (order_days - 1), np.nan)
    pool = (second_order_days.to_numpy(dtype="float64") if second_order_days is not None else own_gap[own])
    pool = pool[~np.isnan(pool)]
    other_gap = float(np.quantile(pool, quantile)) if pool.size else np.nan
    expected = np.where(own, own_gap, other_gap)
    recency = customers["days_since_any_order"].to_numpy(dtype="float64")
    allowance = np.fmax(np.where(own, margin * expected, expected), MIN_QUIET_DAYS)
    with np.errstate(invalid="ignore"):
        at_risk = (recency > allowance) & ~np.isnan(expected)  # without an expected gap: never
    average = (customers["monetary"].to_numpy(dtype="float64")
               / np.maximum(customers["tenure_days"].to_numpy(dtype="float64"), MIN_TENURE_DAYS) * YEAR_DAYS)
    annual = np.minimum(average, customers["revenue_last_365_days"].to_numpy(dtype="float64")).round(2)
    per_customer = customers[["customer_id", "rfm_segment", "cluster_name"]].reset_index(drop=True).assign(
        at_risk=at_risk,
        own_rhythm=own,
        expected_gap_days=expected,
        overdue_days=np.clip(np.nan_to_num(recency - expected, nan=0.0), 0, None),
        annual_value=annual,
        value_at_risk=np.where(at_risk, annual, 0.0),
    )
    return per_customer[RISK_COLUMNS], _per_segment(per_customer, segments)


def _per_segment(per_customer: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    parts = []
    for kind, col in zip(SEGMENT_KINDS, ("rfm_segment", "cluster_name")):
        g = per_customer.groupby(col, observed=True).agg(
            customers=("at_risk", "size"), customers_at_risk=("at_risk", "sum"),
            value_at_risk=("value_at_risk", "sum")).reset_index().rename(columns={col: "segment"})
        total = g["value_at_risk"].sum()
        g["value_at_risk"] = g["value_at_risk"].round(2)
        g["share_of_value_at_risk"] = g["value_at_risk"] / total if total > 0 else 0.0
        actions = segments.loc[segments["kind"] == kind].set_index("segment")["action"]
        g["action"] = g["segment"].map(actions).fillna(ACTION_NONE)
        g.insert(0, "kind", kind)
        parts.append(g.sort_values(["value_at_risk", "segment"], ascending=[False, True]))
    out = pd.concat(parts, ignore_index=True).astype({"customers": "int64", "customers_at_risk": "int64"})
    return out[RISK_SEGMENT_COLUMNS]


# segment membership is compared with this many days before the as-of date (the validation's day)
CHANGE_DAYS = validation.WINDOW_DAYS


def at_risk_order(customers: pd.DataFrame) -> pd.Series:
    """The customers flagged at risk, highest value at risk first (ties: customer id): their ids in
    list order (at_risk.csv and the changes page)."""
    flagged = customers.loc[customers["at_risk"].fillna(False).astype(bool), ["value_at_risk", "customer_id"]]
    return flagged.sort_values(["value_at_risk", "customer_id"], ascending=[False, True],
                               kind="stable")["customer_id"].reset_index(drop=True)


def change_queries(lines, as_of: dt.date, rules) -> pd.DataFrame:
    """The engine's part of change_tables: RFM segments CHANGE_DAYS before `as_of`
    (segments_at)."""
    return segments_at(lines, validation.cutoff(as_of), rules)


def change_tables(lines, customers: pd.DataFrame, segments: pd.DataFrame, as_of: dt.date, before: pd.DataFrame,
                  days: pd.DataFrame, rules, start: dt.date | None = None) -> tuple[dict, dict, pd.DataFrame]:
    """Segment membership CHANGE_DAYS earlier vs now, who moved into a lapsing segment, and revenue
    at risk per segment. Also returns the per-customer at-risk columns for the customers table.
    `before` (change_queries) and `days` (cohorts.customer_days_to_second): the engine's results;
    `rules`: the segment map (which segments are lapsing, and their order); `start`: the data's first day (see cohort_tables)."""
    earlier = validation.cutoff(as_of)
    second = days_to_second_order(lines, days, start)
    per_customer, per_segment = revenue_at_risk(customers, segments, second_order_days=second)
    tables = {"transitions": transition_matrix(before, customers, rules),
              "movers": movers(before, customers, customers, rfm.lapsing_segments(rules)),
              "revenue_at_risk": per_segment}
    figures = {"change_from": earlier.isoformat(), "change_days": CHANGE_DAYS,
               "customers_at_risk": int(per_customer["at_risk"].sum()),
               "value_at_risk": float(per_customer["value_at_risk"].sum())}
    risk = per_customer[["customer_id", "at_risk", "own_rhythm", "expected_gap_days", "overdue_days", "value_at_risk"]]
    return tables, figures, risk


def _queries(inputs) -> dict:
    return {"before": (change_queries, inputs.lines, inputs.as_of, inputs.segment_map)}


@dataclass(frozen=True)
class ChangeFigures:
    change_from: str          # the earlier date segments are compared with (ISO)
    change_days: int          # days before the as-of date
    customers_at_risk: int    # overdue for their next order
    value_at_risk: float      # what those customers would bring in a year


def _result(inputs, queried) -> StudyResult:
    tables, figures, risk = change_tables(inputs.lines, inputs.customers, inputs.tables["segments"], inputs.as_of,
                                          before=queried["changes.before"], days=queried["cohorts.tables"]["days"],
                                          rules=inputs.segment_map, start=inputs.start)
    return StudyResult(tables, ChangeFigures(**figures), customer_columns=risk)


STUDY = Study("changes", _result, queries=_queries)
