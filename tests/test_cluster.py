"""Behaviour clusters: features that weigh each dimension alike, an honest choice of k, no tiny
clusters, outliers flagged, names that agree with the medians, rules that say who is in a cluster."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, pairwise_distances, silhouette_score

from analysis.customers import cluster
from analysis.customers import latent
from analysis.customers.cluster import (CLUSTER_FEATURES, MIN_CLUSTER_CUSTOMERS, MIN_CLUSTER_SHARE, MIN_STABILITY,
                              MODEL_FEATURES, SELECTION_SAMPLE, SILHOUETTE_SAMPLE, TIMING_ORDERS, _reason,
                              _relabel_by_revenue, _select, baseline_clusters,
                              choose_clusters, dimension_weights, model_matrix, order_counts, shown_values, silhouette,
                              standardise)
from analysis.customers.profiles import PHRASES, cluster_medians, cluster_names
from analysis.customers.rules import cluster_rules
from benchmarks.bench_recovery import customers_of
from benchmarks.planted import planted


def planted_table(tmp_path, family: str, seed: int, noise: bool = True, n: int = 600):
    """(customers table the build makes, planted group per customer or None) for a planted data set."""
    tx, truth = planted(family, seed, n_customers=n, noise=noise)
    path = tmp_path / f"{family}-{seed}.csv"
    tx.to_csv(path, index=False)
    table = customers_of(path)
    return table, table["customer_id"].map(truth)


def ari(truth: pd.Series, labels: np.ndarray) -> float:
    known = truth.notna().to_numpy()
    return adjusted_rand_score(truth[known].to_numpy(dtype=object), labels[known])


@pytest.mark.slow
def test_on_held_out_planted_groups_the_automatic_choice_beats_the_textbook_baseline(tmp_path):
    """The five-group family is never used for tuning (benchmarks/planted.py): the clusters must
    find more of its groups than k-means on recency, frequency and monetary."""
    ours, base = [], []
    for seed in (1, 2):
        table, truth = planted_table(tmp_path, "five_groups", seed)
        ours.append(ari(truth, choose_clusters(table, seed=seed).labels))
        base.append(ari(truth, baseline_clusters(table, seed=seed)))
    assert np.mean(ours) > np.mean(base) + 0.1


@pytest.mark.slow
def test_a_small_group_of_frequent_buyers_among_occasional_ones_gets_its_own_cluster(tmp_path):
    """rare_groups seed 3 (a tuning data set): 63 loyal customers (about 20 orders) beside 305
    occasional ones (about 2), with small groups of big spenders and lapsed customers. No class's
    single-peaked histogram shows the loyal ones, so only a split by order rate finds them; without
    it they were one cluster with the occasional buyers (ARI 0.85, k = 4 of 6)."""
    table, truth = planted_table(tmp_path, "rare_groups", 3, noise=False, n=900)
    result = choose_clusters(table, seed=3)
    labels = pd.Series(result.labels, index=truth.index)
    loyal = labels[truth == "loyal"].mode()[0]
    assert (labels[truth == "loyal"] == loyal).mean() > 0.9
    assert (labels[truth == "occasional"] == loyal).mean() < 0.05
    assert result.k == 6 and ari(truth, result.labels) > 0.95


def planted_customers(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """n customers in four well-separated behaviour groups, and each one's group."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n)
    centre = np.array([[2, 2.3, 6, 5], [5, 3.4, 6.5, 8], [4, 1.6, 3, 6], [1, 2.8, 4, 3.5]])[group]
    noise = rng.normal(0, 0.15, (n, 4))
    recency, orders, active, revenue = np.exp(centre + noise).T
    orders = np.maximum(orders.round(), 2)
    customers = pd.DataFrame({
        "recency_days": recency.round(), "frequency_orders": orders, "active_days": active.round(),
        "monetary": revenue, "items_per_order": np.exp(1 + group % 2 + rng.normal(0, 0.2, n)),
        "lines_per_order": 3.0, "item_price": 2.5, "price_index": 1.0, "return_rate": 0.0,
        "weekend_share": 0.3, "peak_quarter_share": 0.4, **{f"share_q{q}": 0.25 for q in range(1, 5)},
        "first_order_date": "2022-01-03", "last_order_date": "2023-12-20"})
    return customers, group


