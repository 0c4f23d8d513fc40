"""What sets a segment's basket apart, and which first purchases lead to a second order.

Transaction-level work runs on the engine over the kept lines (clean.Cleaned.lines: customer_id,
order_id, order_ts, product_id, product_name, category, revenue, ...); what comes back is one row
per (segment, product), (segment, category) or first-order key, and the rest is small pandas.

Segment assignments come in a long shape: one row per customer and kind
(customer_id, kind in schema.SEGMENT_KINDS, segment); `assignments_from(customers)` builds it from
the customers table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from analysis import engine
from analysis.engine import rollups
from analysis.studies.stats import MIN_SUPPORT
from analysis.studies.study import Study, StudyResult

NONE = "(none)"  # shown for a NULL product id or category
AFFINITY_COLUMNS = ["kind", "segment", "rank", "product_id", "product_name", "segment_revenue_share",
                    "all_revenue_share", "lift", "customers", "q_value"]
MIX_COLUMNS = ["kind", "segment", "category", "revenue", "share"]
PREDICTOR_COLUMNS = ["key", "name", "customers", "repeat_customers", "repeat_rate", "eligible_customers",
                     "overall_repeat_rate", "lift", "p_value", "q_value"]
SIGNIFICANCE = 0.05  # adjusted p (q) below which a test stands out and may make a finding


def assignments_from(customers: pd.DataFrame) -> pd.DataFrame:
    """Long assignments (customer_id, kind, segment) from the customers table's rfm_segment and
    cluster_name: two rows per customer, kind 'rfm' then 'cluster'."""
    return pd.concat([
        pd.DataFrame({"customer_id": customers["customer_id"], "kind": "rfm", "segment": customers["rfm_segment"]}),
        pd.DataFrame({"customer_id": customers["customer_id"], "kind": "cluster",
                      "segment": customers["cluster_name"]}),
    ], ignore_index=True).astype("string")


def _wide(assignments: pd.DataFrame) -> tuple[list[str], list[list[str]], ibis.Table]:
    """The kinds in order, each kind's segment names, and one row per customer: customer_id, _c
    (a number per customer) and a segment code per kind (_s0, _s1, ...: the position of the
    customer's segment among that kind's names, -1 for none). Numbers rather than names keep the
    engine's grouping and distinct counts cheap."""
    kinds = list(dict.fromkeys(assignments["kind"]))
    wide = assignments.pivot(index="customer_id", columns="kind", values="segment")[kinds]
    names, codes = [], {}
    for i, kind in enumerate(kinds):
        code, uniques = pd.factorize(wide[kind], sort=True)
        names.append([str(u) for u in uniques])
        codes[f"_s{i}"] = code.astype("int32")
    frame = pd.DataFrame({"customer_id": wide.index.astype("string"), "_c": np.arange(len(wide), dtype="int64"),
                          **codes})
    return kinds, names, engine.memtable(frame)


def _by_kind(combos: pd.DataFrame, kinds: list[str], names: list[list[str]], key: str, sums: list[str]) -> pd.DataFrame:
    """Totals per (kind, segment, key) from totals per (_s0, _s1, ..., key): every customer is in
    one segment of each kind, so a kind's totals are sums over the other kinds' segments."""
    parts = []
    for i, kind in enumerate(kinds):
        col = f"_s{i}"
        g = combos[combos[col] >= 0].groupby([col, key], dropna=False)[sums].sum().reset_index()
        g.insert(0, "segment", np.asarray(names[i], dtype=object)[g.pop(col).to_numpy(dtype="int64")])
        parts.append(g.assign(kind=kind))
    return pd.concat(parts, ignore_index=True)


def segment_product_totals(lines: ibis.Table, assignments: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, segment, product): product_name, revenue, quantity and customers (the segment's
    customers who bought it). One engine query feeds both each segment's top products and its
    over-represented ones. "(none)" stands for a missing product id."""
    return _product_totals(lines, _product_combos(lines, assignments))


def segment_totals(lines: ibis.Table, assignments: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """segment_product_totals and category_mix, from the one query of the first whenever each of
    its groups (one combination of segments and one product) has a single category, or none on
    every line: then the group's revenue is all in that category. A shop's products usually have
    one category each; otherwise category_mix's own query runs."""
    found = _product_combos(lines, assignments)
    totals = _product_totals(lines, found)
    kinds, names, _key, _keys, combos = found
    single = (combos["_ncat"] == 0) | ((combos["_ncat"] == combos["_n"]) & (combos["_cmin"] == combos["_cmax"]))
    if not bool(single.all()):
        return totals, category_mix(lines, assignments)
    per = combos.rename(columns={"_cmin": "category"})  # (NULL where no line has a category)
    return totals, _mix_table(_by_kind(per, kinds, names, "category", ["revenue"]))


