"""Charts for the statistics, cohorts, products, changes and customer-value pages.

Pure functions `figure = f(table, ...)` like report.charts: they sort, filter and pivot the
Analysis tables for display and never compute a statistic. Segments keep their `color` from the
segments table; data strings are escaped with `plain` before they reach Plotly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.studies.products import SIGNIFICANCE
from report.chart_style import (
    Figure,
    ACCENT,
    INK,
    MUTED,
    SEQUENTIAL,
    bar_height,
    colors,
    figure,
    floats,
    fmt,
    log_axis,
    money_label,
    months,
    plain,
    short,
    skewed,
    stable,
    strings,
    trace,
    wrap,
)

KIND_NAMES = {"rfm": "RFM segment", "cluster": "behaviour cluster"}
FEATURE_KINDS = {"recency_days": "days", "frequency_orders": "count", "monetary": "money",
                 "avg_order_value": "money", "clv": "money", "p_alive": "rate"}
PREDICTED = "#E69F00"  # Okabe-Ito orange: model predictions next to ACCENT actuals
CATEGORY_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000",
                   "#999999", "#332288", "#44AA99", "#882255"]


def _axis_for(values, kind: str, currency: str) -> dict:
    """Axis settings for one feature: log when skewed, money/percent ticks otherwise."""
    if kind in ("money", "count", "days") and skewed(values):
        return {**log_axis(values, "money" if kind == "money" else "count", currency)}
    if kind == "rate":
        return {"type": "linear", "tickformat": ".0%"}
    return {"type": "linear", "tickprefix": plain(currency) if kind == "money" else ""}


def _feature_menu(fig: Figure, groups: list[tuple[str, int, dict]], axis: str = "xaxis") -> None:
    """A dropdown that shows one feature's traces at a time. groups: (label, traces, axis settings);
    the first group is visible. The axis title adds '(log scale)' when the axis is logarithmic."""
    total = sum(n for _, n, _ in groups)
    buttons, start = [], 0
    for label, n, settings in groups:
        title = label + (" (log scale)" if settings.get("type") == "log" else "")
        visible = [start <= i < start + n for i in range(total)]
        relayout = {f"{axis}.{k}": v for k, v in settings.items()}
        for key in ("tickvals", "ticktext", "tickprefix", "tickformat"):
            relayout.setdefault(f"{axis}.{key}", None)
        relayout[f"{axis}.title.text"] = title
        buttons.append(dict(label=label, method="update", args=[{"visible": visible}, relayout]))
        start += n
    for i, shown in enumerate(fig.data):
        shown["visible"] = i < groups[0][1]
    first = groups[0]
    fig.update_layout(**{axis: {**first[2], "title": {"text": first[0] + (
        " (log scale)" if first[2].get("type") == "log" else "")}}})
    if len(groups) > 1:
        fig.update_layout(updatemenus=[dict(buttons=buttons, direction="down", x=0, xanchor="left", y=1.0,
                                             yanchor="bottom", showactive=True, pad=dict(t=0, b=4))])


# --- are the differences real? -------------------------------------------------------------

def segment_boxes(distributions: pd.DataFrame, segments: pd.DataFrame, kind: str, labels: dict[str, str],
                  currency: str = "") -> Figure:
    """Box plots per segment from precomputed quartiles and Tukey fences (segment_distributions);
    a dropdown picks the feature. labels: feature -> label, in menu order."""
    fig = figure(f"Distribution per {KIND_NAMES[kind]}",
                 "Box: middle half of customers, line: median, whiskers: Tukey fences; pick a measure",
                 height=bar_height(len(colors(segments, kind)), per_bar=34, base=190), showlegend=False)
    data = distributions[distributions["kind"] == kind]
    palette = colors(segments, kind)
    groups = []
    for feature, label in labels.items():
        part = data[data["feature"] == feature]
        stats = {col: floats(part[col]) for col in ("q1", "median", "q3", "lower_fence", "upper_fence", "mean")}
        rows = _positions(part)
        n = 0
        for name, color in palette.items():
            at = rows.get(name)
            if at is None:
                continue
            fig.add_trace(trace(
                "box", y=[wrap(plain(name), 20)], q1=stats["q1"][at], median=stats["median"][at],
                q3=stats["q3"][at], lowerfence=stats["lower_fence"][at], upperfence=stats["upper_fence"][at],
                mean=stats["mean"][at], orientation="h", marker_color=color, line=dict(color=color),
                fillcolor=color, opacity=0.75, name=plain(name), boxpoints=False, hoverinfo="x+name"))
            n += 1
        kind_of = FEATURE_KINDS.get(feature, "count")
        values = np.concatenate([stats["lower_fence"], stats["upper_fence"]])
        groups.append((label, n, _axis_for(values, kind_of, currency)))
    _feature_menu(fig, groups)
    fig.update_yaxes(autorange="reversed")
    return fig


def segment_means_ci(means: pd.DataFrame, segments: pd.DataFrame, kind: str, labels: dict[str, str],
                     currency: str = "", title: str = "", subtitle: str = "") -> Figure:
    """Each segment's mean (dot) and bootstrap confidence interval (line from ci_low to ci_high);
    a dropdown picks the feature. means: segment_means or segment_value (kind, segment, feature,
    mean, ci_low, ci_high, n)."""
    fig = figure(title or f"Mean per {KIND_NAMES[kind]} with 95% confidence interval",
                 subtitle or "Dot: mean · line: bootstrap 95% interval; pick a measure",
                 height=bar_height(len(colors(segments, kind)), per_bar=30, base=190), showlegend=False)
    data = means[means["kind"] == kind]
    palette = colors(segments, kind)
    groups = []
    for feature, label in labels.items():
        part = data[data["feature"] == feature]
        ci_low, mean, ci_high, sizes = floats(part["ci_low"]), floats(part["mean"]), floats(part["ci_high"]), \
            part["n"].tolist()
        rows = _positions(part)
        n = 0
        kind_of = FEATURE_KINDS.get(feature, "count")
        for name, color in palette.items():
            at = rows.get(name)
            if at is None:
                continue
            y = wrap(plain(name), 20)
            lo, mid, hi = ci_low[at][0], mean[at][0], ci_high[at][0]
            text = (f"{plain(name)}<br>{plain(label)}: mean {fmt(mid, _chart_kind(kind_of), currency)}"
                    f"<br>95% interval {fmt(lo, _chart_kind(kind_of), currency)} to "
                    f"{fmt(hi, _chart_kind(kind_of), currency)}<br>{int(sizes[at[0]]):,} customers")
            fig.add_trace(trace(
                "scatter", x=[lo, mid, hi], y=[y, y, y], mode="lines+markers", line=dict(color=color, width=3),
                marker=dict(size=[0, 12, 0], color=color, line=dict(color=INK, width=0.5)),
                name=plain(name), hovertext=[text] * 3, hoverinfo="text"))
            n += 1
        values = np.concatenate([ci_low, ci_high])
        groups.append((label, n, _axis_for(values, kind_of, currency)))
    _feature_menu(fig, groups)
    fig.update_yaxes(autorange="reversed")
    return fig


def _positions(part: pd.DataFrame) -> dict[str, list[int]]:
    """Row positions in `part` by segment."""
    out: dict[str, list[int]] = {}
    for i, name in enumerate(part["segment"].tolist()):
        out.setdefault(name, []).append(i)
    return out


def _chart_kind(kind: str) -> str:
    return {"money": "money", "rate": "rate", "days": "days"}.get(kind, "count")


def pairwise_effects(pairwise: pd.DataFrame, currency: str = "") -> Figure:
    """Largest pairwise revenue differences between clusters: rank-biserial effect per pair
    (+1: every customer of the first cluster spends more than every one of the second)."""
    part = pairwise.head(15)
    labels = [f"{wrap(plain(short(a, 30)), 30)}<br>vs {plain(short(b, 30))}"
              for a, b in zip(part["a"].tolist(), part["b"].tolist())]
    fig = figure("Largest revenue differences between behaviour clusters",
                 "Rank-biserial effect: +1 = the first always spends more, −1 = always less",
                 height=bar_height(len(part), per_bar=44))
    effect = floats(part["effect"])
    fig.add_trace(trace(
        "bar", y=labels, x=effect, orientation="h", marker_color=[ACCENT if v >= 0 else "#D55E00" for v in effect],
        customdata=np.column_stack([floats(part["median_a"]), floats(part["median_b"]),
                                    [f"{p:.2g}" for p in floats(part["p_holm"])]]),
        hovertemplate=f"%{{y}}<br>effect %{{x:+.2f}}<br>medians {plain(currency)}%{{customdata[0]:,.0f}} vs "
                      f"{plain(currency)}%{{customdata[1]:,.0f}}<br>Holm-adjusted p %{{customdata[2]}}<extra></extra>"))
    fig.update_xaxes(range=[-1.05, 1.05], zeroline=True, zerolinecolor=INK, title_text="Rank-biserial effect")
    fig.update_yaxes(autorange="reversed")
    return fig


def lorenz_curve(lorenz: pd.DataFrame, gini: float) -> Figure:
    """The Lorenz curve of revenue per customer against the line of equality; Gini in the title."""
    gini_text = f"{gini:.2f}" if gini is not None and np.isfinite(gini) else "n/a"
    fig = figure(f"Lorenz curve of revenue per customer (Gini {gini_text})",
                 "Customers from the lowest to the highest spender; the further below the diagonal, "
                 "the more concentrated", height=440)
    fig.add_trace(trace("scatter", x=[0, 1], y=[0, 1], mode="lines", line=dict(color=MUTED, dash="dash"),
                             name="Equal spend", hoverinfo="skip"))
    fig.add_trace(trace(
        "scatter", x=floats(lorenz["customer_share"]), y=floats(lorenz["revenue_share"]), mode="lines", name="Revenue",
        line=dict(color=ACCENT, width=3), fill="tonexty", fillcolor="rgba(0,114,178,0.12)",
        hovertemplate="lowest %{x:.0%} of customers<br>bring %{y:.1%} of revenue<extra></extra>"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Share of customers (lowest spenders first)")
    fig.update_yaxes(tickformat=".0%", range=[0, 1], title_text="Share of revenue")
    return fig


def pareto_bars(pareto: pd.DataFrame) -> Figure:
    """Share of revenue brought by the top 1, 5, 10, 20 and 50% of customers."""
    labels = [f"Top {v:.0%}" for v in floats(pareto["top_share"])]
    values = floats(pareto["revenue_share"])
    fig = figure("Share of revenue from the biggest spenders", "Top share of customers by revenue",
                 height=bar_height(len(pareto), per_bar=36))
    fig.add_trace(trace("bar", y=labels, x=values, orientation="h", marker_color=ACCENT,
                         text=[f"{v:.1%}" for v in values], textposition="auto",
                         hovertemplate="%{y} of customers: %{x:.1%} of revenue<extra></extra>"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Share of revenue")
    fig.update_yaxes(autorange="reversed")
    return fig


# --- cohorts -------------------------------------------------------------------------------

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
    """Share of each monthly cohort that ordered again in each later month (month 0 = 100%)."""
    names, offsets, z, custom = _cohort_grid(cohorts, "retention")
    fig = figure("Retention by acquisition cohort",
                 "Share of each month's new customers who ordered in each later month (the first month's customers "
                 "were mostly customers already); hover for counts",
                 height=bar_height(len(names), per_bar=22, base=200))
    fig.add_trace(trace(
        "heatmap", x=offsets, y=names, z=z, customdata=custom, colorscale=SEQUENTIAL, zmin=0, zmax=1, xgap=1, ygap=1,
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


# --- products ------------------------------------------------------------------------------

def affinity_bars(affinity: pd.DataFrame, segments: pd.DataFrame, kind: str, per_segment: int = 3) -> Figure:
    """Each segment's most over-represented products (rank <= per_segment) by lift, in segment colours."""
    data = affinity[(affinity["kind"] == kind) & (affinity["rank"] <= per_segment)]
    ys, xs, cols, custom = [], [], [], []
    for name, color in colors(segments, kind).items():
        part = data[data["segment"] == name].sort_values("rank")
        for row in part.to_dict("records"):
            ys.append(f"{plain(short(str(row['product_name']), 30))}<br><i>{plain(short(name, 30))}</i>")
            xs.append(row["lift"])
            cols.append(color)
            custom.append([plain(name), plain(row["product_name"]), stable(row["segment_revenue_share"]),
                           stable(row["all_revenue_share"]), int(row["customers"])])
    fig = figure(f"Products each {KIND_NAMES[kind]} buys more than others",
                 f"Top {per_segment} per segment by lift (2 = twice as likely to buy it)",
                 height=bar_height(len(ys), per_bar=46), showlegend=False)
    fig.add_trace(trace(
        "bar", y=ys or [""], x=floats(pd.Series(xs, dtype="float64")) if xs else [0], orientation="h",
        marker_color=cols or [MUTED], customdata=custom or None,
        hovertemplate="%{customdata[0]}: %{customdata[1]}<br>lift %{x:.2f}"
                      "<br>%{customdata[2]:.1%} of the segment's revenue vs %{customdata[3]:.1%} of all"
                      "<br>%{customdata[4]:,} customers bought it<extra></extra>"))
    fig.update_xaxes(title_text="Lift (times as likely as all customers)", rangemode="tozero")
    fig.update_yaxes(autorange="reversed")
    return fig