def test_weekend_and_weekday_shoppers_are_told_apart(tmp_path):
    """Groups that differ only in when they order: a class cannot hold weekend share 0 and 1."""
    table, truth = planted_table(tmp_path, "timing", 1, noise=False)
    keep = truth.isin(["weekender", "weekday"]).to_numpy()
    result = choose_clusters(table[keep].reset_index(drop=True), seed=1, k_min=2, k_max=4)
    assert result.k == 2 and ari(truth[keep].reset_index(drop=True), result.labels) > 0.95


def test_every_k_is_reported_and_the_first_stable_candidate_by_icl_is_chosen():
    customers, group = planted_customers(800)
    result = choose_clusters(customers, seed=1)
    sel = result.selection
    assert sel["method"].eq("latent").all() and sel["k"].tolist() == list(range(3, 9))
    least = max(MIN_CLUSTER_SHARE, MIN_CLUSTER_CUSTOMERS / len(customers))
    assert sel["eligible"].equals(sel["smallest_share"] >= least)
    chosen = sel[sel["chosen"]].iloc[0]
    passed_over = sel[sel["eligible"] & (sel["icl"] < chosen["icl"])]
    assert chosen["eligible"] and chosen["stability"] >= MIN_STABILITY
    assert (passed_over["stability"] < MIN_STABILITY).all()    # measured, and found unstable
    assert result.k == 4 and adjusted_rand_score(group, result.labels) > 0.95
    assert f"k = {result.k}" in result.reason and f"{chosen['icl']:,.0f}" in result.reason
    gap = sel.loc[sel["eligible"] & (sel["icl"] > chosen["icl"]), "icl"].min() - chosen["icl"]
    assert ("very strong evidence" in result.reason) == (gap >= 10)
    assert ("uncertain" in result.reason) == (gap < 6)
    assert chosen["stability"] == pytest.approx(result.stability) and result.stability > 0.9


def _candidates(icl):
    return pd.DataFrame({"method": "latent", "k": range(3, 3 + len(icl)), "icl": icl, "smallest_share": 0.1,
                         "eligible": True, "silhouette": 0.2, "stability": np.nan})


def test_an_unstable_candidate_is_passed_over_and_the_reason_names_it():
    sel = _candidates([300.0, 100.0, 200.0])
    measured = {1: 0.79996, 2: 0.91, 0: 0.99}
    best = _select(sel, lambda i: measured[i])
    assert sel.loc[best, "k"] == 5                                  # ICL order 4 (unstable), then 5
    assert sel["stability"].isna().tolist() == [True, False, False]  # k = 3 was never needed
    text = _reason(sel, best, 0.01, forced=False)
    assert "k = 5 (ICL 200" in text and "k = 4 (0.79996) scored better but was not stable" in text


def test_when_no_candidate_is_stable_the_most_stable_is_chosen_and_the_page_says_so():
    sel = _candidates([300.0, 100.0, 200.0])
    measured = {0: 0.75, 1: 0.6, 2: 0.7}
    best = _select(sel, lambda i: measured[i])
    assert sel.loc[best, "k"] == 3 and sel["stability"].notna().all()
    text = _reason(sel, best, 0.01, forced=False)
    assert text.startswith("No candidate") and "k = 3 is the most stable (0.750" in text
    assert "k = 4 (0.600), k = 5 (0.700) scored better" in text


def test_judging_several_candidates_fits_each_resample_once_and_scores_what_a_fresh_fit_scores(monkeypatch):
    customers, _ = planted_customers(600, seed=4)
    x = cluster.model_matrix(customers)
    e = cluster._class_evidence(customers, x, *cluster.rate_evidence(customers), *cluster.order_counts(customers),
                                latent.bin_edges(x))
    weights = np.ones(e.measures)
    reference = {k: latent.fit_range(e, k, 0, weights)[-1].predict(e) for k in (4, 5)}
    fresh = {k: cluster.stability(e, k, reference[k], weights, 0) for k in (5, 4)}
    calls = []
    real = latent.fit_range
    monkeypatch.setattr(latent, "fit_range", lambda *a, **kw: calls.append(a[1]) or real(*a, **kw))
    kept: dict = {}
    reused = {k: cluster.stability(e, k, reference[k], weights, 0, kept) for k in (5, 4)}
    assert reused == fresh and calls == [5] * cluster.BOOTSTRAPS


