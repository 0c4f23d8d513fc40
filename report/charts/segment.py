"""Charts of one segment's page: its top products and countries, its revenue over time, how it differs from all customers."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from report.charts.style import (FEATURE_FORMATS, MUTED_INK, Figure, INK, bar_height, figure, floats, fmt, money_label,
                                 months, period_note, plain, short, strings, trace, wrap)


def _of(table: pd.DataFrame, segment: Mapping) -> pd.DataFrame:
    return table[(table["kind"] == segment["kind"]) & (table["segment"] == segment["segment"])]


def segment_top_products(segment_products: pd.DataFrame, segment: Mapping, currency: str = "") -> Figure:
    """The segment's top products by revenue (rank 1 at the top).

    segment: a row of the segments table (kind, segment, color).
    """
    part = _of(segment_products, segment).sort_values("rank")
    names = [wrap(plain(short(f"{r}. {n}", 48)), 26)
             for r, n in zip(part["rank"].tolist(), part["product_name"].tolist())]
    fig = figure(f"Top products by revenue{money_label(currency)}", plain(segment["segment"]),
                  height=bar_height(len(part), per_bar=40))
    fig.add_trace(trace(
        "bar", y=names, x=floats(part["revenue"]), orientation="h", marker_color=segment["color"],
        customdata=np.column_stack([strings(part["product_name"]), strings(part["product_id"]),
                                    floats(part["quantity"]), floats(part["customers"])]),
        hovertemplate=f"%{{customdata[0]}} (%{{customdata[1]}})<br>Revenue {plain(currency)}%{{x:,.0f}}"
                      "<br>%{customdata[2]:,.0f} units, %{customdata[3]:,.0f} customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickprefix=plain(currency), title_text=f"Revenue{money_label(currency)}")
    return fig


def segment_top_countries(segment_countries: pd.DataFrame, segment: Mapping, currency: str = "") -> Figure:
    """The segment's top countries by number of customers (a linear axis: bar lengths compare counts;
    the labels give the numbers when one country dwarfs the rest)."""
    part = _of(segment_countries, segment).sort_values("rank")
    values = floats(part["customers"])
    fig = figure("Top countries by customers", plain(segment["segment"]), height=bar_height(len(part)))
    fig.add_trace(trace(
        "bar", y=[wrap(c, 18) for c in strings(part["country"])], x=values, orientation="h",
        marker_color=segment["color"],
        text=[f"{v:,.0f}" for v in values], textposition="auto", customdata=floats(part["revenue"]),
        hovertemplate=f"%{{y}}<br>%{{x:,.0f}} customers<br>Revenue {plain(currency)}%{{customdata:,.0f}}"
                      "<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="Customers")
    return fig


def segment_monthly_revenue(monthly_by_segment: pd.DataFrame, segment: Mapping, currency: str = "",
                            period: tuple | None = None) -> Figure:
    """The segment's revenue per month, active customers in the hover."""
    part = _of(monthly_by_segment, segment).sort_values("month")
    fig = figure(f"Revenue per month{money_label(currency)}", plain(segment["segment"]) + period_note(period),
                 height=380,
                  bargap=0.15)
    # months as categories: each label sits under its bar, never at an axis corner
    fig.add_trace(trace(
        "bar", x=[pd.Timestamp(m).strftime("%b %Y") for m in months(part["month"])], y=floats(part["revenue"]),
        marker_color=segment["color"], customdata=floats(part["customers"]),
        hovertemplate=f"%{{x}}<br>Revenue {plain(currency)}%{{y:,.0f}}"
                      "<br>%{customdata:,.0f} active customers<extra></extra>"))
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickprefix=plain(currency), title_text=f"Revenue{money_label(currency)}")
    return fig


def segment_vs_all_features(segment_features: pd.DataFrame, segment: Mapping, currency: str = "") -> Figure:
    """This segment against all customers per feature: bars = difference in standard deviations
    (z), labels = the segment's median vs the all-customer median ('all' rows of segment_features)."""
    part = _of(segment_features, segment)
    overall = segment_features[segment_features["kind"] == "all"]
    overall_median = dict(zip(overall["feature"].tolist(), floats(overall["median"])))
    features = part["feature"].tolist()
    kinds = [FEATURE_FORMATS.get(f, "count") for f in features]
    own = [fmt(v, k, currency) for v, k in zip(floats(part["median"]), kinds)]
    every = [fmt(overall_median.get(f, np.nan), k, currency) for f, k in zip(features, kinds)]
    z = floats(part["z"])
    fig = figure(f"{plain(segment['segment'])} vs all customers",
                  "Bars: how far the segment's median stands from all customers' · under each measure: the two medians",
                  height=bar_height(len(part), per_bar=58))
    # the medians sit under each measure's name, so no label competes with the bars for width on a phone
    names = [f"{wrap(v, 22)}<br><span style='font-size:11px;color:{MUTED_INK}'>{a} vs {b}</span>"
             for v, a, b in zip(strings(part["label"]), own, every)]
    fig.add_trace(trace(
        "bar", y=names, x=z, orientation="h", marker_color=segment["color"],
        customdata=np.column_stack([strings(part["label"]), own, every]),
        hovertemplate="%{customdata[0]}<br>Median %{customdata[1]} (all customers %{customdata[2]})"
                      "<br>%{x:+.2f} standard deviations<extra></extra>"))
    limit = max(float(np.nanmax(np.abs(z))) if len(z) and np.isfinite(z).any() else 1.0, 0.5) * 1.1
    fig.update_xaxes(range=[-limit, limit], zeroline=True, zerolinecolor=INK, zerolinewidth=1.5,
                     title_text="vs all customers")
    fig.update_yaxes(autorange="reversed")
    return fig
