"""Segment profiles: size, value, typical behaviour, a name for each cluster and an action.

Works on the customers table (one row per customer, pandas); never touches transaction lines.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from analysis.customers.cluster import CLUSTER_FEATURES, shown_values, standardise, transformed

SMALL_SEGMENT = 0.02  # clusters below this share of customers are flagged as small

# (feature, direction) -> (phrase used in a cluster's name, how a cluster compares with others of
# the same name); direction +1 means above the typical cluster.
WORDS = {
    ("recency_days", 1): ("lapsed", "longer silent"), ("recency_days", -1): ("recently active", "more recent"),
    ("frequency_orders", 1): ("frequent", "more orders"), ("frequency_orders", -1): ("infrequent", "fewer orders"),
    ("active_days", 1): ("long-standing", "longer-standing"), ("active_days", -1): ("short-lived", "newer"),
    ("monetary", 1): ("high-spend", "higher spend"), ("monetary", -1): ("low-spend", "lower spend"),
    ("items_per_order", 1): ("bulk", "more items"), ("items_per_order", -1): ("few-item", "fewer items"),
    ("lines_per_order", 1): ("many-product", "more products"),
    ("lines_per_order", -1): ("few-product", "fewer products"),
    ("units_per_line", 1): ("multi-unit", "more units per product"),
    ("units_per_line", -1): ("single-unit", "fewer units per product"),
    ("item_price", 1): ("premium", "pricier items"), ("item_price", -1): ("low-price", "cheaper items"),
    ("price_index", 1): ("full-price", "nearer full price"), ("price_index", -1): ("bargain", "more discounted"),
    ("return_rate", 1): ("high-return", "more returns"), ("return_rate", -1): ("low-return", "fewer returns"),
    ("weekend_share", 1): ("weekend", "more at weekends"), ("weekend_share", -1): ("weekday", "fewer at weekends"),
    ("peak_quarter_share", 1): ("seasonal", "more seasonal"),
    ("peak_quarter_share", -1): ("year-round", "less seasonal"),
}
PHRASES = {key: words[0] for key, words in WORDS.items()}
COMPARED = {key: words[1] for key, words in WORDS.items()}
# Order in which chosen phrases are read, so names come out as "Lapsed high-spend buyers".
PHRASE_ORDER = ["active_days", "recency_days", "frequency_orders", "monetary", "items_per_order",
                "lines_per_order", "units_per_line", "item_price", "price_index", "return_rate", "weekend_share",
                "peak_quarter_share"]
NAME_PHRASES = 2      # phrases per name (more only to keep names unique)
MIN_NAME_Z = 0.25     # a feature names a cluster only if its median is this many standard deviations from
                      # typical, and from every cluster not so named
ONCE_FEATURES = ("active_days", "weekend_share", "peak_quarter_share")  # say nothing of one-order clusters


def cluster_medians(labels: np.ndarray, shown: pd.DataFrame) -> pd.DataFrame:
    """Each cluster's median of each feature (shown: cluster.shown_values), and an 'all' row."""
    med = shown.groupby(np.asarray(labels)).median()
    med.loc["all"] = shown.median()
    return med