def test_a_candidate_with_a_tiny_cluster_is_not_chosen_and_the_reason_says_so():
    customers, _ = planted_customers(1000, seed=2)
    tiny = customers.sample(6, random_state=0).index
    customers.loc[tiny, "item_price"] = 60.0          # six customers far apart on one measure: but < 1%
    customers.loc[tiny, "items_per_order"] = 90.0
    result = choose_clusters(customers, seed=2)
    sizes = np.bincount(result.labels)[1:]
    assert sizes.min() >= max(MIN_CLUSTER_SHARE * len(customers), MIN_CLUSTER_CUSTOMERS)
    sel = result.selection
    better = sel[(~sel["eligible"]) & (sel["icl"] < sel.loc[sel["chosen"], "icl"].iloc[0])]
    if len(better):
        assert "not chosen" in result.reason


def test_extreme_customers_are_assigned_to_their_nearest_cluster_and_flagged_not_given_one():
    customers, group = planted_customers(900, seed=3)
    extreme = customers.index[:3]
    customers.loc[extreme, "lines_per_order"] = 3.0 * 1e6
    result = choose_clusters(customers, seed=3)
    assert result.outlier[:3].all() and result.outlier.sum() == 3
    assert result.k == 4 and adjusted_rand_score(group[3:], result.labels[3:]) > 0.95
    assert all((result.labels == result.labels[i]).sum() > 100 for i in range(3))


def test_each_measure_counts_once_and_a_constant_one_not_at_all_and_one_order_customers_bring_no_timing():
    customers, _ = planted_customers(500)
    customers["weekend_share"] = np.random.default_rng(0).uniform(0, 1, 500)
    customers.loc[:9, "frequency_orders"] = 1
    x = model_matrix(customers)
    counts, widths = order_counts(customers)
    weights = dimension_weights(x, counts).set_index("feature")
    assert list(weights.index) == list(MODEL_FEATURES)
    assert weights.loc["weekend_share", "weight"] == 1.0 and weights.loc["return_rate", "weight"] == 0.0
    assert widths == (2, 4) and (counts[:10] == 0).all() and (counts[10:, :2].sum(axis=1) > 0).all()


def test_timing_counts_are_orders_capped_and_quarters_leave_out_the_span_ends_and_short_spans():
    customers = pd.DataFrame({"frequency_orders": [1, 4, 40, 40], "weekend_share": [1.0, 0.25, 0.5, 0.5],
                              "active_days": [0, 730, 730, 73],
                              "first_order_date": ["2021-11-01", "2020-01-10", "2020-01-10", "2021-01-05"],
                              "last_order_date": ["2021-11-01", "2021-12-30", "2021-12-30", "2021-03-19"],
                              **{f"share_q{q}": [1.0 if q == 4 else 0.0, 0.25, 0.25, 1.0 if q == 1 else 0.0]
                                 for q in range(1, 5)}})
    counts, widths = order_counts(customers)
    assert widths == (2, 4) and TIMING_ORDERS == 10
    np.testing.assert_allclose(counts[:, :2], [[0, 0], [3, 1], [5, 5], [5, 5]])     # weekday, weekend; at most 10
    np.testing.assert_allclose(counts[:, 2:], [[0, 0, 0, 0],             # one order: no evidence
                                               [0, 1, 1, 0],             # first (Q1) and last (Q4) left out
                                               np.array([9, 10, 10, 9]) * 10 / 38,   # at most 10
                                               [38 * 0.2, 0, 0, 0]])     # 73 days: a fifth of a year


