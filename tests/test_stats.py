"""Segment statistics and revenue concentration, against numbers worked out by hand."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats as st

from analysis.studies.stats import (bootstrap_means, concentration, distribution_summary, holm, kruskal_by_segment,
                            pairwise_differences)


def frame(groups: dict[str, list[float]], feature: str = "x") -> pd.DataFrame:
    """Customers with a string segment column (as the pipeline has) and one feature."""
    seg = [name for name, values in groups.items() for _ in values]
    values = [v for vs in groups.values() for v in vs]
    return pd.DataFrame({"segment": pd.Series(seg, dtype="string"), feature: np.array(values, dtype=float)})


# --- Kruskal-Wallis -------------------------------------------------------------------------------

def test_kruskal_h_and_epsilon_squared_match_hand_computation():
    # A = 1,2,3  B = 4,5,6  C = 7,8,9: ranks equal values, rank sums 6, 15, 24, n = 9, k = 3.
    # H = 12 / (9 * 10) * (6^2 + 15^2 + 24^2) / 3 - 3 * 10 = 0.1333 * 279 - 30 = 7.2 (no ties).
    # p = chi2(2 df).sf(7.2) = exp(-7.2 / 2) = 0.02732; epsilon^2 = (7.2 - 3 + 1) / (9 - 3) = 0.8667.
    # D has a single customer and is left out.
    customers = frame({"A": [1, 2, 3], "B": [4, 5, 6], "C": [7, 8, 9], "D": [100]})
    row = kruskal_by_segment(customers, "segment", {"x": "Feature x"}).iloc[0]
    assert row[["feature", "label", "groups", "n"]].tolist() == ["x", "Feature x", 3, 9]
    assert row["h_statistic"] == pytest.approx(7.2)
    assert row["p_value"] == pytest.approx(math.exp(-3.6))
    assert row["epsilon_squared"] == pytest.approx(5.2 / 6)


def test_kruskal_agrees_with_scipy_on_ties_and_skips_missing_values():
    customers = frame({"A": [1, 2, 2, np.nan], "B": [2, 3, 4], "C": [4, 5, 5, 5]})
    row = kruskal_by_segment(customers, "segment", {"x": "x"}).iloc[0]
    expected = st.kruskal([1, 2, 2], [2, 3, 4], [4, 5, 5, 5])
    assert row["n"] == 10
    assert row["h_statistic"] == pytest.approx(expected.statistic)
    assert row["p_value"] == pytest.approx(expected.pvalue)


def test_kruskal_with_a_single_testable_segment_reports_no_statistic():
    customers = frame({"A": [1, 2, 3], "B": [4]})
    row = kruskal_by_segment(customers, "segment", {"x": "x"}).iloc[0]
    assert row["groups"] == 1 and np.isnan(row["h_statistic"]) and np.isnan(row["p_value"])


def test_kruskal_returns_one_row_per_feature_in_the_given_order():
    customers = frame({"A": [1, 2, 3], "B": [4, 5, 6]}).assign(y=[3.0, 1, 2, 6, 5, 4])
    out = kruskal_by_segment(customers, "segment", {"y": "Y", "x": "X"})
    assert out["feature"].tolist() == ["y", "x"]
    assert list(out.columns) == ["feature", "label", "groups", "n", "h_statistic", "p_value", "epsilon_squared"]


# --- Mann-Whitney and Holm ------------------------------------------------------------------------

def test_holm_adjusts_three_p_values_by_hand():
    # sorted: 0.01 * 3 = 0.03; 0.03 * 2 = 0.06; 0.04 * 1 = 0.04 -> raised to 0.06 to stay monotone.
    assert holm(np.array([0.01, 0.04, 0.03])).tolist() == pytest.approx([0.03, 0.06, 0.06])


def test_holm_caps_at_one_and_leaves_missing_p_values_out():
    # two finite p-values: 0.2 * 2 = 0.4, 0.7 * 1 = 0.7.  And 0.6 * 2 = 1.2 -> 1; 0.9 -> max(1, 0.9) = 1.
    out = holm(np.array([0.7, np.nan, 0.2]))
    assert out[[0, 2]].tolist() == pytest.approx([0.7, 0.4]) and np.isnan(out[1])
    assert holm(np.array([0.6, 0.9])).tolist() == [1.0, 1.0]


def test_rank_biserial_effect_matches_a_hand_count_of_pairs():
    # a = 1,2,3 vs b = 2,4,5,6: of 12 pairs, a wins 1 (3 > 2), ties 1 (2 = 2), loses 10.
    # U_a = 1 + 0.5 = 1.5; effect = 2 * 1.5 / 12 - 1 = -0.75 = Cliff's delta (1 - 10) / 12.
    customers = frame({"a": [1, 2, 3], "b": [2, 4, 5, 6]})
    row = pairwise_differences(customers, "segment", "x").iloc[0]
    assert row[["feature", "a", "b", "n_a", "n_b"]].tolist() == ["x", "a", "b", 3, 4]
    assert row[["median_a", "median_b", "u_statistic", "effect"]].tolist() == [2.0, 4.5, 1.5, -0.75]
    assert row["p_value"] == pytest.approx(st.mannwhitneyu([1, 2, 3], [2, 4, 5, 6]).pvalue)
    assert row["p_holm"] == row["p_value"]  # one pair: nothing to adjust


def test_pairs_are_sorted_by_effect_size_with_holm_over_all_pairs():
    customers = frame({"A": [1, 2, 3, 4, 5], "B": [3, 4, 5, 6, 7], "C": [10, 11, 12, 13, 14]})
    out = pairwise_differences(customers, "segment", "x")
    assert list(zip(out["a"], out["b"])) == [("A", "C"), ("B", "C"), ("A", "B")]
    assert out["effect"].abs().is_monotonic_decreasing
    assert out["p_holm"].tolist() == pytest.approx(holm(out["p_value"].to_numpy()).tolist())
    assert (out["p_holm"] >= out["p_value"]).all()
    top = pairwise_differences(customers, "segment", "x", max_pairs=1)
    assert len(top) == 1 and top.iloc[0]["p_holm"] == out.iloc[0]["p_holm"]  # adjusted for 3 tests


def test_large_segments_are_subsampled_with_a_seed():
    rng = np.random.default_rng(3)
    customers = frame({"A": rng.normal(0, 1, 5000).tolist(), "B": rng.normal(0.1, 1, 4000).tolist()})
    first = pairwise_differences(customers, "segment", "x", max_per_group=1000, seed=7)
    again = pairwise_differences(customers, "segment", "x", max_per_group=1000, seed=7)
    other = pairwise_differences(customers, "segment", "x", max_per_group=1000, seed=8)
    assert first[["n_a", "n_b"]].iloc[0].tolist() == [1000, 1000]
    pd.testing.assert_frame_equal(first, again)
    assert first["u_statistic"].iloc[0] != other["u_statistic"].iloc[0]
    # medians describe every customer of the segment, not the sample
    assert first["median_a"].iloc[0] == pytest.approx(customers.loc[customers.segment == "A", "x"].median())


# --- bootstrap ------------------------------------------------------------------------------------

def test_bootstrap_interval_contains_the_true_mean_and_repeats_with_the_seed():
    rng = np.random.default_rng(11)
    customers = frame({"A": rng.normal(10, 2, 400).tolist(), "B": rng.normal(20, 2, 300).tolist()})
    out = bootstrap_means(customers, "segment", ["x"], n_boot=500, seed=1)
    assert out["segment"].tolist() == ["A", "B"] and out["n"].tolist() == [400, 300]
    for true_mean, row in zip([10, 20], out.itertuples()):
        assert row.ci_low < true_mean < row.ci_high
        assert row.ci_low < row.mean < row.ci_high
    pd.testing.assert_frame_equal(out, bootstrap_means(customers, "segment", ["x"], n_boot=500, seed=1))
    assert not out.equals(bootstrap_means(customers, "segment", ["x"], n_boot=500, seed=2))


def test_bootstrap_intervals_of_tiny_segments_are_worked_out_by_hand():
    # constant values: every resample has mean 5. Two values 0 and 10: the resample mean is 0 with
    # probability 1/4, 5 with 1/2, 10 with 1/4, so the 2.5% and 97.5% quantiles are 0 and 10.
    customers = frame({"const": [5, 5, 5], "pair": [0, 10], "one": [7]})
    out = bootstrap_means(customers, "segment", ["x"], n_boot=400).set_index("segment")
    assert out.loc["const", ["mean", "ci_low", "ci_high"]].tolist() == [5, 5, 5]
    assert out.loc["pair", ["mean", "ci_low", "ci_high"]].tolist() == [5, 0, 10]
    assert out.loc["one", ["mean", "ci_low", "ci_high", "n"]].tolist() == [7, 7, 7, 1]


def test_bootstrap_leaves_out_missing_values_per_feature():
    customers = frame({"A": [1, 2, 3, 4]}).assign(y=[np.nan, 2.0, np.nan, 4.0])
    out = bootstrap_means(customers, "segment", ["x", "y"], n_boot=200).set_index("feature")
    assert out["n"].tolist() == [4, 2]
    assert out.loc["y", "mean"] == 3.0 and 2.0 <= out.loc["y", "ci_low"] <= out.loc["y", "ci_high"] <= 4.0


def test_bootstrap_on_200k_customers_finishes_with_the_normal_width():
    # 8 segments x 25k customers, standard normal features: above max_draws the replicates are
    # rescaled, and the 95% interval should be about 2 * 1.96 / sqrt(25,000) = 0.0248 wide.
    rng = np.random.default_rng(5)
    n = 200_000
    customers = pd.DataFrame({"segment": pd.Series(rng.integers(0, 8, n)).map(lambda i: f"S{i}").astype("string"),
                              **{f"f{i}": rng.normal(i, 1, n) for i in range(4)}})
    out = bootstrap_means(customers, "segment", ["f0", "f1", "f2", "f3"])
    assert len(out) == 32 and out[["mean", "ci_low", "ci_high"]].notna().all().all()
    width = (out["ci_high"] - out["ci_low"]) / (2 * 1.96 / np.sqrt(out["n"]))
    assert width.between(0.85, 1.15).all()


# --- distributions --------------------------------------------------------------------------------

def test_distribution_summary_gives_quartiles_and_tukey_fences():
    # 1,2,3,4,100: q1 = 2, median = 3, q3 = 4, IQR = 2, fences at 2 - 3 = -1 and 4 + 3 = 7, so the
    # whiskers end at the data values 1 and 4 and 100 is an outlier; mean = 110 / 5 = 22.
    # 1,2,3,4: positions (n - 1) p = 0.75, 1.5, 2.25 -> q1 = 1.75, median = 2.5, q3 = 3.25.
    customers = frame({"A": [4, 100, 1, 3, 2], "B": [1, 2, 3, 4]})
    out = distribution_summary(customers, "segment", ["x"]).set_index("segment")
    cols = ["n", "min", "q1", "median", "q3", "max", "lower_fence", "upper_fence", "mean"]
    assert out.loc["A", cols].tolist() == [5, 1, 2, 3, 4, 100, 1, 4, 22]
    assert out.loc["B", cols].tolist() == [4, 1, 1.75, 2.5, 3.25, 4, 1, 4, 2.5]


def test_distribution_summary_lists_segments_then_features_and_skips_missing_segments():
    customers = frame({"B": [1, 2], "A": [3, 4]}).assign(y=[1.0, 2, 3, 4])
    customers.loc[0, "segment"] = pd.NA
    out = distribution_summary(customers, "segment", ["y", "x"])
    assert list(zip(out["segment"], out["feature"])) == [("A", "y"), ("A", "x"), ("B", "y"), ("B", "x")]
    assert out["n"].tolist() == [2, 2, 1, 1]


# --- concentration --------------------------------------------------------------------------------

def test_equal_spenders_have_gini_zero_and_a_diagonal_lorenz_curve():
    pareto, lorenz, gini = concentration(pd.Series([1.0, 1, 1, 1]))
    assert gini == pytest.approx(0.0)
    assert lorenz["customer_share"].tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert lorenz["revenue_share"].tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert pareto["revenue_share"].tolist() == pytest.approx(pareto["top_share"].tolist())


def test_one_customer_with_all_revenue_has_gini_three_quarters_of_four():
    # n-sample convention: Lorenz points (0,0) (.25,0) (.5,0) (.75,0) (1,1); area = .25 * 1 / 2
    # = 0.125; Gini = 1 - 2 * 0.125 = 0.75 = (n - 1) / n.  Top 20% = 1 - L(0.8) = 1 - 0.2 = 0.8;
    # top 1% = 1 - L(0.99) = 0.04 (a fraction of a customer counts for that fraction).
    pareto, lorenz, gini = concentration(pd.Series([0.0, 10, 0, 0]))
    assert gini == pytest.approx(0.75)
    assert lorenz["revenue_share"].tolist() == [0, 0, 0, 0, 1]
    assert pareto["top_share"].tolist() == [0.01, 0.05, 0.10, 0.20, 0.50]
    assert pareto["revenue_share"].tolist() == pytest.approx([0.04, 0.2, 0.4, 0.8, 1.0])


def test_gini_is_exact_on_all_customers_while_the_curve_is_thinned():
    x = np.random.default_rng(2).lognormal(3, 1.5, 100_001)
    pareto, lorenz, gini = concentration(pd.Series(x))
    s = np.sort(x)
    n = len(s)
    expected = 2 * np.sum(np.arange(1, n + 1) * s) / (n * s.sum()) - (n + 1) / n  # rank formula
    assert gini == pytest.approx(expected, rel=1e-9)
    assert len(lorenz) <= 201
    assert lorenz.iloc[0].tolist() == [0, 0] and lorenz.iloc[-1].tolist() == [1, 1]
    assert lorenz["customer_share"].is_monotonic_increasing and lorenz["revenue_share"].is_monotonic_increasing
    assert pareto["revenue_share"].is_monotonic_increasing


def test_concentration_refuses_negative_revenue_and_ignores_missing():
    with pytest.raises(ValueError, match="1 customers have a negative amount"):
        concentration(pd.Series([5.0, -1.0]))
    assert concentration(pd.Series([0.0, np.nan, 10.0])).gini == pytest.approx(0.5)


@settings(max_examples=50, deadline=None)
@given(hs.lists(hs.floats(0, 1e6, allow_nan=False, allow_subnormal=False), min_size=1, max_size=50),
       hs.floats(0.5, 100))
def test_gini_is_between_zero_and_n_minus_one_over_n_and_ignores_currency(values, scale):
    if sum(values) <= 0:
        return
    gini = concentration(pd.Series(values)).gini
    n = len(values)
    assert -1e-9 <= gini <= (n - 1) / n + 1e-9
    assert concentration(pd.Series(values) * scale).gini == pytest.approx(gini, abs=1e-9)
