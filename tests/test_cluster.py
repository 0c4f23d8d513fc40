"""Behaviour clusters recover planted customer groups, deterministically."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, pairwise_distances, silhouette_score

from analysis import cluster
from analysis.cluster import (CLUSTER_FEATURES, MIN_STABILITY, SELECTION_SAMPLE, SILHOUETTE_SAMPLE,
                              SILHOUETTE_TOLERANCE, _relabel_by_revenue, baseline_clusters, choose_clusters,
                              silhouette, stability, standardise)
from analysis.config import make_config
from analysis.pipeline import run_analysis
from analysis.profiles import cluster_names
from data.generate_sample import generate, write_csv


def build(tmp_path, seed, n_customers=900, mix=None, **options):
    tx, truth = generate(n_customers=n_customers, seed=seed, mix=mix)
    path = tmp_path / f"planted-{seed}.csv"
    write_csv(tx, path)
    return run_analysis(make_config(input=path, seed=seed, **options)), truth


def recovery(analysis, truth) -> float:
    c = analysis.tables["customers"].set_index("customer_id")
    common = c.index.intersection(truth.index)
    return adjusted_rand_score(truth[common].to_numpy(dtype=object), c.loc[common, "cluster"].to_numpy())


MIXES = [None, {"wholesale": 0.15, "loyal": 0.35, "one_off": 0.3, "lapsed_big": 0.2},
         {"loyal": 0.3, "new": 0.3, "returners": 0.2, "one_off": 0.2}]


def test_the_automatic_choice_recovers_planted_groups_better_than_the_textbook_baseline(tmp_path):
    """Three seeds x three group mixes, with cancellations and guest orders mixed in."""
    ours, baseline = [], []
    for seed in (1, 2, 3):
        for i, mix in enumerate(MIXES):
            analysis, truth = build(tmp_path, seed * 10 + i, mix=mix)
            ours.append(recovery(analysis, truth))
            customers = analysis.tables["customers"]
            labels = baseline_clusters(customers, seed=seed)
            common = customers["customer_id"].isin(truth.index).to_numpy()
            baseline.append(adjusted_rand_score(
                truth[customers["customer_id"][common]].to_numpy(dtype=object), labels[common]))
    assert np.mean(ours) >= 0.9
    assert np.mean(ours) > np.mean(baseline)


def test_the_full_sample_mix_is_recovered_with_its_six_groups(tmp_path):
    analysis, truth = build(tmp_path, 1)
    assert analysis.headline["n_clusters"] == truth.nunique() == 6
    assert recovery(analysis, truth) >= 0.9


def test_every_method_and_k_is_reported_and_the_choice_follows_the_rule(tmp_path):
    analysis, _ = build(tmp_path, 1, n_customers=400)
    sel = analysis.tables["cluster_selection"]
    assert sorted(set(sel["method"])) == ["gmm", "kmeans"]
    assert sel.groupby("method")["k"].apply(list).eq([list(range(3, 9))] * 2).all()
    chosen = sel[sel["chosen"]].iloc[0]
    assert chosen["silhouette"] >= sel["silhouette"].max() - SILHOUETTE_TOLERANCE
    assert chosen["stability"] >= MIN_STABILITY
    tied = sel[(sel["silhouette"] >= sel["silhouette"].max() - SILHOUETTE_TOLERANCE) & (sel["stability"] >= MIN_STABILITY)]
    assert chosen["k"] == tied["k"].max()


def test_stability_is_one_for_well_separated_groups():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(c, 0.1, size=(100, 2)) for c in (0, 5, 10)])
    reference = np.repeat([0, 1, 2], 100)
    assert stability("kmeans", 3, x, reference, seed=0) == pytest.approx(1.0)


def test_same_seed_gives_the_same_clusters():
    rng = np.random.default_rng(0)
    customers = pd.DataFrame({
        "recency_days": rng.integers(1, 400, 500), "frequency_orders": rng.integers(1, 30, 500),
        "monetary": rng.lognormal(5, 1, 500), "avg_order_value": rng.lognormal(3, 1, 500),
        "tenure_days": rng.integers(400, 800, 500), "items_per_order": rng.lognormal(1, 1, 500),
        "distinct_products": rng.integers(1, 50, 500), "mean_days_between_orders": rng.uniform(5, 90, 500),
        "return_rate": rng.uniform(0, 0.2, 500)})
    customers["lines_per_order"] = customers["items_per_order"]
    customers["price_index"] = 1.0
    a = choose_clusters(customers, seed=3)
    b = choose_clusters(customers, seed=3)
    assert np.array_equal(a.labels, b.labels) and a.selection.equals(b.selection)


def test_clusters_are_numbered_by_revenue_and_named_uniquely(tmp_path):
    analysis, _ = build(tmp_path, 2, n_customers=600)
    clusters = analysis.segments("cluster")
    assert clusters["revenue"].is_monotonic_decreasing
    assert clusters["segment"].is_unique


def test_cluster_names_describe_the_most_distinctive_features():
    z = pd.DataFrame({"recency_days": [2.0, -1.0], "frequency_orders": [-0.1, 1.5], "monetary": [0.1, 2.0],
                      "tenure_days": [0.0, 0.0], "avg_order_value": [1.5, 0.0], "items_per_order": [0.0, 0.0],
                      "lines_per_order": [0.0, 0.0], "distinct_products": [0.0, 0.0],
                      "mean_days_between_orders": [3.0, 0.0], "price_index": [0.0, 0.0], "return_rate": [0.0, 0.0]})
    names = cluster_names(np.array([1, 2]), z, pd.Series([1, 8]))
    # cluster 1 ordered once, so its "gap" (really its tenure) is not used in its name
    assert names == {1: "Lapsed big-basket buyers", 2: "Frequent high-spend buyers"}


def planted_customers(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """n customers in four well-separated behaviour groups (log scale), and each one's group."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n)
    centre = np.array([[2, 0.5, 6, 5], [5, 2.5, 6.5, 8], [4, 0.2, 3, 6], [1, 1.5, 4, 3.5]])[group]
    noise = rng.normal(0, 0.25, (n, 4))
    recency, orders, tenure, revenue = np.exp(centre + noise).T
    customers = pd.DataFrame({
        "recency_days": recency.round(), "frequency_orders": np.maximum(orders.round(), 1), "tenure_days": tenure,
        "monetary": revenue, "avg_order_value": revenue / np.maximum(orders.round(), 1),
        "items_per_order": np.exp(1 + group % 2 + rng.normal(0, 0.2, n)), "lines_per_order": 3.0,
        "distinct_products": 5, "mean_days_between_orders": np.where(orders.round() > 1, tenure / orders, np.nan),
        "price_index": 1.0, "return_rate": 0.0})
    return customers, group