def cluster_names(labels: np.ndarray, shown: pd.DataFrame, frequency: pd.Series) -> dict[int, str]:
    """Name each cluster from the features on which its median stands furthest from the middle
    cluster's (the median of the clusters' medians, so that one large group, such as a majority of
    one-time buyers, does not make every other cluster "recently active"; in standard deviations of
    the transformed feature), in words that hold for the medians: a
    phrase such as "lapsed" goes to a cluster only when every cluster with a higher median recency
    carries it too, so a "lapsed" cluster's median recency is the highest of those not so named,
    and only when it stands at least MIN_NAME_Z standard deviations beyond every cluster not so
    named (a "weekend" cluster whose median weekend share equals another's says nothing).
    Clusters whose typical customer ordered once are not described by span or timing shares.
    Names are unique."""
    labels = np.asarray(labels)
    clusters = [int(c) for c in np.unique(labels)]
    if len(clusters) == 1:
        return {clusters[0]: "All customers (one group)"}
    med = cluster_medians(labels, shown)
    z = {}
    for f in shown.columns:
        t = _transformed(shown[f], f)
        spread = float(t.std()) or 1.0
        typical = float(_transformed(med.loc[clusters, f], f).median())   # the middle cluster
        for c in clusters:
            z[(c, f)] = (float(_transformed(pd.Series([med.loc[c, f]]), f).iloc[0]) - typical) / spread
    typical_orders = frequency.groupby(labels).median()
    once = {c: typical_orders[c] <= 1 for c in clusters}
    held: dict[tuple[str, int], set[int]] = {}
    chosen: dict[int, list[tuple[str, int]]] = {c: [] for c in clusters}
    candidates = sorted(((c, f) for c in clusters for f in shown.columns if f in {p[0] for p in PHRASES}),
                        key=lambda cf: (-abs(z[cf]), PHRASE_ORDER.index(cf[1]), cf[0]))

    def fits(c, f, d, limit):
        if abs(z[(c, f)]) < MIN_NAME_Z or len(chosen[c]) >= limit or (once[c] and f in ONCE_FEATURES):
            return False
        more = [o for o in clusters if o != c and d * (med.loc[o, f] - med.loc[c, f]) > 0]
        if not all(o in held.get((f, d), set()) for o in more):
            return False
        rest = [o for o in clusters if o != c and o not in held.get((f, d), set()) and o not in more]
        return all(d * (z[(c, f)] - z[(o, f)]) >= MIN_NAME_Z for o in rest)

    for limit in (NAME_PHRASES, NAME_PHRASES + 1):
        for c, f in candidates:
            d = 1 if z[(c, f)] > 0 else -1
            if (f, d) not in chosen[c] and fits(c, f, d, limit) and (limit == NAME_PHRASES or _clash(c, chosen)):
                chosen[c].append((f, d))
                held.setdefault((f, d), set()).add(c)
    base: dict[int, str] = {}
    for c in clusters:
        words = [("one-off" if once[c] and f == "frequency_orders" and d < 0 else PHRASES[(f, d)])
                 for f, d in sorted(chosen[c], key=lambda fd: PHRASE_ORDER.index(fd[0]))]
        base[c] = (" ".join(words).capitalize() + " buyers") if words else "Typical buyers"
    names: dict[int, str] = {}
    for c in clusters:
        twins = [o for o in clusters if base[o] == base[c]]
        names[c] = base[c] if len(twins) == 1 else f"{base[c]} ({_compared(c, twins, z, shown.columns)})"
    for c in clusters:  # should two twins still read alike
        if list(names.values()).count(names[c]) > 1:
            names[c] = f"{names[c]} {c}"
    return names


def _compared(c: int, twins: list[int], z: dict, features) -> str:
    """How cluster c differs from the others of the same name: the feature on which its median
    stands furthest from theirs (true of the medians by construction)."""
    others = [o for o in twins if o != c]
    gaps = {f: z[(c, f)] - np.mean([z[(o, f)] for o in others]) for f in features if (f, 1) in COMPARED}
    f = max(gaps, key=lambda f: (abs(gaps[f]), -PHRASE_ORDER.index(f)))
    return COMPARED[(f, 1 if gaps[f] > 0 else -1)]


def _clash(c: int, chosen: dict) -> bool:
    """Whether cluster c's phrases so far are the same as another cluster's."""
    mine = sorted(chosen[c])
    return any(sorted(v) == mine for o, v in chosen.items() if o != c)


def _transformed(values: pd.Series, feature: str) -> pd.Series:
    v = values.astype("float64").clip(lower=0)
    return pd.Series(transformed(v.to_numpy(), CLUSTER_FEATURES[feature][-1]), index=v.index)