def category_mix_bars(category_mix: pd.DataFrame, segments: pd.DataFrame, kind: str) -> Figure:
    """Each segment's revenue split by category (share, stacked to 100%)."""
    data = category_mix[category_mix["kind"] == kind]
    names = [n for n in colors(segments, kind) if (data["segment"] == n).any()]
    categories = sorted(data["category"].astype("string").unique().tolist())
    fig = figure(f"Category mix per {KIND_NAMES[kind]}", "Share of each segment's revenue by product category",
                 height=bar_height(len(names), per_bar=34, base=200), barmode="stack", bargap=0.25)
    for i, category in enumerate(categories):
        part = data[data["category"] == category].set_index("segment")
        fig.add_trace(trace(
            "bar", y=[wrap(plain(n), 20) for n in names], x=[stable(part.loc[n, "share"]) if n in part.index else 0.0
                                                     for n in names],
            orientation="h", name=plain(category), marker_color=CATEGORY_COLORS[i % len(CATEGORY_COLORS)],
            customdata=[stable(part.loc[n, "revenue"]) if n in part.index else 0.0 for n in names],
            hovertemplate=f"%{{y}}<br>{plain(category)}: %{{x:.1%}} (%{{customdata:,.0f}})<extra></extra>"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Share of the segment's revenue")
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
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Customers who ordered again")
    fig.update_yaxes(autorange="reversed")
    return fig


# --- changes -------------------------------------------------------------------------------

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
    fig.update_xaxes(side="top", showgrid=False, tickangle=0, title_text="Segment now")
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


# --- customer value ------------------------------------------------------------------------

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
    fig.update_xaxes(type="category", title_text="Repeat purchase days before the cutoff")
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
