"""What each segment buys and where its customers are."""

from __future__ import annotations

import ibis
import pandas as pd


def segment_products(lines: ibis.Table, segments: ibis.Table, top_n: int) -> pd.DataFrame:
    """schema.TABLES['segment_products']: each segment's top products by revenue (rank 1 = most).

    Lines are summed per customer and product first; each customer then counts once per product
    in each of their segments."""
    pairs = lines.group_by(["customer_id", "product_id"]).aggregate(
        product_name=lines.product_name.min(), revenue=lines.revenue.sum(), quantity=lines.quantity.sum())
    j = pairs.join(segments, "customer_id")
    agg = j.group_by(["kind", "segment", "product_id"]).aggregate(
        product_name=j.product_name.min(), revenue=j.revenue.sum(), quantity=j.quantity.sum(), customers=j.count())
    # Rank on cents: parallel sums differ in the last bits between runs, which must not reorder ties.
    rank = ibis.row_number().over(group_by=[agg.kind, agg.segment],
                                  order_by=[ibis.desc(agg.revenue.round(2)), agg.product_id])
    agg = agg.mutate(rank=rank + 1)
    out = agg.filter(agg["rank"] <= top_n).execute()
    out["product_id"] = out["product_id"].fillna("(none)")
    out["product_name"] = out["product_name"].fillna(out["product_id"])
    out = out.astype({"rank": "int64", "customers": "int64"})
    out["revenue"] = out["revenue"].round(2)  # parallel sums carry float noise
    return out.sort_values(["kind", "segment", "rank"]).reset_index(drop=True)[
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
