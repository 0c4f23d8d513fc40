"""Charts of the changes page: segment transitions and value at risk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from report.charts.segments import KIND_NAMES
from report.charts.style import (Figure, MUTED, SEQUENTIAL, bar_height, colors, figure, floats, money_label, plain,
                                 stable, strings, trace, wrap)


def transition_heatmap(transitions: pd.DataFrame, segments: pd.DataFrame, change_from: str) -> Figure:
    """Customers per (RFM segment at `change_from`, RFM segment now); '(new)' = first order since."""
    order = list(colors(segments, "rfm"))
    from_names = list(dict.fromkeys(transitions["from_segment"].astype("string").tolist()))
    to_names = [n for n in order if (transitions["to_segment"] == n).any()]
    to_names += [n for n in dict.fromkeys(transitions["to_segment"].astype("string").tolist()) if n not in to_names]
    cell = {(str(f), str(t)): (int(c), stable(r)) for f, t, c, r in zip(
        transitions["from_segment"], transitions["to_segment"], transitions["customers"], transitions["revenue_after"])}
    z = [[cell[(f, t)][0] if (f, t) in cell else None for t in to_names] for f in from_names]
    custom = [[[plain(f), plain(t), cell[(f, t)][1] if (f, t) in cell else 0.0] for t in to_names] for f in from_names]
    text = [[f"{v:,}" if v is not None else "" for v in row] for row in z]
    date = pd.Timestamp(change_from)
    fig = figure(f"How customers moved between RFM segments since {date.day} {date:%b %Y}",
                 f"Rows: segment on {date.day} {date:%b %Y}, (new) = first order after it · columns: segment now",
                 height=bar_height(len(from_names), per_bar=34, base=260))
    fig.add_trace(trace(
        "heatmap", x=[wrap(plain(t), 12) for t in to_names], y=[wrap(plain(f), 18) for f in from_names], z=z, text=text,
        texttemplate="%{text}", textfont=dict(size=11), customdata=custom, colorscale=SEQUENTIAL,
        xgap=2, ygap=2, colorbar=dict(title=dict(text="Customers"), thickness=12),
        hovertemplate="From %{customdata[0]} to %{customdata[1]}<br>%{z:,} customers"
                      "<br>spent %{customdata[2]:,.0f} since<extra></extra>"))
    fig.update_xaxes(side="top", showgrid=False, title_text="Segment now")  # labels turn when too narrow
    fig.update_yaxes(autorange="reversed", showgrid=False, title_text="Segment before")
    return fig


def revenue_at_risk_bars(revenue_at_risk: pd.DataFrame, segments: pd.DataFrame, kind: str,
                         currency: str = "") -> Figure:
    """Value at risk per segment, largest first, in segment colours; segments with none left out."""
    part = revenue_at_risk[(revenue_at_risk["kind"] == kind) & (floats(revenue_at_risk["value_at_risk"]) > 0)]
    part = part.sort_values("value_at_risk", ascending=False)
    palette = colors(segments, kind)
    fig = figure(f"Value at risk per {KIND_NAMES[kind]}{money_label(currency)}",
                 "A year's spend of customers overdue for their next order", height=bar_height(len(part), per_bar=34))
    fig.add_trace(trace(
        "bar", y=[wrap(n, 20) for n in strings(part["segment"])] or [""],
        x=floats(part["value_at_risk"]) if len(part) else [0],
        orientation="h", marker_color=[palette.get(n, MUTED) for n in part["segment"].tolist()] or [MUTED],
        customdata=np.column_stack([floats(part["customers_at_risk"]), floats(part["customers"]),
                                    floats(part["share_of_value_at_risk"])]) if len(part) else None,
        hovertemplate=f"%{{y}}<br>{plain(currency)}%{{x:,.0f}} at risk (%{{customdata[2]:.1%}} of the total)"
                      "<br>%{customdata[0]:,.0f} of %{customdata[1]:,.0f} customers overdue<extra></extra>"))
    fig.update_xaxes(tickprefix=plain(currency), title_text=f"Value at risk{money_label(currency)}")
    fig.update_yaxes(autorange="reversed")
    return fig