def test_weekday_weekend_and_other_shoppers_of_equal_volume_are_three_clusters():
    """A share with a free histogram per class and evidence that grows with orders: shoppers who
    never order at weekends, who only do, and the rest (2/7 at weekends) are told apart, though
    every other measure is the same for all."""
    rng = np.random.default_rng(4)
    n = 900
    group = np.repeat([0, 1, 2], n // 3)
    orders = rng.integers(6, 20, n)
    weekend = np.select([group == 0, group == 1], [0.0, 1.0], rng.binomial(orders, 2 / 7) / orders)
    customers = pd.DataFrame({
        "customer_id": [f"c{i}" for i in range(n)], "recency_days": rng.uniform(0, 60, n),
        "frequency_orders": orders, "active_days": rng.uniform(400, 700, n), "monetary": orders * 30.0,
        "items_per_order": rng.uniform(4, 8, n), "lines_per_order": rng.uniform(2, 4, n),
        "price_index": rng.uniform(0.9, 1.1, n), "return_rate": 0.0, "weekend_share": weekend,
        "item_price": 5.0, "peak_quarter_share": 0.3, "first_order_date": "2022-01-03",
        "last_order_date": "2023-12-20", **{f"share_q{q}": 0.25 for q in range(1, 5)}})
    result = choose_clusters(customers, seed=0, k_min=2, k_max=5, measure_stability=False)
    assert result.k == 3 and adjusted_rand_score(group, result.labels) > 0.9  # a few others never ordered at weekends


def _unimodal_by_search(counts: np.ndarray) -> np.ndarray:
    """The most likely single-peaked probabilities, by pooling adjacent violators on each side of
    every possible peak (written out plainly, one histogram at a time)."""
    def pool(y):  # increasing least-squares fit
        if len(y) == 0:
            return np.empty(0)
        blocks = []
        for v in y:
            blocks.append([v, 1])
            while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
                v2, n2 = blocks.pop()
                blocks[-1][0] += v2
                blocks[-1][1] += n2
        return np.concatenate([[v / n] * n for v, n in blocks])
    best, best_ll = None, -np.inf
    for m in range(len(counts)):
        fit = np.concatenate([pool(counts[: m + 1]), pool(counts[m + 1:][::-1])[::-1]])
        p = fit / fit.sum()
        ll = (counts * np.log(p)).sum()
        if ll > best_ll:
            best, best_ll = p, ll
    return best


@pytest.mark.parametrize("seed", range(5))
def test_class_histograms_are_the_most_likely_single_peaked_ones(seed):
    rng = np.random.default_rng(seed)
    counts = rng.gamma(0.8, 10, (200, latent.BINS)) + 0.5
    got = latent.unimodal(counts)
    want = np.vstack([_unimodal_by_search(c) for c in counts])
    assert np.allclose(got, want, atol=1e-12) and np.allclose(got.sum(axis=1), 1)
    steps = np.sign(np.diff(got, axis=1).round(12))
    for row in steps:  # never falls and then rises again
        nonzero = row[row != 0]
        assert not np.any((nonzero[:-1] < 0) & (nonzero[1:] > 0))


def test_a_class_cannot_hold_both_ends_of_a_measure_but_holds_an_even_spread():
    rng = np.random.default_rng(0)
    ends = np.r_[rng.uniform(0, 0.1, 300), rng.uniform(0.9, 1.0, 300)]       # two kinds of customer
    spread = rng.uniform(0, 1, 600)                                          # one kind, spread out
    for values, want_k in ((ends, 2), (spread, 1)):
        c = latent.Evidence(latent.codes(values[:, None], latent.bin_edges(values[:, None])))
        models = latent.fit_range(c, 3, seed=0)
        bics = [m.bic(len(c)) for m in models]
        assert int(np.argmin(bics)) + 1 == want_k


def test_shares_of_customers_with_few_orders_are_shrunk_towards_the_average():
    customers, _ = planted_customers(400)
    customers["weekend_share"] = [1.0, 0.0] * 200
    customers["frequency_orders"] = [1, 1, 20, 20] * 100
    shown = shown_values(customers)["weekend_share"]
    one, many = shown[customers["frequency_orders"] == 1], shown[customers["frequency_orders"] == 20]
    assert one.max() - one.min() < 0.3 < many.max() - many.min() < 1.0
    assert shown.between(0, 1).all()


def test_no_feature_is_a_copy_of_another_for_one_order_customers(tmp_path):
    """Tenure would repeat recency for them (first order = last order); the span between first and
    last order is 0 instead. Within every planted group no two varying features are one number."""
    table, truth = planted_table(tmp_path, "one_timers", 1, noise=False, n=300)
    once = table[table["frequency_orders"] == 1]
    assert len(once) > 20 and (once["active_days"] == 0).all()
    x = cluster.feature_matrix(table)
    for _group, members in x.groupby(truth.to_numpy(dtype=object)):
        varying = members.loc[:, members.std() > 1e-9]
        corr = varying.corr().abs().to_numpy()
        assert corr[~np.eye(len(corr), dtype=bool)].max() < 0.99


def test_same_seed_gives_the_same_clusters():
    customers, _ = planted_customers(500, seed=5)
    a = choose_clusters(customers, seed=3)
    b = choose_clusters(customers, seed=3)
    assert np.array_equal(a.labels, b.labels) and a.selection.equals(b.selection) and a.reason == b.reason


def test_model_selection_fits_and_scores_bounded_samples_but_assigns_every_customer(monkeypatch):
    customers, group = planted_customers(4 * SELECTION_SAMPLE)
    fitted, scored = [], []
    real_fit, real_distances = latent.fit_range, cluster.pairwise_distances

    def fit(c, k_max, seed, weights=None):
        fitted.append(len(c))
        return real_fit(c, k_max, seed, weights)

    def distances(x):
        scored.append(len(x))
        return real_distances(x)

    monkeypatch.setattr(latent, "fit_range", fit)
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
    customers.loc[:9, "monetary"] = [np.nan, np.inf] * 5  # missing or infinite take the median
    z = standardise(customers)
    assert list(z.columns) == list(CLUSTER_FEATURES) and z.index.equals(customers.index)
    constant = ["lines_per_order", "item_price", "price_index", "return_rate", "weekend_share", "peak_quarter_share"]
    varying = z.drop(columns=constant)
    assert np.allclose(varying.mean(), 0) and np.allclose(varying.std(ddof=0), 1)
    assert (z[constant] == 0).all().all()
    assert z["monetary"].iloc[:10].nunique() == 1
    rows = np.array([3, 7, 250, 499])  # some rows only: scaled on every customer, the same numbers
    pd.testing.assert_frame_equal(standardise(customers, rows=rows), z.iloc[rows], check_exact=True)


def test_clusters_are_renumbered_by_total_revenue_with_ties_kept_in_label_order():
    raw = np.array([0, 0, 2, 2, 5, 3, 3])              # label 1 and 4 unused
    revenue = np.array([1.0, 1.0, 5.0, 0.0, 2.0, 1.0, 1.0])
    # totals: 2 -> 5, 0 -> 2, 3 -> 2, 5 -> 2 (ties by label)
    assert _relabel_by_revenue(raw, revenue).tolist() == [2, 2, 1, 1, 4, 3, 3]


def names_agree_with_medians(labels: np.ndarray, shown: pd.DataFrame, names: dict[int, str]) -> None:
    """Every phrase in a name holds for the medians: the cluster's median is on the phrase's side
    of the middle cluster's, and every cluster without the phrase is less far out on that side."""
    med = cluster_medians(labels, shown)
    clusters = [c for c in med.index if c != "all"]
    med.loc["all"] = med.loc[clusters].median()
    for (feature, direction), phrase in PHRASES.items():
        words = {c: names[c].lower().replace(" buyers", "").replace("one-off", "infrequent") for c in clusters}
        holders = [c for c in clusters if f" {phrase} " in f" {words[c]} "]
        for c in holders:
            assert direction * (med.loc[c, feature] - med.loc["all", feature]) > 0, (names[c], feature)
            others = [o for o in clusters if o not in holders]
            assert all(direction * (med.loc[o, feature] - med.loc[c, feature]) < 0 for o in others), (
                names[c], feature, med[feature].to_dict())


@pytest.mark.slow
@pytest.mark.parametrize("family", ["recency", "basket", "returns", "one_timers", "timing", "five_groups",
                                    "rare_groups"])
def test_every_cluster_name_agrees_with_its_medians_on_planted_data(tmp_path, family):
    table, _ = planted_table(tmp_path, family, 2)
    result = choose_clusters(table, seed=2)
    shown = shown_values(table)
    names = cluster_names(result.labels, shown, table["frequency_orders"])
    assert len(set(names.values())) == result.k
    names_agree_with_medians(result.labels, shown, names)


def test_names_describe_the_features_furthest_from_typical_and_one_off_clusters():
    rng = np.random.default_rng(0)
    n = 300
    shown = pd.DataFrame({f: rng.normal(10, 1, 3 * n) for f in CLUSTER_FEATURES})
    for share in ("return_rate", "weekend_share", "peak_quarter_share"):
        shown[share] = rng.uniform(0.02, 0.4, 3 * n)
    labels = np.repeat([1, 2, 3], n)
    shown.loc[labels == 1, "recency_days"] = 400.0     # far out: lapsed
    shown.loc[labels == 1, "monetary"] = 1.0           # and low spend
    shown.loc[labels == 2, "frequency_orders"] = 1.0   # one order
    shown.loc[labels == 2, "item_price"] = 100.0
    shown.loc[labels == 3, "return_rate"] = 0.5
    shown.loc[labels == 3, "weekend_share"] = 1.0
    frequency = shown["frequency_orders"]
    names = cluster_names(labels, shown, frequency)
    assert names[1] == "Lapsed low-spend buyers"
    assert names[2] == "One-off premium buyers"
    assert names[3] == "High-return weekend buyers"
    names_agree_with_medians(labels, shown, names)


def test_each_cluster_gets_a_short_rule_in_its_own_units_with_honest_coverage_and_precision():
    customers, group = planted_customers(1000, seed=6)
    labels = group + 1
    shown = shown_values(customers)
    names = {c: f"Cluster {c}" for c in range(1, 5)}
    rules = cluster_rules(labels, shown, names, seed=0, currency="£")
    assert rules["cluster"].tolist() == [1, 2, 3, 4]
    assert (rules["coverage"] > 0.9).all() and (rules["precision"] > 0.9).all()
    for r in rules.itertuples():
        assert r.rule.count(" and ") <= 2
        assert r.customers == (labels == r.cluster).sum()
        assert r.rule_customers * r.precision == pytest.approx(r.customers * r.coverage)
    # whole numbers are stated as whole numbers: "Orders ≥ 4", never "Orders > 3.5"
    assert not any(". " in r or ".5" in r for r in rules["rule"] if "Orders" in r and "Orders over" in r)


def test_segment_features_are_the_median_and_mean_z_of_each_segments_customers():
    from analysis.customers.profiles import segment_features

    customers, group = planted_customers(900, seed=4)
    customers.index = np.random.default_rng(1).permutation(np.arange(1000, 1900))  # labels, not positions
    customers["cluster"] = group + 1
    customers["cluster_name"] = pd.Series(group, index=customers.index).map(
        {0: "Zeta", 1: "Alpha", 2: "Mid", 3: "Beta"}).astype("string")
    customers["rfm_segment"] = pd.Series(np.random.default_rng(2).choice(["Lost", "Champions", "New"], 900),
                                         index=customers.index, dtype="string")
    z = standardise(customers)
    got = segment_features(customers)
    assert len(got) == (1 + 3 + 4) * len(CLUSTER_FEATURES)
    assert got[got.feature == "monetary"]["segment"].tolist() == [
        "All customers", "Champions", "Lost", "New", "Zeta", "Alpha", "Mid", "Beta"]
    shown = shown_values(customers)
    for (kind, segment), rows in got.groupby(["kind", "segment"], sort=False):
        col = {"all": None, "rfm": "rfm_segment", "cluster": "cluster_name"}[kind]
        members = customers.index if col is None else customers.index[customers[col] == segment]
        for row in rows.itertuples():
            want_median = shown.loc[members, row.feature].median()
            want_z = z.loc[members, row.feature].mean()
            assert row.median == pytest.approx(want_median, rel=1e-9, nan_ok=True)
            assert row.z == pytest.approx(want_z, rel=1e-9, abs=1e-12, nan_ok=True)


def test_clusters_that_would_share_a_name_are_told_apart_by_how_they_compare():
    rng = np.random.default_rng(1)
    n = 300
    shown = pd.DataFrame({f: rng.normal(10, 0.5, 3 * n) for f in CLUSTER_FEATURES})
    for share in ("return_rate", "weekend_share", "peak_quarter_share"):
        shown[share] = 0.2
    labels = np.repeat([1, 2, 3], n)
    shown.loc[labels != 3, "monetary"] = 40.0               # 1 and 2: the same (typical) spend...
    shown.loc[labels == 1, "items_per_order"] = 10.05       # ...and 1 buys a few more items than 2,
    shown.loc[labels == 2, "items_per_order"] = 9.95        # too few to name either by them
    names = cluster_names(labels, shown, shown["frequency_orders"])
    assert len(set(names.values())) == 3
    assert names[1] == "Typical buyers (more items)" and names[2] == "Typical buyers (fewer items)"
    assert names[3] == "Low-spend buyers"


def test_customers_are_assigned_a_chunk_at_a_time_as_if_all_at_once(tmp_path, monkeypatch):
    # memory: every customer's bins and intervals are made latent.CHUNK customers at a time
    table, _truth = planted_table(tmp_path, "recency", 2)
    whole = cluster.choose_clusters(table, seed=3)
    monkeypatch.setattr(latent, "CHUNK", 37)
    chunked = cluster.choose_clusters(table, seed=3)
    assert len(table) > 10 * 37
    assert np.array_equal(chunked.labels, whole.labels) and chunked.selection.equals(whole.selection)
    assert np.array_equal(chunked.outlier, whole.outlier)