def test_model_selection_fits_and_scores_bounded_samples_but_assigns_every_customer(monkeypatch):
    customers, group = planted_customers(4 * SELECTION_SAMPLE)
    fitted, scored = [], []
    real_fit, real_distances = cluster._fit, cluster.pairwise_distances

    def fit(method, k, x, seed):
        fitted.append(len(x))
        return real_fit(method, k, x, seed)

    def distances(x):
        scored.append(len(x))
        return real_distances(x)

    monkeypatch.setattr(cluster, "_fit", fit)
    monkeypatch.setattr(cluster, "pairwise_distances", distances)
    result = choose_clusters(customers, seed=1)
    assert max(fitted) == SELECTION_SAMPLE and scored == [SILHOUETTE_SAMPLE]
    assert len(result.labels) == len(customers) and result.k == 4
    assert adjusted_rand_score(group, result.labels) > 0.95


def test_silhouette_from_the_shared_distance_matrix_scores_separated_groups_high_and_one_group_nan():
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(c, 1.0, size=(60, 3)) for c in (0, 6, 12)])
    d = pairwise_distances(x)
    truth = np.repeat([0, 1, 2], 60)
    assert silhouette(d, truth) == pytest.approx(silhouette_score(x, truth))
    assert silhouette(d, truth) > 0.6 > silhouette(d, rng.integers(0, 3, 180))
    assert np.isnan(silhouette(d, np.zeros(180, int)))