def _product_combos(lines: ibis.Table, assignments: pd.DataFrame):
    """(kinds, names, key, keys, combos): totals per combination of segments (one per kind) and
    product, which are few, by the product's key column `key` (product numbers `keys`, see
    rollups.product_keys, or the ids themselves when they are None), with the count of lines
    (_n), of lines with a category (_ncat) and the smallest and largest category (_cmin, _cmax)."""
    # Buyers are counted as distinct customer numbers (faster than summing per customer and
    # product first and counting those rows).
    # Products are numbered too (rollups.product_key) unless two share a number.
    kinds, names, wide = _wide(assignments)
    keys = rollups.product_keys(lines)
    key = "_hp" if keys is not None else "product_id"
    j = lines.join(wide, "customer_id")
    j = j.mutate(_hp=rollups.product_key(j)) if keys is not None else j
    combos = engine.execute(j.group_by([*(f"_s{i}" for i in range(len(kinds))), key]).aggregate(
        revenue=j.revenue.sum(), quantity=j.quantity.sum(), customers=j._c.nunique(), _n=j.count(),
        _ncat=j.category.count(), _cmin=j.category.min(), _cmax=j.category.max()))
    return kinds, names, key, keys, combos


def _product_totals(lines: ibis.Table, found) -> pd.DataFrame:
    kinds, names, key, keys, combos = found
    agg = _by_kind(combos, kinds, names, key, ["revenue", "quantity", "customers"])
    # A product's name is the same in every segment: the smallest over all of its lines.
    if keys is None:
        keys = engine.execute(rollups.products(lines).select("product_id", "product_name"))
    agg = agg.merge(keys, on=key, how="left").drop(columns="_hp", errors="ignore")
    agg["product_id"] = agg["product_id"].fillna(NONE)
    agg["product_name"] = agg["product_name"].fillna(agg["product_id"])
    agg["revenue"] = agg["revenue"].astype("float64").round(2)  # parallel sums carry float noise
    agg["customers"] = agg["customers"].astype("int64")
    agg = agg.astype({"kind": "str", "segment": "str", "product_id": "str", "product_name": "str"})
    agg = agg.sort_values(["kind", "segment", "product_id"], kind="stable").reset_index(drop=True)
    return agg[["kind", "segment", "product_id", "product_name", "revenue", "quantity", "customers"]]


def segment_affinity(lines: ibis.Table, assignments: pd.DataFrame, top_n: int = 10, min_customers: int = 5,
                     min_support: int = MIN_SUPPORT, significance: float = SIGNIFICANCE) -> pd.DataFrame:
    """affinity_from_totals of segment_product_totals(lines, assignments)."""
    return affinity_from_totals(segment_product_totals(lines, assignments), assignments, top_n, min_customers,
                                min_support, significance)


