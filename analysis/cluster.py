"""Behaviour clusters: k-means or a Gaussian mixture on transformed, standardised customer features.

Model selection compares both methods over a range of k by silhouette (on a sample), BIC (mixture
only) and bootstrap stability (adjusted Rand index between fits on resamples). Candidates whose
silhouette is within SILHOUETTE_TOLERANCE of the best are tied; among the tied candidates that are
stable, the one with the most clusters wins (then the higher silhouette). Selection sees at most
SELECTION_SAMPLE customers (silhouette at most SILHOUETTE_SAMPLE) and the chosen model assigns every
customer, so only standardising and assigning grow with the number of customers, linearly.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (adjusted_rand_score, calinski_harabasz_score, davies_bouldin_score,
                             pairwise_distances)
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

# feature -> (label shown to readers, transform): log1p for skewed counts and money.
CLUSTER_FEATURES = {
    "recency_days": ("Days since last order", "log"),
    "frequency_orders": ("Orders", "log"),
    "tenure_days": ("Days since first order", "log"),
    "monetary": ("Revenue", "log"),
    "avg_order_value": ("Average order value", "log"),
    "items_per_order": ("Items per order", "log"),
    "lines_per_order": ("Products per order", "log"),
    "distinct_products": ("Distinct products", "log"),
    "mean_days_between_orders": ("Days between orders", "log"),
    "price_index": ("Price paid vs catalogue", "log"),
    "return_rate": ("Return rate", "none"),
}
METHODS = ("kmeans", "gmm")
MIN_CUSTOMERS = 20       # fewer customers than this are kept as one group: clusters would be noise
SELECTION_SAMPLE = 5_000  # customers used to compare models
SILHOUETTE_SAMPLE = 2_000  # customers whose distances to each other score every candidate
KMEANS_INITS = 4         # k-means++ starts per k-means fit (fewer lost recovery on the benchmark)
GMM_INITS = 1            # starts per mixture fit; a second changed no choice on the recovery benchmark
BOOTSTRAPS = 4           # resamples per candidate for the stability score
STABILITY_CANDIDATES = 4  # the best candidates by silhouette whose stability is measured
MIN_STABILITY = 0.8      # candidates below this adjusted Rand index are not chosen when others pass
# Silhouette favours coarse splits: two real groups that sit close together score a little lower
# split than merged. Candidates within this distance of the best silhouette count as tied, and
# among tied, stable candidates the one with more segments is kept (finer segments, same quality).
SILHOUETTE_TOLERANCE = 0.03
# The fits are small (a few thousand rows): starting and synchronising threads costs more than a
# second core saves, and far more when other work keeps the cores busy. One thread also gives the
# same numbers on every machine.
THREADS = 1
SELECTION_COLUMNS = ["method", "k", "silhouette", "bic", "stability", "calinski_harabasz", "davies_bouldin",
                     "chosen"]


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray          # 1..k per customer, 1 = the cluster with the most revenue
    selection: pd.DataFrame     # schema.TABLES['cluster_selection']
    k: int
    method: str
    silhouette: float
    stability: float
    z: pd.DataFrame             # standardised features, one row per customer (for profiles)


def feature_matrix(customers: pd.DataFrame, features=CLUSTER_FEATURES) -> pd.DataFrame:
    """Transformed features. One-order customers have no gap between orders: use their tenure,
    the least time they have gone without reordering. Missing (or infinite) values take the median."""
    return pd.DataFrame(_features(customers, features), index=customers.index, columns=list(features))


def standardise(customers: pd.DataFrame, features=CLUSTER_FEATURES) -> pd.DataFrame:
    """feature_matrix scaled to mean 0 and standard deviation 1 (a constant feature is all 0).
    Column by column in place: StandardScaler's checks cost ten times as much at a million customers."""
    x = _features(customers, features)
    for j in range(x.shape[1]):
        col = x[:, j]
        col -= col.mean()
        if col.max() > col.min():
            col /= col.std()
        else:
            col[:] = 0.0
    return pd.DataFrame(x, index=customers.index, columns=list(features))


