"""What each segment buys and where its customers are."""

from __future__ import annotations

import pandas as pd


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
