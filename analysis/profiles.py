"""Segment profiles: size, value, typical behaviour, a name for each cluster and an action.

Works on the customers table (one row per customer, pandas); never touches transaction lines.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from analysis.cluster import CLUSTER_FEATURES

# Colour-blind-safe palettes (Paul Tol's 'muted' and 'bright' sets); one colour per segment,
# given by the segment's place in the segment map, so it is the same on every page.
RFM_COLORS = ["#117733", "#44AA99", "#882255", "#CC6677", "#88CCEE", "#332288", "#6699CC", "#DDCC77",
              "#AA4499", "#999933", "#BBBBBB", "#777777"]
CLUSTER_COLORS = ["#0077BB", "#EE7733", "#009988", "#CC3311", "#33BBEE", "#EE3377", "#BBBBBB",
                  "#000000", "#882255", "#44AA99", "#999933", "#AA4499"]

SMALL_SEGMENT = 0.02  # clusters below this share of customers are flagged as small

# (feature, direction) -> phrase used in a cluster's name; direction +1 means above average.
PHRASES = {
    ("monetary", 1): "high-spend", ("monetary", -1): "low-spend",
    ("frequency_orders", 1): "frequent", ("frequency_orders", -1): "infrequent",
    ("tenure_days", 1): "long-standing", ("tenure_days", -1): "new",
    ("recency_days", 1): "lapsed", ("recency_days", -1): "recently active",
    ("avg_order_value", 1): "big-basket", ("avg_order_value", -1): "small-basket",
    ("items_per_order", 1): "bulk", ("items_per_order", -1): "few-item",
    ("distinct_products", 1): "broad-range", ("distinct_products", -1): "narrow-range",
    ("mean_days_between_orders", 1): "slow-repeat", ("mean_days_between_orders", -1): "fast-repeat",
    ("return_rate", 1): "high-return", ("return_rate", -1): "low-return",
    ("lines_per_order", 1): "many-product", ("lines_per_order", -1): "single-product",
    ("price_index", 1): "full-price", ("price_index", -1): "bargain",
}


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "segment"


# Order in which chosen phrases are read, so names come out as "Lapsed big-basket buyers".
PHRASE_ORDER = ["tenure_days", "recency_days", "frequency_orders", "mean_days_between_orders", "monetary",
                "avg_order_value", "items_per_order", "lines_per_order", "distinct_products", "price_index",
                "return_rate"]


def cluster_names(labels: np.ndarray, z: pd.DataFrame, frequency: pd.Series) -> dict[int, str]:
    """Name each cluster from its two most distinctive features (largest |mean z|); names are unique.

    Clusters whose typical customer ordered once are not described by the gap between orders
    (for them it is only their tenure), so that feature is left out of their name.
    """
    means = z.groupby(labels).mean()
    if len(means) == 1:
        return {int(means.index[0]): "All customers (one group)"}
    median_orders = frequency.groupby(labels).median()
    names: dict[int, str] = {}
    for cluster, row in means.iterrows():
        ranked = list(row.abs().sort_values(ascending=False, kind="stable").index)
        if median_orders[cluster] <= 1:  # their "gap" is only their tenure
            ranked.remove("mean_days_between_orders")
        once = median_orders[cluster] <= 1

        def name_of(features):
            ordered = sorted(features, key=PHRASE_ORDER.index)
            words = [("one-off" if once and f == "frequency_orders" and row[f] < 0
                      else PHRASES[(f, 1 if row[f] > 0 else -1)]) for f in ordered]
            return " ".join(words).capitalize() + " buyers"
        name, extra = name_of(ranked[:2]), 3
        while name in names.values() and extra <= len(ranked):
            name, extra = name_of(ranked[:extra]), extra + 1
        if name in names.values():
            name = f"{name} ({cluster})"
        names[int(cluster)] = name
    return names


def rfm_grid(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers and revenue per (R, F) score cell with the segment most customers in it hold."""
    g = customers.groupby(["r_score", "f_score"], observed=True)
    grid = g.agg(customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
    top = g["rfm_segment"].agg(lambda s: s.value_counts().sort_index().idxmax()).reset_index()
    return grid.merge(top, on=["r_score", "f_score"])[["r_score", "f_score", "customers", "revenue", "rfm_segment"]]


def _profile(kind: str, name: str, members: pd.DataFrame, totals: dict) -> dict:
    orders = int(members["frequency_orders"].sum())
    revenue = float(members["monetary"].sum())
    returned = float(members["returns_value"].sum())  # at the price paid: what was bought is revenue + returned
    return {
        "kind": kind, "segment": name, "customers": len(members),
        "share_customers": len(members) / totals["customers"],
        "revenue": revenue, "share_revenue": revenue / totals["revenue"] if totals["revenue"] else 0.0,
        "orders": orders, "avg_order_value": revenue / orders if orders else np.nan,
        "revenue_per_customer": revenue / len(members) if len(members) else np.nan,
        "median_recency_days": float(members["recency_days"].median()),
        "median_frequency_orders": float(members["frequency_orders"].median()),
        "median_monetary": float(members["monetary"].median()),
        "return_rate": float(returned / (revenue + returned)) if revenue + returned > 0 else 0.0,
    }


def describe_cluster(name: str, p: dict, members: pd.DataFrame, money: str) -> str:
    gap = members["mean_days_between_orders"].median()
    habit = (f"order every {gap:,.0f} days" if p["median_frequency_orders"] > 1 and pd.notna(gap)
             else "most ordered once")
    small = (f" Small segment (under {SMALL_SEGMENT:.0%} of customers): act on it only if its value "
             f"justifies a campaign of its own." if p["share_customers"] < SMALL_SEGMENT else "")
    return (f"{name}: {p['share_customers']:.0%} of customers, {p['share_revenue']:.0%} of revenue, "
            f"{habit}, last order a median {p['median_recency_days']:,.0f} days ago, "
            f"average order {money}{p['avg_order_value']:,.2f}.{small}")


def segment_profiles(customers: pd.DataFrame, rules: pd.DataFrame, money: str = "") -> pd.DataFrame:
    """schema.TABLES['segments']: RFM segments in rule order (empty ones left out), then clusters 1..k."""
    totals = {"customers": len(customers), "revenue": float(customers["monetary"].sum())}
    rule_of = rules.set_index("segment")
    rows = []
    for i, name in enumerate(rules["segment"]):
        members = customers[customers["rfm_segment"] == name]
        if members.empty:
            continue
        p = _profile("rfm", name, members, totals)
        p.update(slug=f"rfm-{slugify(name)}", color=RFM_COLORS[i % len(RFM_COLORS)], rule=rule_of.loc[name, "rule"],
                 description=f"{name}: {p['share_customers']:.0%} of customers, {p['share_revenue']:.0%} "
                             f"of revenue; {rule_of.loc[name, 'rule']}.",
                 action=rule_of.loc[name, "action"])
        rows.append(p)
    action_of = rule_of["action"].to_dict()
    for cluster, members in customers.groupby("cluster", sort=True):
        name = members["cluster_name"].iloc[0]
        p = _profile("cluster", name, members, totals)
        main = members["rfm_segment"].value_counts().sort_index().idxmax()
        share = (members["rfm_segment"] == main).mean()
        p.update(slug=f"cluster-{cluster}-{slugify(name)}",
                 color=CLUSTER_COLORS[(int(cluster) - 1) % len(CLUSTER_COLORS)],
                 rule=f"behaviour cluster {cluster} of {customers['cluster'].nunique()} (k-means)",
                 description=describe_cluster(name, p, members, money),
                 action=f"{share:.0%} of them are '{main}' in RFM terms: {action_of[main]}")
        rows.append(p)
    columns = ["kind", "segment", "slug", "color", "customers", "share_customers", "revenue",
               "share_revenue", "orders", "avg_order_value", "revenue_per_customer",
               "median_recency_days", "median_frequency_orders", "median_monetary", "return_rate",
               "rule", "description", "action"]
    return pd.DataFrame(rows)[columns]


def segment_features(customers: pd.DataFrame, z: pd.DataFrame) -> pd.DataFrame:
    """Per segment and feature: the median in real units and the mean standardised value (z),
    with an 'All customers' row per feature for comparison. (On the features as arrays, taken by
    each segment's row positions: the same numbers as pandas' median and mean of the segment's
    rows, without a lookup by label per segment and feature.)"""
    features = list(CLUSTER_FEATURES)
    if not z.index.equals(customers.index):
        z = z.loc[customers.index]
    values = np.column_stack([customers[f].to_numpy(dtype="float64", na_value=np.nan) for f in features])
    scaled = np.column_stack([z[f].to_numpy(dtype="float64", na_value=np.nan) for f in features])
    names = customers["cluster_name"]
    groups = [("all", "All customers", np.arange(len(customers)))]
    groups += [("rfm", s, pos) for s, pos in customers.groupby("rfm_segment", sort=True).indices.items()]
    groups += [("cluster", names.iloc[pos[0]], pos) for _c, pos in customers.groupby("cluster", sort=True).indices.items()]
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature with no value in a segment: NaN
        for kind, name, pos in groups:
            medians, means = np.nanmedian(values[pos], axis=0), np.nanmean(scaled[pos], axis=0)
            for j, (feature, (label, _t)) in enumerate(CLUSTER_FEATURES.items()):
                rows.append({"kind": kind, "segment": name, "feature": feature, "label": label,
                             "median": float(medians[j]), "z": float(means[j])})
    return pd.DataFrame(rows)


def crosstab(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers per (RFM segment, cluster name), non-empty cells only."""
    ct = customers.groupby(["rfm_segment", "cluster_name"], observed=True).size()
    return ct.rename("customers").reset_index()


def customer_sample(customers: pd.DataFrame, seed: int, size: int = 3000) -> pd.DataFrame:
    """At most `size` customers for scatter plots, stratified by cluster: each cluster keeps its share
    (largest-remainder rounding, so exactly `size` rows)."""
    cols = ["customer_id", "recency_days", "frequency_orders", "monetary", "avg_order_value",
            "rfm_segment", "cluster_name"]
    if len(customers) <= size:
        return customers[cols].reset_index(drop=True)
    counts = customers["cluster"].value_counts().sort_index()
    quota = size * counts / counts.sum()
    n = np.floor(quota).astype(int)
    n[(quota - n).sort_values(ascending=False, kind="stable").index[: size - n.sum()]] += 1  # largest remainders
    parts = [members.sample(n=int(n[c]), random_state=seed)
             for c, members in customers.groupby("cluster", sort=True)]
    return pd.concat(parts)[cols].sort_values("customer_id").reset_index(drop=True)
