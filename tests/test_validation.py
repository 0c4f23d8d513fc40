"""The next-90-day check: segments made from the past, judged on what customers did after."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis.studies import validation
from analysis.studies.validation import adjusted_r2, compare, outcomes


def test_adjusted_r2_is_the_share_of_variance_the_segment_means_explain():
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, 2000)
    y = codes * 2.0 + rng.normal(0, 1, 2000)
    means = pd.Series(y).groupby(codes).transform("mean").to_numpy()
    r2 = 1 - ((y - means) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    assert adjusted_r2(y, codes) == pytest.approx(1 - (1 - r2) * 1999 / 1996)
    assert abs(adjusted_r2(rng.normal(size=2000), codes)) < 0.01   # segments that mean nothing explain nothing
    assert np.isnan(adjusted_r2(np.ones(10), codes[:10]))


def frame(kind_segments: dict[str, list[str]], repeat: list[float], spend: list[float]):
    ids = [f"c{i}" for i in range(len(repeat))]
    nxt = pd.DataFrame({"customer_id": pd.Series(ids, dtype="string"),
                        "next_orders": [1 if r else 0 for r in repeat], "next_spend": spend})
    nxt = nxt[nxt["next_orders"] > 0]
    return {kind: outcomes(pd.DataFrame({"customer_id": pd.Series(ids, dtype="string"), "segment": seg}), nxt)
            for kind, seg in kind_segments.items()}


def test_the_segmentation_that_tells_the_future_apart_is_recommended_with_an_interval_excluding_zero():
    rng = np.random.default_rng(1)
    n = 3000
    will_buy = rng.random(n) < 0.4
    spend = np.where(will_buy, rng.lognormal(4, 0.5, n), 0.0)
    informed = np.where(will_buy, "Buyers", "Quiet")                          # knows who will buy
    noise = rng.choice(["A", "B", "C"], n)                                    # knows nothing
    by_kind = frame({"cluster": informed.tolist(), "rfm": noise.tolist()}, will_buy.tolist(), spend.tolist())
    segments, summary, figures = compare(by_kind, seed=0)
    s = summary.set_index("kind")
    assert s.loc["cluster", "separation"] > 0.9 and abs(s.loc["rfm", "separation"]) < 0.01
    assert figures["recommended_segmentation"] == "cluster" and s.loc["cluster", "recommended"]
    assert figures["separation_difference_low"] > 0.8
    assert "behaviour clusters" in figures["recommendation_reason"].lower()
    assert s.loc["cluster", "p_holm"] < 1e-6 < s.loc["rfm", "p_holm"]
    buyers = segments[(segments["kind"] == "cluster") & (segments["segment"] == "Buyers")].iloc[0]
    assert buyers["repeat_rate"] == 1.0 and buyers["repeat_low"] == buyers["repeat_high"] == 1.0
    assert buyers["spend_low"] < buyers["spend"] < buyers["spend_high"]
    assert buyers["spend"] == pytest.approx(spend[will_buy].round(2).mean())  # cents, as money is kept


def test_two_segmentations_that_tell_equally_much_recommend_the_one_with_fewer_segments():
    rng = np.random.default_rng(2)
    n = 2000
    will_buy = rng.random(n) < 0.5
    spend = np.where(will_buy, 50.0, 0.0)
    two = np.where(will_buy, "Yes", "No")
    four = np.char.add(two.astype(str), rng.choice(["1", "2"], n))            # the same, split at random
    _segments, summary, figures = compare(frame({"cluster": four.tolist(), "rfm": two.tolist()},
                                                will_buy.tolist(), spend.tolist()), seed=0)
    assert figures["separation_difference_low"] <= 0 <= figures["separation_difference_high"]
    assert figures["recommended_segmentation"] == "rfm"
    assert "about equally" in figures["recommendation_reason"]


def test_customers_without_an_order_in_the_window_count_as_not_returning_with_no_spend():
    got = outcomes(pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="string"), "segment": ["X", "X"]}),
                   pd.DataFrame({"customer_id": pd.Series(["a"], dtype="string"), "next_orders": [2],
                                 "next_spend": [10.0]}))
    assert got["next_repeat"].tolist() == [1.0, 0.0] and got["next_spend"].tolist() == [10.0, 0.0]


def test_the_cutoff_is_the_window_before_the_as_of_date():
    assert validation.cutoff(dt.date(2011, 12, 10)) == dt.date(2011, 9, 11)