def _features(customers: pd.DataFrame, features) -> np.ndarray:
    """feature_matrix as one float array (customers x features), filled column by column in place."""
    out = np.empty((len(customers), len(features)), dtype="float64", order="F")
    for j, (name, (_label, transform)) in enumerate(features.items()):
        col = out[:, j]
        col[:] = customers[name].to_numpy(dtype="float64", na_value=np.nan)
        if name == "mean_days_between_orders":
            missing = np.isnan(col)
            col[missing] = customers["tenure_days"].to_numpy(dtype="float64", na_value=np.nan)[missing]
        missing = ~np.isfinite(col)
        if missing.any():
            col[missing] = 0.0 if missing.all() else np.median(col[~missing])
        if transform == "log":
            np.log1p(np.maximum(col, 0.0, out=col), out=col)
    return out


def _model(method: str, k: int, seed: int):
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=KMEANS_INITS, random_state=seed)
    return GaussianMixture(n_components=k, covariance_type="diag", n_init=GMM_INITS, reg_covar=1e-4,
                           random_state=seed)


def _fit(method: str, k: int, x: np.ndarray, seed: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _model(method, k, seed).fit(x)


def _sample(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size=size, replace=False))


def silhouette(distances: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette from a square distance matrix of the sample, worked out once and shared by
    every candidate; NaN when the labels form fewer than two clusters.

    The same number as scikit-learn's silhouette_score(distances, labels, metric="precomputed")
    (a point alone in its cluster scores 0), from one matrix product: each point's summed
    distance to each cluster. About 4x faster on the 2,000-customer sample, where scikit-learn's
    checks and chunking cost more than the arithmetic, and it runs for each of a dozen candidates."""
    values, codes = np.unique(labels, return_inverse=True)
    k, n = len(values), len(codes)
    if not 1 < k < n:
        return float("nan")
    sizes = np.bincount(codes, minlength=k).astype("float64")
    sums = distances @ np.eye(k)[codes]                  # (n, k) summed distances to each cluster
    own = sizes[codes]
    rows = np.arange(n)
    a = sums[rows, codes] / np.maximum(own - 1, 1)       # mean distance to the rest of its cluster
    means = sums / sizes
    means[rows, codes] = np.inf
    b = means.min(axis=1)                                # mean distance to the nearest other cluster
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(own > 1, (b - a) / np.maximum(a, b), 0.0)
    return float(np.nan_to_num(s).mean())


def _score(method: str, k: int, x: np.ndarray, sil_idx: np.ndarray, distances: np.ndarray,
           seed: int) -> tuple[dict, object]:
    model = _fit(method, k, x, seed)
    labels = model.predict(x)
    ok = len(np.unique(labels)) > 1
    row = {
        "method": method, "k": k,
        "silhouette": silhouette(distances, labels[sil_idx]),
        "bic": float(model.bic(x)) if method == "gmm" else np.nan,
        "calinski_harabasz": float(calinski_harabasz_score(x, labels)) if ok else np.nan,
        "davies_bouldin": float(davies_bouldin_score(x, labels)) if ok else np.nan,
    }
    return row, model


def stability(method: str, k: int, x: np.ndarray, reference: np.ndarray, seed: int) -> float:
    """Mean adjusted Rand index between the reference labels and fits on bootstrap resamples."""
    rng = np.random.default_rng(seed + 1)
    scores = []
    with threadpool_limits(limits=THREADS):
        for b in range(BOOTSTRAPS):
            idx = rng.integers(0, len(x), len(x))
            labels = _fit(method, k, x[idx], seed + b + 1).predict(x)
            scores.append(adjusted_rand_score(reference, labels))
    return float(np.mean(scores))


def choose_clusters(customers: pd.DataFrame, *, seed: int, k_min: int = 3, k_max: int = 8,
                    k: int | None = None, methods=METHODS, features=CLUSTER_FEATURES,
                    check_stability: bool = True) -> Clustering:
    """Compare methods x k on a sample; keep the best silhouette among stable candidates; assign all.
    Same customers and seed give the same labels and selection table."""
    z = standardise(customers, features)
    x = z.to_numpy()
    n = len(x)
    if n < MIN_CUSTOMERS:
        empty = pd.DataFrame(columns=SELECTION_COLUMNS)
        return Clustering(np.ones(n, dtype="int64"), empty, 1, "none", float("nan"), float("nan"), z)
    rng = np.random.default_rng(seed)
    xs = x[_sample(n, SELECTION_SAMPLE, rng)]
    sil_idx = _sample(len(xs), SILHOUETTE_SAMPLE, rng)
    ks = [k] if k else [kk for kk in range(k_min, k_max + 1) if kk < len(xs)]
    with threadpool_limits(limits=THREADS):
        selection, models = _compare(xs, sil_idx, ks, methods, seed)
        best = (_select(selection, xs, models, seed) if check_stability
                else selection["silhouette"].fillna(-1).idxmax())
        selection["chosen"] = selection.index == best
        method, kk = selection.loc[best, "method"], int(selection.loc[best, "k"])
        raw = models[(method, kk)].predict(x)
    revenue = np.nan_to_num(customers["monetary"].to_numpy(dtype="float64", na_value=np.nan))
    labels = _relabel_by_revenue(raw, revenue)
    return Clustering(labels=labels, selection=selection[SELECTION_COLUMNS], k=int(labels.max()),
                      method=method, silhouette=float(selection.loc[best, "silhouette"]),
                      stability=float(selection.loc[best, "stability"]), z=z)


def _compare(xs: np.ndarray, sil_idx: np.ndarray, ks: list[int], methods, seed: int) -> tuple[pd.DataFrame, dict]:
    """One row per method x k (stability left empty) and the fitted models by (method, k). Every
    candidate's silhouette uses the same distance matrix of the silhouette sample, computed once."""
    distances = pairwise_distances(xs[sil_idx])
    rows, models = [], {}
    for method in methods:
        for kk in ks:
            row, models[(method, kk)] = _score(method, kk, xs, sil_idx, distances, seed)
            rows.append(row)
    selection = pd.DataFrame(rows)
    selection["stability"] = np.nan
    return selection, models


def _select(selection: pd.DataFrame, xs: np.ndarray, models: dict, seed: int):
    """Index of the chosen row; fills the stability of the tied candidates it examined."""
    sil = selection["silhouette"].fillna(-1)
    tied = selection[sil >= sil.max() - SILHOUETTE_TOLERANCE]
    tied = tied.assign(_sil=sil).sort_values(["k", "_sil"], ascending=False, kind="stable")
    for i in tied.index[:STABILITY_CANDIDATES]:
        method, kk = selection.loc[i, "method"], int(selection.loc[i, "k"])
        selection.loc[i, "stability"] = stability(method, kk, xs, models[(method, kk)].predict(xs), seed)
        if selection.loc[i, "stability"] >= MIN_STABILITY:
            return i
    return sil.idxmax()


def baseline_clusters(customers: pd.DataFrame, *, seed: int, k_min: int = 3, k_max: int = 8) -> np.ndarray:
    """The textbook baseline: k-means on log recency, frequency and monetary, k by silhouette."""
    rfm = {f: CLUSTER_FEATURES[f] for f in ("recency_days", "frequency_orders", "monetary")}
    return choose_clusters(customers, seed=seed, k_min=k_min, k_max=k_max, methods=("kmeans",),
                           features=rfm, check_stability=False).labels


def _relabel_by_revenue(raw: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """Number clusters 1..k by total revenue, largest first (ties: original label), so ids are stable."""
    counts = np.bincount(raw)
    totals = np.bincount(raw, weights=revenue, minlength=len(counts))
    present = np.flatnonzero(counts)
    order = present[np.lexsort((present, -totals[present]))]
    new_id = np.zeros(len(counts), dtype="int64")
    new_id[order] = np.arange(1, len(order) + 1)
    return new_id[raw]
