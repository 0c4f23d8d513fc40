"""What to do first: the segments of the recommended segmentation ranked by the money at stake,
for the overview's plan and the console.

The money at stake is what a segment's customers are expected to spend over the next year (the
value model's forecast, or the naive forecast that replaced it when the model failed its holdout):
what keeping them protects and what losing them costs. A segment going quiet (an RFM segment the
segment map marks lapsing; a cluster most of whose customers are in one) also shows its value at
risk: what its overdue customers spent over the last year. No uplift is assumed: the data cannot
say how many customers an action would keep or win back. Without any forecast, the money at stake
is the segment's spend over the last year, and `basis` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.customers import rfm
from analysis.schema import TABLES

COLUMNS = TABLES["actions"]
SHOWN = 5  # actions on the overview and the console
KIND_COLUMNS = {"rfm": "rfm_segment", "cluster": "cluster_name"}


def actions(customers: pd.DataFrame, segments: pd.DataFrame, kind: str, rules=rfm.SEGMENT_RULES) -> pd.DataFrame:
    """COLUMNS: the segments of `kind` ("rfm" or "cluster") with customers and money at stake, most
    first (ties: segment name), rank 1 first. customers: the customers table (clv, at_risk,
    value_at_risk, revenue_last_365_days); segments: the segments table (its action); rules: the
    RFM segment map in use. basis: "expected next year" (summed clv) or "spent last year"."""
    column = KIND_COLUMNS[kind]
    lapsing = list(rfm.lapsing_segments(rules))
    by = customers.groupby(column, observed=True)
    expected = by["clv"].sum(min_count=1)
    forecast = bool(expected.notna().any())
    out = pd.DataFrame({
        "customers": by.size(),
        "at_stake": expected.fillna(0.0) if forecast else by["revenue_last_365_days"].sum(),
        "customers_at_risk": by["at_risk"].sum(),
        "value_at_risk": by["value_at_risk"].sum(),
    })
    out["basis"] = "expected next year" if forecast else "spent last year"
    in_lapsing = customers["rfm_segment"].isin(lapsing)
    out["going_quiet"] = (out.index.isin(lapsing) if kind == "rfm"
                          else in_lapsing.groupby(customers[column], observed=True).mean().reindex(out.index) > 0.5)
    out["share_customers"] = out["customers"] / max(len(customers), 1)
    action = segments[segments["kind"] == kind].set_index("segment")["action"]
    out["action"] = out.index.map(action).astype("string")
    out = out.rename_axis("segment").reset_index()
    out = out[(out["customers"] > 0) & (out["at_stake"] > 0)]
    out = out.sort_values(["at_stake", "segment"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    out["kind"] = kind
    for money in ("value_at_risk", "at_stake"):
        out[money] = out[money].astype("float64").round(2)
    return out[COLUMNS].astype({"customers": "int64", "customers_at_risk": "int64", "going_quiet": "bool",
                                "segment": "string", "kind": "string", "basis": "string"})
