"""A short rule per cluster, in the data's own units, learned from its members.

For each cluster shallow decision trees (depth MAX_DEPTH at most) tell its members from everyone
else on the features the clusters are described by (cluster.shown_values); trees are greedy, so a
few are grown (Gini and entropy splits, with and without balancing the classes; TREES). The rule is
the path to the leaf that best matches the cluster (highest F1 score), its conditions merged per feature,
e.g. "Orders ≥ 4 and Days since last order ≤ 60". Beside it: coverage, the share of the cluster's
customers the rule takes in, and precision, the share of the rule's customers who are in the cluster.
Customer-level work on at most SAMPLE customers for fitting; every customer is counted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.tree import DecisionTreeClassifier

from analysis.customers.cluster import CLUSTER_FEATURES

MAX_DEPTH = 3
SAMPLE = 20_000          # customers a tree is fitted on
MIN_LEAF = 0.005         # a leaf holds at least this share of the sample (and at least 5 customers)
WHOLE = {"recency_days", "frequency_orders", "active_days"}  # whole numbers: thresholds are rounded
MONEY = {"monetary", "item_price"}
SHARES = {"return_rate", "weekend_share", "peak_quarter_share"}
TREES = [(weight, criterion) for weight in ("balanced", None) for criterion in ("gini", "entropy")]
COLUMNS = ["cluster", "segment", "rule", "customers", "rule_customers", "coverage", "precision"]


def cluster_rules(labels: np.ndarray, shown: pd.DataFrame, names: dict[int, str], seed: int,
                  currency: str = "") -> pd.DataFrame:
    """schema.TABLES['cluster_rules']: one row per cluster, in cluster order."""
    labels = np.asarray(labels)
    # Trees split on float32 (they convert every input to it): converting once, here, gives the same
    # trees and leaves without a float64 copy and a conversion per tree.
    x = shown.to_numpy(dtype="float32")
    features = list(shown.columns)
    rng = np.random.default_rng(seed)
    fit_on = np.arange(len(x)) if len(x) <= SAMPLE else np.sort(rng.choice(len(x), SAMPLE, replace=False))
    rows = []
    for c in sorted(np.unique(labels)):
        member = labels == c
        if member.all():
            rows.append({"cluster": int(c), "segment": names[int(c)], "rule": "every customer",
                         "customers": int(member.sum()), "rule_customers": len(x), "coverage": 1.0, "precision": 1.0})
            continue
        best_f1, tree, best, hit = -1.0, None, 0, None
        for weight, criterion in TREES:
            grown = DecisionTreeClassifier(max_depth=MAX_DEPTH, class_weight=weight, criterion=criterion,
                                           random_state=seed, min_samples_leaf=max(5, int(MIN_LEAF * len(fit_on))))
            grown.fit(x[fit_on], member[fit_on])
            leaf_of = grown.apply(x)
            leaves = np.unique(leaf_of)
            inside = np.bincount(leaf_of, weights=member, minlength=leaf_of.max() + 1)[leaves]
            size = np.bincount(leaf_of, minlength=leaf_of.max() + 1)[leaves]
            f1 = 2 * inside / (size + member.sum())
            if f1.max() > best_f1 + 1e-12:
                best_f1, tree, best = float(f1.max()), grown, leaves[int(np.argmax(f1))]
                hit = leaf_of == best
        rows.append({"cluster": int(c), "segment": names[int(c)],
                     "rule": _words(_path(tree, best), features, currency),
                     "customers": int(member.sum()), "rule_customers": int(hit.sum()),
                     "coverage": float((hit & member).sum() / member.sum()),
                     "precision": float((hit & member).sum() / max(hit.sum(), 1))})
    return pd.DataFrame(rows, columns=COLUMNS)


def _path(tree: DecisionTreeClassifier, leaf: int) -> list[tuple[int, bool, float]]:
    """(feature index, is_upper_bound, threshold) along the path from the root to `leaf`."""
    t = tree.tree_
    parent = {}
    for node in range(t.node_count):
        for child, upper in ((t.children_left[node], True), (t.children_right[node], False)):
            if child >= 0:
                parent[child] = (node, upper)
    steps, node = [], leaf
    while node in parent:
        node, upper = parent[node]
        steps.append((int(t.feature[node]), upper, float(t.threshold[node])))
    return steps[::-1]


def _words(path, features: list[str], currency: str) -> str:
    """The path's conditions merged per feature (the tightest bound each way), in reading order."""
    bounds: dict[int, list[float]] = {}
    for j, upper, threshold in path:
        low, high = bounds.get(j, [-np.inf, np.inf])
        bounds[j] = [low, min(high, threshold)] if upper else [max(low, threshold), high]
    if not bounds:
        return "every customer"
    parts = []
    for j in sorted(bounds, key=lambda j: features.index(features[j])):
        f = features[j]
        low, high = bounds[j]
        label = CLUSTER_FEATURES[f][0] if f in CLUSTER_FEATURES else f
        if f in WHOLE:  # x <= 3.5 is x <= 3; x > 3.5 is x >= 4
            lo = None if low == -np.inf else int(np.floor(low)) + 1
            hi = None if high == np.inf else int(np.floor(high))
            if lo is not None and hi is not None:
                parts.append(f"{label} {lo:,}–{hi:,}" if lo < hi else f"{label} = {lo:,}")
            elif lo is not None:
                parts.append(f"{label} ≥ {lo:,}")
            else:
                parts.append(f"{label} ≤ {hi:,}")
            continue
        show = lambda v: _value(f, v, currency)  # noqa: E731
        if low > -np.inf and high < np.inf:
            parts.append(f"{label} over {show(low)} and at most {show(high)}")
        elif low > -np.inf:
            parts.append(f"{label} over {show(low)}")
        else:
            parts.append(f"{label} at most {show(high)}")
    return " and ".join(parts)


def _value(feature: str, v: float, currency: str) -> str:
    if feature in MONEY:
        return f"{currency}{v:,.0f}" if abs(v) >= 100 else f"{currency}{v:,.2f}"
    if feature in SHARES:  # two significant figures below 10%: "0.04%", not "0.0%"
        return f"{v:.0%}" if v >= 0.1 else f"{100 * v:.2g}%"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:,.1f}" if abs(v) < 100 else f"{v:,.0f}"  # 0.98 and 1.02 stay apart
