"""Charts of the products page: over-represented products, category mix, first purchases."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.products import SIGNIFICANCE
from report.charts.segments import KIND_NAMES
from report.charts.style import (ACCENT, Figure, INK, MUTED, bar_height, colors, figure, floats, plain, short, stable,
                                 trace, wrap)

CATEGORY_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
                   "#999999", "#332288", "#44AA99", "#882255"]


def affinity_bars(affinity: pd.DataFrame, segments: pd.DataFrame, kind: str, per_segment: int = 3) -> Figure:
    """Each segment's most over-represented products (rank <= per_segment) by lift, in segment colours."""
    data = affinity[(affinity["kind"] == kind) & (affinity["rank"] <= per_segment)]
    ys, xs, cols, custom = [], [], [], []
    for name, color in colors(segments, kind).items():
        part = data[data["segment"] == name].sort_values("rank")
        for row in part.to_dict("records"):
            # at most about 20 characters a line, so the bars keep their width on a phone
            ys.append(f"{wrap(plain(short(str(row['product_name']), 40)), 20)}<br><i>{plain(short(name, 20))}</i>")
            xs.append(row["lift"])
            cols.append(color)
            custom.append([plain(name), plain(row["product_name"]), stable(row["segment_revenue_share"]),
                           stable(row["all_revenue_share"]), int(row["customers"])])
    fig = figure(f"Products each {KIND_NAMES[kind]} buys more than others",
                 f"Top {per_segment} per segment by lift (2 = twice as likely to buy it)",
                 height=bar_height(len(ys), per_bar=58), showlegend=False)
    fig.add_trace(trace(
        "bar", y=ys or [""], x=floats(pd.Series(xs, dtype="float64")) if xs else [0], orientation="h",
        marker_color=cols or [MUTED], customdata=custom or None,
        hovertemplate="%{customdata[0]}: %{customdata[1]}<br>lift %{x:.2f}"
                      "<br>%{customdata[2]:.1%} of the segment's revenue vs %{customdata[3]:.1%} of all"
                      "<br>%{customdata[4]:,} customers bought it<extra></extra>"))
    fig.update_xaxes(title_text="Times as likely as all", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return fig


def category_mix_bars(category_mix: pd.DataFrame, segments: pd.DataFrame, kind: str) -> Figure:
    """Each segment's revenue split by category (share, stacked to 100%)."""
    data = category_mix[category_mix["kind"] == kind]
    names = [n for n in colors(segments, kind) if (data["segment"] == n).any()]
    categories = sorted(data["category"].astype("string").unique().tolist())
    fig = figure(f"Category mix per {KIND_NAMES[kind]}", "Share of each segment's revenue by product category",
                 height=bar_height(len(names), per_bar=46, base=200), barmode="stack", bargap=0.25)
    for i, category in enumerate(categories):
        part = data[data["category"] == category].set_index("segment")
        fig.add_trace(trace(
            "bar", y=[wrap(plain(n), 20) for n in names], x=[stable(part.loc[n, "share"]) if n in part.index else 0.0
                                                     for n in names],
            orientation="h", name=plain(category), marker_color=CATEGORY_COLORS[i % len(CATEGORY_COLORS)],
            customdata=[stable(part.loc[n, "revenue"]) if n in part.index else 0.0 for n in names],
            hovertemplate=f"%{{y}}<br>{plain(category)}: %{{x:.1%}} (%{{customdata:,.0f}})<extra></extra>"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Share of revenue")
    fig.update_yaxes(autorange="reversed")
    return fig


def first_purchase_bars(first_purchase: pd.DataFrame, significance: float = SIGNIFICANCE) -> Figure:
    """Repeat rate of customers whose first order held each category (or product), against the overall
    rate (dashed line); bars whose adjusted p (q_value) is below `significance` in colour, the rest grey."""
    part = first_purchase.sort_values("repeat_rate", ascending=False).head(20)
    by = str(part["by"].iloc[0]) if len(part) else "category"
    p = floats(part["q_value"])
    fig = figure(f"Repeat rate by {by} of the first order",
                 "Dashed line: all eligible customers · grey: not significant (adjusted q ≥ 0.05)",
                 height=bar_height(len(part), per_bar=30))
    fig.add_trace(trace(
        "bar", y=[wrap(plain(short(str(n), 40)), 26) for n in part["name"].tolist()], x=floats(part["repeat_rate"]),
        orientation="h", marker_color=[ACCENT if v < significance else MUTED for v in p],
        customdata=np.column_stack([floats(part["customers"]), floats(part["lift"]), [f"{v:.2g}" for v in p]]),
        hovertemplate="%{y}<br>%{x:.1%} ordered again (%{customdata[0]:,.0f} customers)"
                      "<br>lift %{customdata[1]:.2f}, q %{customdata[2]}<extra></extra>"))
    if len(part):
        overall = floats(part["overall_repeat_rate"])[0]
        fig.add_vline(x=overall, line=dict(color=INK, dash="dash"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Ordered again")
    fig.update_yaxes(autorange="reversed")
    return fig
