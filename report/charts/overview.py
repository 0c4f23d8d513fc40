"""Charts of the overview page: segment shares, average order value, revenue over time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report.charts.style import (ACCENT, Figure, TEMPLATE, TEMPLATE_JSON, bar_height, colors, figure, floats, fmt,
                                 money_label, months, period_note, plain, strings, trace, wrap)


def segment_share_bars(segments: pd.DataFrame, kind: str = "rfm") -> Figure:
    """Share of customers (hatched) and share of revenue (solid) per segment of one kind.

    segments: schema.TABLES['segments']; bars keep the table's order, first at the top.
    """
    seg = segments[segments["kind"] == kind]
    names = [wrap(n, 18) for n in strings(seg["segment"])]
    colors = seg["color"].tolist()
    label = "RFM segment" if kind == "rfm" else "behaviour cluster"
    fig = figure(f"Share of customers and revenue by {label}",
                  "Hatched: share of customers · solid: share of revenue",
                  height=bar_height(2 * len(seg), per_bar=17), barmode="group", bargap=0.25)
    custom = np.column_stack([floats(seg["customers"]), floats(seg["revenue"])])
    fig.add_trace(trace(
        "bar", name="Share of customers", y=names, x=floats(seg["share_customers"]), orientation="h",
        marker=dict(color=colors, pattern=dict(shape="/", fgcolor="#FFFFFF", solidity=0.45)),
        customdata=custom, hovertemplate="%{y}<br>%{x:.1%} of customers (%{customdata[0]:,.0f})<extra></extra>"))
    fig.add_trace(trace(
        "bar", name="Share of revenue", y=names, x=floats(seg["share_revenue"]), orientation="h",
        marker=dict(color=colors), customdata=custom,
        hovertemplate="%{y}<br>%{x:.1%} of revenue (%{customdata[1]:,.0f})<extra></extra>"))
    fig.update_xaxes(tickformat=".0%", title_text="Share of the total", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(showlegend=False)
    return fig


def avg_order_value_bars(segments: pd.DataFrame, currency: str = "") -> Figure:
    """Average order value per segment: RFM segments above, behaviour clusters below, each on its
    own linear axis (the two kinds are not compared bar for bar)."""
    kinds = [(k, t) for k, t in (("rfm", "RFM segments"), ("cluster", "Behaviour clusters"))
             if (segments["kind"] == k).any()]
    sizes = [int((segments["kind"] == k).sum()) for k, _ in kinds]
    # Plotly lays out the rows (axis domains, shared x axis, row titles); the traces are ours.
    grid = make_subplots(rows=len(kinds), cols=1, shared_xaxes=False, vertical_spacing=0.14,
                         row_heights=sizes, subplot_titles=[t for _, t in kinds],
                         figure=go.Figure(layout=dict(template=TEMPLATE)))
    layout = grid.to_dict()["layout"]
    layout["template"] = TEMPLATE_JSON
    fig = Figure(layout=layout)
    for row, (kind, _title) in enumerate(kinds, start=1):
        seg = segments[segments["kind"] == kind]
        values = floats(seg["avg_order_value"])
        axis = "" if row == 1 else str(row)
        fig.add_trace(trace(
            "bar", y=[wrap(n, 20) for n in strings(seg["segment"])], x=values, orientation="h",
            marker_color=seg["color"].tolist(),
            text=[fmt(v, "money", currency) for v in values], textposition="auto", showlegend=False,
            customdata=floats(seg["orders"]),
            hovertemplate=f"%{{y}}<br>Average order value {plain(currency)}%{{x:,.2f}}"
                          "<br>%{customdata:,.0f} orders<extra></extra>", xaxis=f"x{axis}", yaxis=f"y{axis}"))
        fig.update_layout(**{f"yaxis{axis}": dict(autorange="reversed")})
    fig.update_xaxes(tickprefix=plain(currency), showticklabels=True, tickangle=0, rangemode="tozero")
    last = "" if len(kinds) == 1 else str(len(kinds))
    fig.update_layout(**{f"xaxis{last}": dict(title_text="Per order")})
    fig.update_layout(height=bar_height(sum(sizes), per_bar=34, base=180),
                      title=dict(text=f"Average purchase value by segment{money_label(currency)}",
                                 subtitle=dict(text="Revenue per order; segment pages show what they buy")))
    return fig


def monthly_revenue(monthly: pd.DataFrame, currency: str = "", period: tuple | None = None) -> Figure:
    """Revenue per calendar month (bars), orders and customers in the hover; `period` (first and
    last order date, ISO) is named in the subtitle, as its first and last months may be partial.

    monthly: schema.TABLES['monthly'], one row per month.
    """
    fig = figure(f"Revenue per month{money_label(currency)}",
                  "Kept order lines" + period_note(period) + "; hover for orders and active customers",
                  height=400, bargap=0.15)
    custom = np.column_stack([floats(monthly["orders"]), floats(monthly["customers"]),
                              floats(monthly["new_customers"])])
    fig.add_trace(trace(
        "bar", x=months(monthly["month"]), y=floats(monthly["revenue"]), marker_color=ACCENT, name="Revenue",
        customdata=custom,
        hovertemplate=f"%{{x|%b %Y}}<br>Revenue {plain(currency)}%{{y:,.0f}}<br>%{{customdata[0]:,.0f}} orders"
                      "<br>%{customdata[1]:,.0f} active customers (%{customdata[2]:,.0f} new)<extra></extra>"))
    fig.update_xaxes(type="date", tickformat="%b %Y")
    fig.update_yaxes(tickprefix=plain(currency), title_text=f"Revenue{money_label(currency)}")
    return fig


def monthly_revenue_by_segment(monthly_by_segment: pd.DataFrame, segments: pd.DataFrame,
                               currency: str = "", kind: str = "rfm", period: tuple | None = None) -> Figure:
    """Monthly revenue stacked by segment (each customer's current segment), in segment colours."""
    label = "RFM segment" if kind == "rfm" else "behaviour cluster"
    fig = figure(f"Revenue per month by {label}{money_label(currency)}",
                  "Customers grouped by their segment today" + period_note(period), height=480,
                  barmode="stack", bargap=0.15)
    data = monthly_by_segment[monthly_by_segment["kind"] == kind]
    for name, color in colors(segments, kind).items():
        part = data[data["segment"] == name]
        if part.empty:
            continue
        fig.add_trace(trace(
            "bar", x=months(part["month"]), y=floats(part["revenue"]), name=plain(name), marker_color=color,
            customdata=floats(part["customers"]),
            hovertemplate=f"{plain(name)}<br>%{{x|%b %Y}}: {plain(currency)}%{{y:,.0f}}"
                          "<br>%{customdata:,.0f} active customers<extra></extra>"))
    fig.update_xaxes(type="date", tickformat="%b %Y")
    fig.update_yaxes(tickprefix=plain(currency), title_text=f"Revenue{money_label(currency)}")
    return fig
