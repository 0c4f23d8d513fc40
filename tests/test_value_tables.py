"""The later-stage helpers that bin values and find when to intervene."""

import numpy as np
import pandas as pd
import pytest

from analysis.studies.value import bgnbd
from analysis.studies.value.tables import alive_threshold, distribution

CDNOW_DAYS = bgnbd.BgNbdFit(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426, time_unit="days")


def test_distribution_counts_customers_per_half_open_band_and_skips_missing_values():
    got = distribution(pd.Series([0.0, 5.0, 10.0, 99.0, np.nan]), [0, 10, 100, np.inf], "clv")
    # [0,10): 0 and 5; [10,100): 10 and 99; [100, inf): none
    assert got["customers"].tolist() == [2, 2, 0]
    assert got["share"].tolist() == [0.5, 0.5, 0.0]
    assert np.isnan(got["high"].iloc[-1])


def test_the_intervention_point_is_where_the_typical_customers_p_alive_first_drops_below_half():
    summary = pd.DataFrame({"customer_id": ["a", "b", "c"], "frequency": [2, 2, 0], "recency": [100.0, 100.0, 0.0],
                            "T": [150.0, 150.0, 50.0], "rfm_segment": ["Loyal", "Loyal", "New"],
                            "cluster_name": ["One", "One", "One"]})
    table = alive_threshold(summary, CDNOW_DAYS).set_index(["kind", "segment"])
    loyal = table.loc[("rfm", "Loyal")]
    # by hand: walk forward day by day from T = 150 with x = 2, t_x = 100
    days = np.arange(0, 3651)
    curve = bgnbd.p_alive(CDNOW_DAYS, np.full(days.size, 2.0), np.full(days.size, 100.0), 150.0 + days)
    first = int(np.flatnonzero(curve < 0.5)[0])
    assert loyal["below_half_after_days"] == pytest.approx(50 + first)
    assert loyal["p_alive_now"] == pytest.approx(curve[0])
    assert loyal["days_since_last_now"] == 50
    # one-time buyers are left out: the model keeps them at 1
    new = table.loc[("rfm", "New")]
    assert new["repeat_customers"] == 0 and np.isnan(new["below_half_after_days"])