def affinity_from_totals(totals: pd.DataFrame, assignments: pd.DataFrame, top_n: int = 10, min_customers: int = 5,
                         min_support: int = MIN_SUPPORT, significance: float = SIGNIFICANCE) -> pd.DataFrame:
    """Per (kind, segment), the products its customers buy more often than customers in general.

    Columns AFFINITY_COLUMNS; rank 1 = highest lift; at most `top_n` per segment.
    lift is customer-based: (share of the segment's customers who bought the product) /
    (share of all customers of that kind who bought it); 2.0 means twice as likely to buy it.
    Every product bought by at least `min_support` customers is tested in every segment: a two-sided
    two-proportion test of the segment's buyers against the rest's, Benjamini-Hochberg adjusted
    (q_value) over all those (segment, product) pairs of the kind. Listed: lift > 1, q_value below
    `significance` and at least `min_customers` buyers in the segment.
    customers: the segment's customers who bought the product. segment_revenue_share: the product's
    share of the segment's revenue; all_revenue_share: its share of all revenue (both 0..1).
    "All customers" are those in `assignments` (long shape: customer_id, kind, segment).
    """
    agg = totals[["kind", "segment", "product_id", "product_name", "revenue", "customers"]].copy()
    if agg.empty:
        return pd.DataFrame(columns=AFFINITY_COLUMNS)
    sizes = assignments.groupby(["kind", "segment"]).size()
    totals = assignments.groupby("kind").size()
    # Each customer is in one segment per kind, so summing over a kind's segments gives all customers.
    overall = agg.groupby(["kind", "product_id"]).agg(all_customers=("customers", "sum"),
                                                      all_revenue=("revenue", "sum"))
    agg = agg.join(overall, on=["kind", "product_id"])
    seg_key = pd.MultiIndex.from_frame(agg[["kind", "segment"]])
    seg_revenue = agg.groupby(["kind", "segment"])["revenue"].sum()
    kind_revenue = agg.groupby("kind")["revenue"].sum()
    agg["lift"] = ((agg["customers"] / sizes.reindex(seg_key).to_numpy())
                   / (agg["all_customers"] / totals.reindex(agg["kind"]).to_numpy()))
    agg["segment_revenue_share"] = agg["revenue"] / seg_revenue.reindex(seg_key).to_numpy()
    agg["all_revenue_share"] = agg["all_revenue"] / kind_revenue.reindex(agg["kind"]).to_numpy()
    agg["q_value"] = np.nan
    for kind, rows in agg.groupby("kind").groups.items():
        tested = agg.loc[rows]
        tested = tested[tested["all_customers"] >= min_support]
        if tested.empty:
            continue
        p = two_proportion_p(tested["customers"].to_numpy(), sizes.reindex(pd.MultiIndex.from_frame(
            tested[["kind", "segment"]])).to_numpy(), tested["all_customers"].to_numpy(), int(totals[kind]))
        # pairs where no one in the segment bought an eligible product are tests too: counted as p = 1
        pairs = tested["product_id"].nunique() * int((sizes.index.get_level_values("kind") == kind).sum())
        q = benjamini_hochberg(np.concatenate([p, np.ones(max(pairs - len(p), 0))]))[:len(p)]
        agg.loc[tested.index, "q_value"] = q
    out = agg[(agg["customers"] >= min_customers) & (agg["lift"] > 1) & (agg["q_value"] < significance)]
    out = out.sort_values(["kind", "segment", "lift", "customers", "product_id"],
                          ascending=[True, True, False, False, True])
    out = out.assign(rank=out.groupby(["kind", "segment"]).cumcount() + 1)
    return out[out["rank"] <= top_n].reset_index(drop=True)[AFFINITY_COLUMNS]


def category_mix(lines: ibis.Table, assignments: pd.DataFrame) -> pd.DataFrame:
    """Per (kind, segment), revenue by product category. Columns MIX_COLUMNS.

    revenue in the data's currency; share = the category's share of the segment's revenue (0..1,
    summing to 1 per segment). Lines without a category count as '(none)'. When no line has a
    category the frame is empty. Sorted by kind, segment, then revenue (largest first).
    """
    kinds, names, wide = _wide(assignments)
    j = lines.join(wide, "customer_id")
    combos = engine.execute(j.group_by([*(f"_s{i}" for i in range(len(kinds))), "category"]).aggregate(
        revenue=j.revenue.sum()))
    return _mix_table(_by_kind(combos, kinds, names, "category", ["revenue"]))


def _mix_table(out: pd.DataFrame) -> pd.DataFrame:
    """category_mix's table from revenue per (kind, segment, category)."""
    if out.empty or out["category"].isna().all():
        return pd.DataFrame(columns=MIX_COLUMNS)
    out["category"] = out["category"].fillna(NONE)
    out["revenue"] = out["revenue"].astype("float64").round(2)
    out["share"] = out["revenue"] / out.groupby(["kind", "segment"])["revenue"].transform("sum")
    out = out.sort_values(["kind", "segment", "revenue", "category"], ascending=[True, True, False, True])
    return out.reset_index(drop=True)[MIX_COLUMNS]


def first_orders(lines: ibis.Table) -> ibis.Table:
    """One row per customer: the first order's id and timestamp (ties on time: lowest order id)
    and `repeat`, whether the customer placed any other order."""
    orders = rollups.orders(lines)
    w = ibis.window(group_by=orders.customer_id, order_by=[orders.order_ts, orders.order_id])
    orders = orders.mutate(_n=ibis.row_number().over(w),
                           _orders=orders.order_id.count().over(ibis.window(group_by=orders.customer_id)))
    first = orders.filter(orders._n == 0)
    return first.select("customer_id", "order_id", "order_ts", repeat=first._orders > 1)


