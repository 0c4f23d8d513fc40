"""The overview's plan (analysis.studies.plan): segments ranked by the money at stake, checked
against sums done by hand on a small customers table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.customers.rfm import SEGMENT_RULES
from analysis.schema import TABLES
from analysis.studies.plan import actions


def customers_table(clv) -> pd.DataFrame:
    # Champions c1 c2, At Risk (lapsing) c3 c4, New c5; clusters: "A" = c1 c2 c5, "B" = c3 c4
    return pd.DataFrame({
        "customer_id": pd.array(["c1", "c2", "c3", "c4", "c5"], dtype="string"),
        "rfm_segment": pd.array(["Champions", "Champions", "At Risk", "At Risk", "New"], dtype="string"),
        "cluster_name": pd.array(["A", "A", "B", "B", "A"], dtype="string"),
        "clv": clv,
        "at_risk": [False, False, True, False, False],
        "value_at_risk": [0.0, 0.0, 120.0, 0.0, 0.0],
        "revenue_last_365_days": [500.0, 300.0, 120.0, 80.0, 0.0],
    })


SEGMENTS = pd.DataFrame({"kind": ["rfm", "rfm", "rfm", "cluster", "cluster"],
                         "segment": ["Champions", "At Risk", "New", "A", "B"],
                         "action": ["Reward", "Reactivate", "Onboard", "Keep A", "Win back B"]})


def test_segments_are_ranked_by_their_summed_forecast_and_lapsing_ones_show_their_value_at_risk():
    got = actions(customers_table([400.0, 250.0, 90.0, 70.0, 0.0]), SEGMENTS, "rfm", SEGMENT_RULES)
    assert list(got.columns) == TABLES["actions"]
    # New has customers but nothing at stake: left out rather than listed at 0
    assert got["segment"].tolist() == ["Champions", "At Risk"] and got["rank"].tolist() == [1, 2]
    assert got["at_stake"].tolist() == [650.0, 160.0] and set(got["basis"]) == {"expected next year"}
    assert got["going_quiet"].tolist() == [False, True]
    assert got.loc[1, ["customers", "customers_at_risk", "value_at_risk"]].tolist() == [2, 1, 120.0]
    assert got["action"].tolist() == ["Reward", "Reactivate"]
    assert np.allclose(got["share_customers"], [0.4, 0.4])


def test_a_cluster_goes_quiet_when_most_of_its_customers_are_in_lapsing_rfm_segments():
    got = actions(customers_table([400.0, 250.0, 90.0, 70.0, 10.0]), SEGMENTS, "cluster").set_index("segment")
    assert got.loc["A", "at_stake"] == 660.0 and not got.loc["A", "going_quiet"]
    assert got.loc["B", "going_quiet"] and got.loc["B", "action"] == "Win back B"


def test_without_any_forecast_the_money_at_stake_is_last_years_spend_and_says_so():
    got = actions(customers_table([np.nan] * 5), SEGMENTS, "rfm")
    assert got["segment"].tolist() == ["Champions", "At Risk"]
    assert got["at_stake"].tolist() == [800.0, 200.0] and set(got["basis"]) == {"spent last year"}
