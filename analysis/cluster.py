"""Behaviour clusters: k-means on log-transformed, standardised customer features.

The number of clusters is chosen by the silhouette score on a sample; model selection
runs on at most SELECTION_SAMPLE customers and the chosen model assigns every customer,
so the cost does not grow with the number of transaction lines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.preprocessing import StandardScaler

# feature -> (label shown to readers, transform): log1p for skewed counts and money.
CLUSTER_FEATURES = {
    "recency_days": ("Days since last order", "log"),
    "frequency_orders": ("Orders", "log"),
    "tenure_days": ("Days since first order", "log"),
    "monetary": ("Revenue", "log"),
    "avg_order_value": ("Average order value", "log"),
    "items_per_order": ("Items per order", "log"),
    "distinct_products": ("Distinct products", "log"),
    "mean_days_between_orders": ("Days between orders", "log"),
    "return_rate": ("Return rate", "none"),
}
MIN_CUSTOMERS = 20  # fewer customers than this are kept as one group: clusters would be noise
SELECTION_SAMPLE = 20_000
SILHOUETTE_SAMPLE = 5_000


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray          # 1..k per customer, 1 = the cluster with the most revenue
    selection: pd.DataFrame     # schema.TABLES['cluster_selection']
    k: int
    silhouette: float
    z: pd.DataFrame             # standardised features, one row per customer (for profiles)


def feature_matrix(customers: pd.DataFrame) -> pd.DataFrame:
    """Transformed features. One-order customers have no gap between orders: use their tenure,
    the least time they have gone without reordering."""
    gap = customers["mean_days_between_orders"].fillna(customers["tenure_days"].astype("float64"))
    cols = {}
    for name, (_label, transform) in CLUSTER_FEATURES.items():
        values = gap if name == "mean_days_between_orders" else customers[name].astype("float64")
        cols[name] = np.log1p(values.clip(lower=0)) if transform == "log" else values
    return pd.DataFrame(cols, index=customers.index)


def _sample_index(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= size else np.sort(rng.choice(n, size=size, replace=False))


def choose_clusters(customers: pd.DataFrame, *, seed: int, k_min: int = 2, k_max: int = 8,
                    k: int | None = None) -> Clustering:
    """Fit k-means for each k in k_min..k_max (or only `k`) and keep the best silhouette."""
    z = pd.DataFrame(StandardScaler().fit_transform(feature_matrix(customers)),
                     index=customers.index, columns=list(CLUSTER_FEATURES))
    x = z.to_numpy()
    n = len(x)
    if n < MIN_CUSTOMERS:
        empty = pd.DataFrame(columns=["k", "silhouette", "calinski_harabasz", "davies_bouldin", "inertia", "chosen"])
        return Clustering(labels=np.ones(n, dtype="int64"), selection=empty, k=1, silhouette=float("nan"), z=z)
    rng = np.random.default_rng(seed)
    fit_idx = _sample_index(n, SELECTION_SAMPLE, rng)
    sil_idx = _sample_index(len(fit_idx), SILHOUETTE_SAMPLE, rng)
    ks = [k] if k else list(range(k_min, min(k_max, n - 1) + 1))
    rows, models = [], {}
    for kk in ks:
        if kk >= len(fit_idx):
            continue
        model = KMeans(n_clusters=kk, n_init=10, random_state=seed).fit(x[fit_idx])
        labels = model.labels_
        sample = x[fit_idx][sil_idx]
        sample_labels = labels[sil_idx]
        ok = len(np.unique(sample_labels)) > 1
        rows.append({
            "k": kk,
            "silhouette": float(silhouette_score(sample, sample_labels)) if ok else np.nan,
            "calinski_harabasz": float(calinski_harabasz_score(x[fit_idx], labels)) if ok else np.nan,
            "davies_bouldin": float(davies_bouldin_score(x[fit_idx], labels)) if ok else np.nan,
            "inertia": float(model.inertia_),
        })
        models[kk] = model
    if not rows:
        raise ValueError(f"too few customers ({n}) to form clusters")
    selection = pd.DataFrame(rows)
    best = int(selection.loc[selection["silhouette"].fillna(-1).idxmax(), "k"])
    selection["chosen"] = selection["k"] == best
    raw = models[best].predict(x)
    labels = _relabel_by_revenue(raw, customers["monetary"].to_numpy())
    return Clustering(labels=labels, selection=selection[
        ["k", "silhouette", "calinski_harabasz", "davies_bouldin", "inertia", "chosen"]],
        k=best, silhouette=float(selection.loc[selection["chosen"], "silhouette"].iloc[0]), z=z)


def _relabel_by_revenue(raw: np.ndarray, revenue: np.ndarray) -> np.ndarray:
    """Number clusters 1..k by total revenue, largest first (ties: original label), so ids are stable."""
    totals = pd.Series(revenue).groupby(raw).sum()
    order = sorted(totals.index, key=lambda c: (-totals[c], c))
    new_id = {old: i + 1 for i, old in enumerate(order)}
    return np.array([new_id[c] for c in raw], dtype="int64")