def first_purchase_predictors(lines: ibis.Table, by: str = "category", min_customers: int = MIN_SUPPORT,
                              min_days: int = 90, end: dt.date | None = None) -> pd.DataFrame:
    """Which category (or product) in a customer's first order goes with ordering again.

    Columns PREDICTOR_COLUMNS: key (category, or product id with by="product"), name (the category,
    or the product name), customers (whose first order held the key), repeat_customers (of those,
    who placed any later order), repeat_rate = repeat_customers / customers, eligible_customers and
    overall_repeat_rate (all eligible customers, each counted once: the base every row is compared
    with), lift = repeat_rate / overall_repeat_rate, p_value, and q_value: p_value adjusted for
    every key tested (Benjamini-Hochberg), so that the best of hundreds of products is not taken
    for a finding.

    Eligible customers: first order dated at least `min_days` days before `end` (default the last
    order date in the lines), so everyone had that long to come back. A first order holding several
    categories (products) counts its customer once for each. Keys held by fewer than
    `min_customers` customers are left out. p_value: two-sided two-proportion z-test (pooled) of
    the key's customers against the other eligible customers; 1.0 when the rates cannot differ
    (everyone or no one repeated), NaN when there are no other customers. Sorted best predictor
    first: lift, then p_value, then key. Empty when no line has the key or no one is eligible.
    """
    if by not in ("category", "product"):
        raise ValueError(f"by must be 'category' or 'product', not {by!r}")
    if end is None:
        last = engine.execute(rollups.orders(lines).order_ts.max())
        if pd.isna(last):
            return pd.DataFrame(columns=PREDICTOR_COLUMNS)
        end = pd.Timestamp(last).date()
    cutoff = engine.day_start(end - dt.timedelta(days=min_days - 1))
    first = first_orders(lines)
    first = first.filter(first.order_ts < cutoff)
    key_col, name_col = ("category", "category") if by == "category" else ("product_id", "product_name")
    early = lines.filter(lines.order_ts < cutoff)  # first orders are before the cutoff
    j = early.join(first.select("customer_id", "order_id", "repeat"), ["customer_id", "order_id"])
    keyed = j.group_by(["customer_id", j[key_col].name("key")]).aggregate(
        name=j[name_col].min(), repeat=j.repeat.any(), everyone=ibis.literal(False))
    # Everyone eligible, once each, goes through the same query: one pass over the first orders.
    everyone = first.select("customer_id", key=ibis.null("string"), name=ibis.null("string"),
                            repeat=first.repeat, everyone=ibis.literal(True))
    both = keyed.union(everyone, distinct=False)
    agg = engine.execute(both.group_by(["everyone", "key"]).aggregate(
        name=both.name.min(), customers=both.count(), repeat_customers=both.repeat.cast("int64").sum()))
    is_all = agg["everyone"].astype(bool)
    per_key = agg[~is_all].drop(columns="everyone")
    if not is_all.any() or per_key["key"].isna().all():
        return pd.DataFrame(columns=PREDICTOR_COLUMNS)
    n_all, r_all = int(agg.loc[is_all, "customers"].iloc[0]), int(agg.loc[is_all, "repeat_customers"].iloc[0])
    out = per_key.assign(key=per_key["key"].fillna(NONE)).astype({"customers": "int64", "repeat_customers": "int64"})
    out["name"] = out["name"].fillna(out["key"])
    out = out[out["customers"] >= min_customers].copy()
    out["repeat_rate"] = out["repeat_customers"] / out["customers"]
    out["overall_repeat_rate"] = r_all / n_all
    out["lift"] = out["repeat_rate"] / out["overall_repeat_rate"]
    out["eligible_customers"] = n_all
    out["p_value"] = two_proportion_p(out["repeat_customers"].to_numpy(), out["customers"].to_numpy(), r_all, n_all)
    out["q_value"] = benjamini_hochberg(out["p_value"].to_numpy())
    out = out.sort_values(["lift", "p_value", "key"], ascending=[False, True, True])
    return out.reset_index(drop=True)[PREDICTOR_COLUMNS]


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q) of a family of tests; NaN stays NaN and is not counted."""
    p = np.asarray(p_values, dtype="float64")
    q = np.full(len(p), np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def two_proportion_p(hits: np.ndarray, n: np.ndarray, hits_all: int, n_all: int) -> np.ndarray:
    """Two-sided p-value of a pooled z-test: rate hits/n in a group against the rest of n_all
    (hits_all - hits of n_all - n). 1.0 when the pooled rate is 0 or 1, NaN when the rest is empty."""
    hits, n = hits.astype("float64"), n.astype("float64")
    rest = n_all - n
    pooled = hits_all / n_all if n_all else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = hits / n - (hits_all - hits) / rest
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest))
        p = 2 * stats.norm.sf(np.abs(diff / se))
    p = np.where(se == 0, 1.0, p)
    return np.where(rest > 0, p, np.nan)


def first_purchase(lines) -> pd.DataFrame:
    """First-purchase predictors of becoming a repeat customer, by category when the lines have
    categories, else by product (column `by`). Engine work only: it can run in the background."""
    has_categories = bool(engine.execute(lines.filter(lines.category.notnull()).limit(1).count()))
    by = "category" if has_categories else "product"
    return first_purchase_predictors(lines, by=by).assign(by=by)


def product_tables(customers: pd.DataFrame, top_n: int, totals: pd.DataFrame, mix: pd.DataFrame,
                   first: pd.DataFrame) -> tuple[dict, dict]:
    """Products over-represented per segment (lift), category mix, and first-purchase predictors of
    becoming a repeat customer, from the engine's results: `totals` (segment_product_totals),
    `mix` (category_mix) and `first` (first_purchase)."""
    assignments = assignments_from(customers)
    by = "category" if len(mix) else "product"
    tables = {"segment_affinity": affinity_from_totals(totals, assignments, top_n=top_n),
              "category_mix": mix, "first_purchase": first}
    return tables, {"first_purchase_by": by,
                    "first_purchase_standing": int((first["q_value"] < SIGNIFICANCE).sum()) if len(first) else 0}


def segment_products(totals: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """schema.TABLES['segment_products']: each segment's top products by revenue (rank 1 = most),
    from affinity.segment_product_totals. Ties on revenue (in cents) go by product id."""
    out = totals.sort_values(["kind", "segment", "revenue", "product_id"], ascending=[True, True, False, True],
                             kind="stable")
    out = out.assign(rank=out.groupby(["kind", "segment"]).cumcount() + 1)
    out = out[out["rank"] <= top_n].astype({"rank": "int64", "customers": "int64"})
    return out.reset_index(drop=True)[
        ["kind", "segment", "rank", "product_id", "product_name", "revenue", "quantity", "customers"]]


def segment_countries(customers: pd.DataFrame, top_n: int) -> pd.DataFrame:
    """schema.TABLES['segment_countries']: each segment's top countries by customers."""
    parts = []
    for kind, col in (("rfm", "rfm_segment"), ("cluster", "cluster_name")):
        g = customers.groupby([col, "country"], observed=True).agg(
            customers=("customer_id", "size"), revenue=("monetary", "sum")).reset_index()
        g = g.sort_values([col, "customers", "revenue", "country"], ascending=[True, False, False, True])
        g["rank"] = g.groupby(col).cumcount() + 1
        g = g[g["rank"] <= top_n].rename(columns={col: "segment"})
        g.insert(0, "kind", kind)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)[["kind", "segment", "rank", "country", "customers", "revenue"]]


def _queries(inputs) -> dict:
    return {"first_purchase": (first_purchase, inputs.lines)}


def _segment_queries(inputs) -> dict:
    return {"totals": (segment_totals, inputs.lines, assignments_from(inputs.customers))}


@dataclass(frozen=True)
class ProductFigures:
    first_purchase_by: str          # 'category' or 'product': what first orders were compared by
    first_purchase_standing: int    # how many of those went with ordering again (q < SIGNIFICANCE)


def _result(inputs, queried) -> StudyResult:
    top_n = inputs.config.top_n
    totals, mix = queried["products.totals"]
    tables, figures = product_tables(inputs.customers, top_n, totals, mix, queried["products.first_purchase"])
    return StudyResult({"segment_products": segment_products(totals, top_n), **tables}, ProductFigures(**figures))


STUDY = Study("products", _result, queries=_queries, segment_queries=_segment_queries)