def rfm_grid(customers: pd.DataFrame) -> pd.DataFrame:
    """Customers and revenue per (R, F) score cell with the segment most customers in it hold."""
    g = customers.groupby(["r_score", "f_score"], observed=True)
    grid = g.agg(customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
    top = g["rfm_segment"].agg(lambda s: s.value_counts().sort_index().idxmax()).reset_index()
    return grid.merge(top, on=["r_score", "f_score"])[["r_score", "f_score", "customers", "revenue", "rfm_segment"]]


PROFILE_COLUMNS = ("frequency_orders", "monetary", "returns_value", "recency_days", "mean_days_between_orders",
                   "rfm_segment", "cluster", "cluster_name")


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


def _rule_text(rule: dict | None, cluster: int, k: int) -> str:
    if rule is None:
        return f"behaviour cluster {cluster} of {k}"
    return (f"{rule['rule']} (takes in {rule['coverage']:.0%} of the cluster; {rule['precision']:.0%} of the "
            f"customers it picks are in it)")


def describe_cluster(name: str, p: dict, members: pd.DataFrame, money: str) -> str:
    gap = members["mean_days_between_orders"].median()
    habit = (f"order every {gap:,.0f} days" if p["median_frequency_orders"] > 1 and pd.notna(gap)
             else "most ordered once")
    small = (f" Small segment (under {SMALL_SEGMENT:.0%} of customers): act on it only if its value "
             f"justifies a campaign of its own." if p["share_customers"] < SMALL_SEGMENT else "")
    return (f"{name}: {p['share_customers']:.0%} of customers, {p['share_revenue']:.0%} of revenue, "
            f"{habit}, last order a median {p['median_recency_days']:,.0f} days ago, "
            f"average order {money}{p['avg_order_value']:,.2f}.{small}")


def segment_profiles(customers: pd.DataFrame, rules: pd.DataFrame, money: str = "",
                     cluster_rules: pd.DataFrame | None = None) -> pd.DataFrame:
    """schema.TABLES['segments']: RFM segments in rule order (empty ones left out), then clusters 1..k.
    A cluster's rule is its learned rule (cluster_rules: analysis.customers.rules) with what it covers."""
    learned = {} if cluster_rules is None else cluster_rules.set_index("cluster").to_dict("index")
    customers = customers[list(PROFILE_COLUMNS)]  # each segment's rows are copied: only what is read
    totals = {"customers": len(customers), "revenue": float(customers["monetary"].sum())}
    rule_of = rules.set_index("segment")
    rows = []
    for name in rules["segment"]:
        members = customers[customers["rfm_segment"] == name]
        if members.empty:
            continue
        p = _profile("rfm", name, members, totals)
        p.update(rule=rule_of.loc[name, "rule"],
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
        p.update(rule=_rule_text(learned.get(int(cluster)), int(cluster), customers["cluster"].nunique()),
                 description=describe_cluster(name, p, members, money),
                 action=f"{share:.0%} of them are '{main}' in RFM terms: {action_of[main]}")
        rows.append(p)
    columns = ["kind", "segment", "customers", "share_customers", "revenue",
               "share_revenue", "orders", "avg_order_value", "revenue_per_customer",
               "median_recency_days", "median_frequency_orders", "median_monetary", "return_rate",
               "rule", "description", "action"]
    return pd.DataFrame(rows)[columns]


def segment_features(customers: pd.DataFrame, shown: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per segment and feature: the median in real units (as the clusters see them: `shown`,
    cluster.shown_values of customers, computed when not given) and the mean standardised value
    (z: cluster.standardise), with an 'All customers' row per feature for comparison. (Feature by
    feature on arrays, taken by each segment's row positions: the same numbers as pandas' median
    and mean of the segment's rows; besides the shown and standardised tables, only one feature's
    values are copied at a time.)"""
    z = standardise(customers)
    shown = shown_values(customers) if shown is None else shown
    names = customers["cluster_name"]
    groups = [("all", "All customers", np.arange(len(customers)))]
    groups += [("rfm", s, pos) for s, pos in customers.groupby("rfm_segment", sort=True).indices.items()]
    groups += [("cluster", names.iloc[pos[0]], pos) for _c, pos in customers.groupby("cluster", sort=True).indices.items()]
    stats = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a feature with no value in a segment: NaN
        for feature in CLUSTER_FEATURES:
            values = shown[feature].to_numpy(dtype="float64", na_value=np.nan)
            scaled = z[feature].to_numpy(dtype="float64", na_value=np.nan)
            for g, (_kind, _name, pos) in enumerate(groups):
                stats[g, feature] = float(np.nanmedian(values[pos])), float(np.nanmean(scaled[pos]))
    return pd.DataFrame([{"kind": kind, "segment": name, "feature": feature, "label": label,
                          "median": stats[g, feature][0], "z": stats[g, feature][1]}
                         for g, (kind, name, _pos) in enumerate(groups)
                         for feature, (label, *_spec) in CLUSTER_FEATURES.items()])


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
             for c, members in customers[[*cols, "cluster"]].groupby("cluster", sort=True)]
    return pd.concat(parts)[cols].sort_values("customer_id").reset_index(drop=True)
