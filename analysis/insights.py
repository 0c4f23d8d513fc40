"""Key findings in plain language, each citing its figure and linking to its chart."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.result import Finding


def _money(value: float, currency: str) -> str:
    return f"{currency}{value:,.0f}"


def top_share(customers: pd.DataFrame, fraction: float) -> float:
    """Share of revenue from the top `fraction` of customers by revenue."""
    values = np.sort(customers["monetary"].to_numpy())[::-1]
    n = max(1, int(round(len(values) * fraction)))
    total = values.sum()
    return float(values[:n].sum() / total) if total else 0.0


def findings(customers: pd.DataFrame, segments: pd.DataFrame, ledger: pd.DataFrame, headline: dict,
             currency: str) -> tuple[Finding, ...]:
    """Plain-language findings from the computed tables (no new statistics beyond simple shares)."""
    out = []
    rfm = segments[segments["kind"] == "rfm"]
    best = rfm.sort_values("share_revenue", ascending=False).iloc[0]
    out.append(Finding(
        f"{best['segment']} are {best['share_customers']:.0%} of customers but bring "
        f"{best['share_revenue']:.0%} of revenue.", f"{best['share_revenue']:.0%}", "segments.html#rfm-segments"))
    share20 = top_share(customers, 0.2)
    out.append(Finding(f"The top 20% of customers bring {share20:.0%} of revenue.", f"{share20:.0%}",
                       "index.html#segment-distribution"))
    risk = rfm[rfm["segment"].isin(["At Risk", "Can't Lose Them"])]
    if len(risk) and risk["customers"].sum():
        out.append(Finding(
            f"{int(risk['customers'].sum()):,} once-regular customers (At Risk, Can't Lose Them) have gone "
            f"quiet; they spent {_money(risk['revenue'].sum(), currency)} "
            f"({risk['revenue'].sum() / headline['revenue']:.0%} of revenue): win them back first.",
            _money(risk["revenue"].sum(), currency), "segments.html#rfm-segments"))
    repeat = headline["repeat_customer_share"]
    gap = (f"; the median time between their orders is {headline['median_days_between_orders']:,.0f} days"
           if repeat > 0 else "")
    out.append(Finding(f"{repeat:.0%} of customers ordered more than once{gap}.", f"{repeat:.0%}",
                       "index.html#revenue-over-time"))
    clusters = segments[segments["kind"] == "cluster"]
    top = clusters.sort_values("share_revenue", ascending=False).iloc[0]
    if headline["n_clusters"] > 1:
        out.append(Finding(
            f"The data splits into {headline['n_clusters']} behaviour clusters (silhouette "
            f"{headline['silhouette']:.2f}); the most valuable: {top['description']}",
            f"{headline['n_clusters']} clusters", "segments.html#clusters"))
    if headline["returns_lines"]:
        out.append(Finding(
            f"{headline['returns_customers']:,} customers returned {headline['returns_lines']:,} lines worth "
            f"{_money(headline['returns_value'], currency)} "
            f"({headline['returns_value'] / headline['revenue']:.1%} of kept revenue).",
            _money(headline["returns_value"], currency), "data-quality.html#ledger"))
    dropped = ledger[ledger["reason"] != "kept"].sort_values("rows", ascending=False).iloc[0]
    if dropped["rows"] == 0:
        out.append(Finding(f"All {headline['rows_read']:,} rows were kept.", "100%", "data-quality.html#ledger"))
        return tuple(out)
    out.append(Finding(
        f"{headline['rows_kept'] / headline['rows_read']:.0%} of {headline['rows_read']:,} rows were kept; "
        f"the largest group dropped is '{dropped['label']}' ({dropped['rows']:,} rows).",
        f"{headline['rows_kept'] / headline['rows_read']:.0%}", "data-quality.html#ledger"))
    return tuple(out)
