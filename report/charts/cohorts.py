"""Charts of the cohorts page: retention and revenue per cohort, time to second order, new against returning."""

from __future__ import annotations

import pandas as pd

from report.charts.style import (ACCENT, Figure, SEQUENTIAL, bar_height, figure, floats, fmt, money_label, months,
                                 plain, stable, strings, trace)
from report.charts.value import PREDICTED


def _cohort_grid(cohorts: pd.DataFrame, value: str) -> tuple[list, list, list, list]:
    """Pivot cohorts for a heatmap: rows = cohort months (oldest at the top), columns = months since first."""
    cohort_months = sorted(cohorts["cohort_month"].astype("string").unique().tolist())
    offsets = sorted(int(v) for v in cohorts["months_since_first"].unique())
    cell = {(str(c), int(m)): r for c, m, r in zip(cohorts["cohort_month"].astype("string"),
                                                   cohorts["months_since_first"], cohorts.to_dict("records"))}
    z, custom = [], []
    for c in cohort_months:
        z.append([stable(cell[(c, m)][value]) if (c, m) in cell else None for m in offsets])
        custom.append([[int(cell[(c, m)]["customers"]), int(cell[(c, m)]["cohort_size"]),
                        stable(cell[(c, m)]["revenue"])] if (c, m) in cell else [None, None, None] for m in offsets])
    already = set(cohorts.loc[cohorts["already_customers"].astype(bool), "cohort_month"].astype("string"))
    names = [cohort_label(c, c in already) for c in cohort_months]
    return names, offsets, z, custom


def cohort_label(month, already: bool) -> str:
    """A cohort's name: its month, or for the data's first month, who they are."""
    name = pd.Timestamp(month).strftime("%b %Y")
    return f"{name}: already customers" if already else name


def retention_heatmap(cohorts: pd.DataFrame) -> Figure:
    """Share of each monthly cohort that ordered again in each later month. Month 0 (100% by
    definition) is left out, so the colour scale spans what varies: 0 to the highest later share."""
    later = cohorts[cohorts["months_since_first"] > 0]
    names, offsets, z, custom = _cohort_grid(later if len(later) else cohorts, "retention")
    top = max((v for row in z for v in row if v is not None), default=1.0) or 1.0
    fig = figure("Retention by acquisition cohort",
                 "Share of each month's new customers who ordered in each later month (month 0, always 100%, "
                 "left out; the first month's customers were mostly customers already); hover for counts",
                 height=bar_height(len(names), per_bar=22, base=200))
    fig.add_trace(trace(
        "heatmap", x=offsets, y=names, z=z, customdata=custom, colorscale=SEQUENTIAL, zmin=0, zmax=top, xgap=1,
        ygap=1,
        colorbar=dict(title=dict(text="Retained"), tickformat=".0%", thickness=12),
        hovertemplate="Cohort %{y}, month %{x}<br>%{z:.1%} ordered"
                      "<br>%{customdata[0]:,} of %{customdata[1]:,} customers<extra></extra>"))
    fig.update_xaxes(title_text="Months since first order", dtick=1 if len(offsets) <= 13 else 3, showgrid=False)
    fig.update_yaxes(autorange="reversed", title_text="First-order month", showgrid=False)
    return fig


def cohort_revenue_heatmap(cohorts: pd.DataFrame, currency: str = "") -> Figure:
    """Revenue of each monthly cohort in each month since its first order."""
    names, offsets, z, custom = _cohort_grid(cohorts, "revenue")
    fig = figure(f"Revenue by acquisition cohort{money_label(currency)}",
                 "Each row is the customers first seen that month; hover for their revenue and buyers",
                 height=bar_height(len(names), per_bar=22, base=200))
    fig.add_trace(trace(
        "heatmap", x=offsets, y=names, z=z, customdata=custom, colorscale=SEQUENTIAL, xgap=1, ygap=1,
        colorbar=dict(title=dict(text="Revenue"), thickness=12, tickprefix=plain(currency)),
        hovertemplate=f"Cohort %{{y}}, month %{{x}}<br>Revenue {plain(currency)}%{{z:,.0f}}"
                      "<br>%{customdata[0]:,} of %{customdata[1]:,} customers ordered<extra></extra>"))
    fig.update_xaxes(title_text="Months since first order", dtick=1 if len(offsets) <= 13 else 3, showgrid=False)
    fig.update_yaxes(autorange="reversed", title_text="First-order month", showgrid=False)
    return fig


def second_order_histogram(second_order: pd.DataFrame, quartiles: tuple) -> Figure:
    """Repeat customers by days from first to second order (bins from the analysis); the median and
    quartiles (headline figures) in the subtitle."""
    q1, median, q3 = quartiles
    fig = figure("Time from first to second order",
                 f"Repeat customers per band of days · median {fmt(median, 'days')}, middle half "
                 f"{fmt(q1, 'days')} to {fmt(q3, 'days')}", height=380, bargap=0.1)
    fig.add_trace(trace(
        "bar", x=[f"{b} days" for b in strings(second_order["bin"])],
        y=floats(second_order["customers"]), marker_color=ACCENT, customdata=floats(second_order["share"]),
        hovertemplate="%{x}: %{y:,.0f} customers (%{customdata:.1%} of repeat customers)<extra></extra>"))
    fig.update_xaxes(type="category", title_text="Days from first to second order")
    fig.update_yaxes(title_text="Repeat customers")
    return fig


def new_vs_returning_bars(new_vs_returning: pd.DataFrame, currency: str = "") -> Figure:
    """Monthly revenue stacked: from customers new that month and from returning customers."""
    fig = figure(f"Revenue from new and returning customers{money_label(currency)}",
                 "New: first order in that month · returning: first ordered earlier", height=420,
                 barmode="stack", bargap=0.15)
    x = months(new_vs_returning["month"])
    for col, count, name, color in (("returning_revenue", "returning_customers", "Returning", ACCENT),
                                    ("new_revenue", "new_customers", "New", PREDICTED)):
        fig.add_trace(trace(
            "bar", x=x, y=floats(new_vs_returning[col]), name=name, marker_color=color,
            customdata=floats(new_vs_returning[count]),
            hovertemplate=f"{name}<br>%{{x|%b %Y}}: {plain(currency)}%{{y:,.0f}}"
                          "<br>%{customdata:,.0f} customers<extra></extra>"))
    fig.update_xaxes(type="date", tickformat="%b %Y")
    fig.update_yaxes(tickprefix=plain(currency), title_text=f"Revenue{money_label(currency)}")
    return fig