@pytest.mark.parametrize("seed", range(6))
def test_silhouette_is_scikit_learns_on_any_labels(seed):
    # Ties, singleton clusters (scored 0), unordered label values, duplicate points (zero distances).
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    x = rng.normal(size=(n, 4)).round(1)
    x[: n // 10] = x[0]
    labels = rng.choice([7, -1, 3, 40, 2], size=n)
    labels[rng.integers(0, n)] = 99  # a cluster of one
    d = pairwise_distances(x)
    assert silhouette(d, labels) == pytest.approx(silhouette_score(d, labels, metric="precomputed"), abs=1e-12)


def test_standardised_features_have_mean_zero_and_spread_one_and_constant_ones_are_zero():
    customers, _ = planted_customers(500)
    customers.loc[:9, "avg_order_value"] = [np.nan, np.inf] * 5  # missing or infinite take the median
    z = standardise(customers)
    assert list(z.columns) == list(CLUSTER_FEATURES) and z.index.equals(customers.index)
    varying = z.drop(columns=["lines_per_order", "distinct_products", "price_index", "return_rate"])
    assert np.allclose(varying.mean(), 0) and np.allclose(varying.std(ddof=0), 1)
    assert (z[["price_index", "return_rate"]] == 0).all().all()
    assert z["avg_order_value"].iloc[:10].nunique() == 1


def test_clusters_are_renumbered_by_total_revenue_with_ties_kept_in_label_order():
    raw = np.array([0, 0, 2, 2, 5, 3, 3])              # label 1 and 4 unused
    revenue = np.array([1.0, 1.0, 5.0, 0.0, 2.0, 1.0, 1.0])
    # totals: 2 -> 5, 0 -> 2, 3 -> 2, 5 -> 2 (ties by label)
    assert _relabel_by_revenue(raw, revenue).tolist() == [2, 2, 1, 1, 4, 3, 3]


def test_segment_features_are_the_median_and_mean_z_of_each_segments_customers():
    from analysis.profiles import segment_features

    customers, group = planted_customers(900, seed=4)
    customers.index = np.random.default_rng(1).permutation(np.arange(1000, 1900))  # labels, not positions
    customers["cluster"] = group + 1
    customers["cluster_name"] = pd.Series(group, index=customers.index).map(
        {0: "Zeta", 1: "Alpha", 2: "Mid", 3: "Beta"}).astype("string")
    customers["rfm_segment"] = pd.Series(np.random.default_rng(2).choice(["Lost", "Champions", "New"], 900),
                                         index=customers.index, dtype="string")
    z = standardise(customers).iloc[::-1]  # another order: aligned by label
    got = segment_features(customers, z)
    assert len(got) == (1 + 3 + 4) * len(CLUSTER_FEATURES)
    assert got[got.feature == "monetary"]["segment"].tolist() == [
        "All customers", "Champions", "Lost", "New", "Zeta", "Alpha", "Mid", "Beta"]
    for (kind, segment), rows in got.groupby(["kind", "segment"], sort=False):
        col = {"all": None, "rfm": "rfm_segment", "cluster": "cluster_name"}[kind]
        members = customers.index if col is None else customers.index[customers[col] == segment]
        for row in rows.itertuples():
            want_median = customers.loc[members, row.feature].median()
            want_z = z.loc[members, row.feature].mean()
            assert row.median == pytest.approx(want_median, rel=1e-12, nan_ok=True)
            assert row.z == pytest.approx(want_z, rel=1e-9, abs=1e-12, nan_ok=True)
