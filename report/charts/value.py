"""Charts of the customer-value page: the holdout check and the distributions of value and probability alive."""

from __future__ import annotations

import pandas as pd

from report.charts.style import ACCENT, Figure, figure, floats, strings, trace

PREDICTED = "#E69F00"  # Okabe-Ito orange: model predictions next to ACCENT actuals


def holdout_bars(holdout: pd.DataFrame, cutoff: str | None, model: str = "BG/NBD") -> Figure:
    """Holdout check: actual vs `model`'s predicted mean purchase days after the cutoff, per calibration frequency."""
    when = ""
    if cutoff:
        date = pd.Timestamp(cutoff)
        when = f" after {date.day} {date:%b %Y}"
    fig = figure(f"Holdout check: predicted vs actual purchases{when}",
                 "Mean purchase days per customer, grouped by repeat purchases before the cutoff",
                 height=400, barmode="group", bargap=0.2)
    x = [f"{g}" for g in strings(holdout["frequency_group"])]
    for col, name, color in (("actual_mean", "Actual", ACCENT), ("predicted_mean", f"Predicted ({model})", PREDICTED)):
        fig.add_trace(trace(
            "bar", x=x, y=floats(holdout[col]), name=name, marker_color=color, customdata=floats(holdout["customers"]),
            hovertemplate=f"{name}<br>%{{x}} repeat purchases before: %{{y:.2f}} per customer"
                          "<br>%{customdata:,.0f} customers<extra></extra>"))
    fig.update_xaxes(type="category", title_text="Repeat purchases before")
    fig.update_yaxes(title_text="Mean purchase days in the holdout")
    return fig


def value_histogram(distribution: pd.DataFrame, measure: str, currency: str = "") -> Figure:
    """Customers per bin of CLV or probability alive (bins computed in analysis)."""
    d = distribution[distribution["measure"] == measure].sort_values("bin")
    if measure == "clv":
        label = lambda lo, hi: (f"{currency}{lo:,.0f}+" if pd.isna(hi) else f"{currency}{lo:,.0f}–{hi:,.0f}")  # noqa: E731
        title, axis = "How customer value is spread", f"CLV{f' ({currency})' if currency else ''}"
    else:
        label = lambda lo, hi: f"{lo:.0%}–{hi:.0%}"  # noqa: E731
        title, axis = "How likely customers are to still be active", "Probability alive"
    x = [label(lo, hi) for lo, hi in zip(d["low"], d["high"])]
    fig = figure(title, "Customers per band; the model's numbers, binned in the analysis", height=380)
    fig.add_trace(trace("bar", x=x, y=floats(d["customers"]), marker_color=ACCENT, customdata=floats(d["share"]),
                         hovertemplate="%{x}: %{y:,.0f} customers (%{customdata:.1%})<extra></extra>"))
    fig.update_xaxes(type="category", title_text=axis)
    fig.update_yaxes(title_text="Customers")
    return fig
