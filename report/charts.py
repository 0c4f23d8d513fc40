"""Charts: pure functions `figure = f(table, ...)` over the Analysis tables, no I/O.

Every segment is drawn in its own `color` from the segments table, on every chart.
Strings from the data are escaped with `plain` before they reach Plotly, whose text
rendering understands a little HTML; the figure JSON is made safe for <script> in render.py.
Charts only sort, filter and pivot tables for display; every number comes from the analysis.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from report.chart_style import (
    Figure,
    ACCENT,
    DIVERGING,
    FEATURE_FORMATS,
    INK,
    MUTED,
    SEQUENTIAL,
    TEMPLATE,
    TEMPLATE_JSON,
    bar_height,
    colors,
    figure,
    floats,
    fmt,
    log_axis,
    money_label,
    months,
    period_note,
    plain,
    short,
    skewed,
    stable,
    strings,
    trace,
    wrap,
)

# --- overview ------------------------------------------------------------------------------

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
    """Average order value per segment: RFM segments above, behaviour clusters below."""
    kinds = [(k, t) for k, t in (("rfm", "RFM segments"), ("cluster", "Behaviour clusters"))
             if (segments["kind"] == k).any()]
    sizes = [int((segments["kind"] == k).sum()) for k, _ in kinds]
    # Plotly lays out the rows (axis domains, shared x axis, row titles); the traces are ours.
    grid = make_subplots(rows=len(kinds), cols=1, shared_xaxes=True, vertical_spacing=0.14,
                         row_heights=sizes, subplot_titles=[t for _, t in kinds],
                         figure=go.Figure(layout=dict(template=TEMPLATE)))
    layout = grid.to_dict()["layout"]
    layout["template"] = TEMPLATE_JSON
    fig = Figure(layout=layout)
    log = skewed(segments["avg_order_value"])
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
    if log:
        fig.update_xaxes(**log_axis(segments["avg_order_value"], "money", currency), showticklabels=True,
                         tickangle=0)
    else:
        fig.update_xaxes(tickprefix=plain(currency), showticklabels=True, tickangle=0)
    last = "" if len(kinds) == 1 else str(len(kinds))
    fig.update_layout(**{f"xaxis{last}": dict(title_text="Per order" + (" (log scale)" if log else ""))})
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


# --- segments page -------------------------------------------------------------------------

def segment_value_scatter(segments: pd.DataFrame, kind: str = "rfm", currency: str = "") -> Figure:
    """Share of revenue against share of customers per segment; above the diagonal = worth more
    than its size. Log axes, because shares span several orders of magnitude."""
    seg = segments[segments["kind"] == kind]
    x, y = floats(seg["share_customers"]), floats(seg["share_revenue"])
    label = "RFM segments" if kind == "rfm" else "Behaviour clusters"
    fig = figure(f"{label}: share of revenue vs share of customers",
                  "Above the dashed line a segment brings more revenue than its size", height=460)
    positive = np.concatenate([x[x > 0], y[y > 0]])
    lo = float(positive.min()) / 1.6 if len(positive) else 0.001
    fig.add_trace(trace("scatter", x=[lo, 1], y=[lo, 1], mode="lines", line=dict(color=MUTED, dash="dash"),
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(trace(
        "scatter", x=x, y=y, mode="markers+text", text=strings(seg["segment"]),
        textposition=_label_positions(x, lo),
        textfont=dict(size=11), marker=dict(color=seg["color"].tolist(), size=14, line=dict(color=INK, width=0.5)),
        showlegend=False, customdata=np.column_stack([floats(seg["customers"]), floats(seg["revenue_per_customer"])]),
        hovertemplate="%{text}<br>%{x:.1%} of customers (%{customdata[0]:,.0f})<br>%{y:.2%} of revenue"
                      f"<br>{plain(currency)}%{{customdata[1]:,.0f}} revenue per customer<extra></extra>"))
    fig.update_xaxes(**log_axis(np.concatenate([x, [lo, 1.0]]), "pct"), title_text="Share of customers (log scale)")
    fig.update_yaxes(**log_axis(np.concatenate([y, [lo, 1.0]]), "pct"), title_text="Share of revenue (log scale)")
    return fig


def _label_positions(x: np.ndarray, lo: float) -> list[str]:
    """Point labels alternate above and below (by x order) so neighbours do not overlap, and
    labels near the right edge go to the left of their point so they stay inside the chart."""
    order = np.argsort(np.nan_to_num(x), kind="stable")
    vertical = np.empty(len(x), dtype=object)
    vertical[order] = ["top" if i % 2 == 0 else "bottom" for i in range(len(x))]
    side = ["left" if v > 0.12 else "right" if v < lo * 4 else "center" for v in x]
    return [f"{v} {h}" for v, h in zip(vertical, side)]


def rfm_grid_heatmap(rfm_grid: pd.DataFrame) -> Figure:
    """Customers per (R score, F score) cell, recent at the top; hover names the cell's main segment.

    rfm_grid: schema.TABLES['rfm_grid'], one row per non-empty cell. Scores that no customer holds
    (ties) are left out of the axes.
    """
    r_scores = sorted(int(v) for v in rfm_grid["r_score"].unique())
    f_scores = sorted(int(v) for v in rfm_grid["f_score"].unique())
    cell = {(int(r), int(f)): row for r, f, row in zip(rfm_grid["r_score"], rfm_grid["f_score"],
                                                        rfm_grid.to_dict("records"))}
    z, text, names = [], [], []
    for r in r_scores:
        z.append([float(cell[(r, f)]["customers"]) if (r, f) in cell else None for f in f_scores])
        names.append([plain(cell[(r, f)]["rfm_segment"]) if (r, f) in cell else "" for f in f_scores])
        text.append([f"{names[-1][i]}<br>{int(cell[(r, f)]['customers']):,}" if (r, f) in cell else ""
                     for i, f in enumerate(f_scores)])
    fig = figure("RFM grid: customers by recency and frequency score",
                  "Cells name the segment most of their customers belong to", height=480)
    fig.add_trace(trace(
        "heatmap", x=[f"F{f}" for f in f_scores], y=[f"R{r}" for r in r_scores], z=z, text=text, customdata=names,
        texttemplate="%{text}", textfont=dict(size=11), colorscale=SEQUENTIAL, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="Customers"), thickness=12),
        hovertemplate="%{y} %{x}: %{customdata}<br>%{z:,.0f} customers<extra></extra>"))
    fig.update_xaxes(title_text="Frequency score (5 = most orders)", side="bottom", showgrid=False)
    fig.update_yaxes(title_text="Recency score (5 = most recent)", showgrid=False)  # R1 at the bottom
    return fig


def _label_side(k, ks: pd.Series) -> str:
    """Where a marker's text goes so that it stays inside the plot at the ends of the k axis."""
    return "top right" if k == ks.min() else "top left" if k == ks.max() else "top center"


def selection_by_k(cluster_selection: pd.DataFrame) -> Figure:
    """BIC (the deciding criterion) for each number of clusters tried, the chosen k marked and
    the candidates with a cluster too small to choose crossed."""
    fig = figure("Choosing the number of clusters: BIC by k",
                 "Lower is better; the chosen k is marked with a star, candidates with a cluster under 1% with a cross",
                 height=380)
    sel = cluster_selection.sort_values("k")
    fig.add_trace(trace(
        "scatter", x=floats(sel["k"]), y=floats(sel["bic"]), mode="lines+markers", name="BIC",
        line=dict(color=ACCENT), marker=dict(size=8),
        hovertemplate="k = %{x}<br>BIC %{y:,.0f}<extra></extra>"))
    chosen = sel[sel["chosen"].astype(bool)]
    if len(chosen):
        fig.add_trace(trace(
            "scatter", x=floats(chosen["k"]), y=floats(chosen["bic"]), mode="markers+text", name="Chosen",
            marker=dict(size=18, color="#E69F00", symbol="star", line=dict(color=INK, width=1)),
            text=[f"chosen: k = {int(k)}" for k in chosen["k"]],
            textposition=_label_side(chosen["k"].iloc[0], sel["k"]),
            hovertemplate="chosen k = %{x}<br>BIC %{y:,.0f}<extra></extra>"))
    ineligible = sel[~sel["eligible"].astype(bool)] if "eligible" in sel else sel.iloc[:0]
    if len(ineligible):
        fig.add_trace(trace(
            "scatter", x=floats(ineligible["k"]), y=floats(ineligible["bic"]), mode="markers",
            name="Not eligible (a cluster under 1%)",
            marker=dict(size=14, color=INK, symbol="x-thin-open", line=dict(color=INK, width=2)),
            hovertemplate="k = %{x}: a cluster too small to choose<br>BIC %{y:,.0f}<extra></extra>"))
    fig.update_xaxes(title_text="Number of clusters (k)", dtick=1)
    fig.update_yaxes(title_text="BIC (lower is better)")
    return fig


def cluster_feature_heatmap(segment_features: pd.DataFrame, segments: pd.DataFrame,
                            currency: str = "") -> Figure:
    """How each cluster differs from all customers per feature (z: mean standardised value);
    cell text and hover give the cluster's median in real units."""
    names = list(colors(segments, "cluster"))
    data = segment_features[segment_features["kind"] == "cluster"]
    features = list(dict.fromkeys(data["feature"].tolist()))
    labels = dict(zip(data["feature"].tolist(), data["label"].tolist()))
    rows = {(s, f): r for s, f, r in zip(data["segment"], data["feature"], data.to_dict("records"))}
    z, text = [], []
    for name in names:
        z.append([stable(rows[(name, f)]["z"]) if (name, f) in rows else None for f in features])
        text.append([fmt(rows[(name, f)]["median"], FEATURE_FORMATS.get(f, "count"), currency)
                     if (name, f) in rows else "" for f in features])
    limit = max([abs(v) for row in z for v in row if v is not None] + [1.0])
    fig = figure("Behaviour clusters: feature profile",
                  "Colour: above (red) or below (blue) all customers, in standard deviations · text: median",
                  height=bar_height(len(names), per_bar=48, base=220))
    fig.add_trace(trace(
        "heatmap", x=[wrap(plain(labels[f]), 12) for f in features], y=[wrap(plain(n), 18) for n in names], z=z,
        text=text, customdata=[[plain(labels[f]) for f in features] for _ in names],
        texttemplate="%{text}", textfont=dict(size=11), colorscale=DIVERGING, zmin=-limit, zmax=limit, zmid=0,
        xgap=2, ygap=2, colorbar=dict(title=dict(text="z"), thickness=12),
        hovertemplate="%{y}<br>%{customdata}: median %{text}<br>%{z:+.2f} SD from all customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(side="top", showgrid=False, tickangle=0)
    return fig


def customer_scatter(customer_sample: pd.DataFrame, segments: pd.DataFrame, total_customers: int,
                     currency: str = "") -> Figure:
    """Sampled customers by days since last order and revenue (both log), one colour per cluster.

    customer_sample: schema.TABLES['customer_sample']; total_customers: headline['customers'].
    """
    shown = len(customer_sample)
    fig = figure("Customers by recency and spend, coloured by behaviour cluster",
                  f"{shown:,} of {int(total_customers):,} customers shown · log scales", height=520)
    for name, color in colors(segments, "cluster").items():
        part = customer_sample[customer_sample["cluster_name"] == name]
        if part.empty:
            continue
        fig.add_trace(trace(
            "scatter", x=floats(part["recency_days"]), y=floats(part["monetary"]), mode="markers", name=plain(name),
            marker=dict(color=color, size=6, opacity=0.7, line=dict(width=0)),
            customdata=np.column_stack([strings(part["customer_id"]), strings(part["rfm_segment"]),
                                        part["frequency_orders"].tolist(),
                                        [fmt(v, "money", currency) for v in floats(part["avg_order_value"])]]),
            hovertemplate=f"Customer %{{customdata[0]}}<br>{plain(name)} · RFM: %{{customdata[1]}}"
                          f"<br>Last order %{{x:,.0f}} days ago<br>Revenue {plain(currency)}%{{y:,.2f}}"
                          "<br>%{customdata[2]} orders, average %{customdata[3]}<extra></extra>"))
    fig.update_xaxes(**log_axis(customer_sample["recency_days"], "count"),
                     title_text="Days since last order (log scale)")
    fig.update_yaxes(**log_axis(customer_sample["monetary"], "money", currency),
                     title_text=f"Revenue{money_label(currency)} (log scale)")
    return fig


def rfm_cluster_crosstab(crosstab: pd.DataFrame, segments: pd.DataFrame) -> Figure:
    """Customers per (RFM segment, behaviour cluster); empty cells left blank."""
    rfm = [n for n in colors(segments, "rfm") if (crosstab["rfm_segment"] == n).any()]
    clusters = [n for n in colors(segments, "cluster") if (crosstab["cluster_name"] == n).any()]
    counts = {(r, c): int(v) for r, c, v in zip(crosstab["rfm_segment"], crosstab["cluster_name"],
                                                 crosstab["customers"])}
    z = [[counts.get((r, c)) for c in clusters] for r in rfm]
    text = [[f"{v:,}" if v is not None else "" for v in row] for row in z]
    fig = figure("RFM segments by behaviour cluster", "Customers in each combination",
                  height=bar_height(len(rfm), per_bar=34, base=240))
    fig.add_trace(trace(
        "heatmap", x=[wrap(plain(c), 12) for c in clusters], y=[wrap(plain(r), 18) for r in rfm], z=z, text=text,
        texttemplate="%{text}", customdata=[[plain(c) for c in clusters] for _ in rfm],
        textfont=dict(size=11), colorscale=SEQUENTIAL, xgap=2, ygap=2,
        colorbar=dict(title=dict(text="Customers"), thickness=12),
        hovertemplate="RFM: %{y}<br>Cluster: %{customdata}<br>%{z:,.0f} customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(side="top", showgrid=False, tickangle=0)
    return fig


# --- one segment ---------------------------------------------------------------------------

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
                  height=bar_height(len(part)))
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
    """The segment's top countries by number of customers (log axis when one country dominates)."""
    part = _of(segment_countries, segment).sort_values("rank")
    values = floats(part["customers"])
    log = skewed(values)
    fig = figure("Top countries by customers", plain(segment["segment"]), height=bar_height(len(part)))
    fig.add_trace(trace(
        "bar", y=[wrap(c, 18) for c in strings(part["country"])], x=values, orientation="h",
        marker_color=segment["color"],
        text=[f"{v:,.0f}" for v in values], textposition="auto", customdata=floats(part["revenue"]),
        hovertemplate=f"%{{y}}<br>%{{x:,.0f}} customers<br>Revenue {plain(currency)}%{{customdata:,.0f}}"
                      "<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(**(log_axis(values, "count") if log else {}),
                     title_text="Customers" + (" (log scale)" if log else ""))
    return fig


def segment_monthly_revenue(monthly_by_segment: pd.DataFrame, segment: Mapping, currency: str = "",
                            period: tuple | None = None) -> Figure:
    """The segment's revenue per month, active customers in the hover."""
    part = _of(monthly_by_segment, segment).sort_values("month")
    fig = figure(f"Revenue per month{money_label(currency)}", plain(segment["segment"]) + period_note(period),
                 height=380,
                  bargap=0.15)
    fig.add_trace(trace(
        "bar", x=months(part["month"]), y=floats(part["revenue"]), marker_color=segment["color"],
        customdata=floats(part["customers"]),
        hovertemplate=f"%{{x|%b %Y}}<br>Revenue {plain(currency)}%{{y:,.0f}}"
                      "<br>%{customdata:,.0f} active customers<extra></extra>"))
    fig.update_xaxes(type="date", tickformat="%b %Y")
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
                  "Bars: difference from all customers in standard deviations · labels: median vs all customers",
                  height=bar_height(len(part), per_bar=40))
    fig.add_trace(trace(
        "bar", y=[wrap(v, 16) for v in strings(part["label"])], x=z, orientation="h", marker_color=segment["color"],
        text=[f"{a} vs {b}" for a, b in zip(own, every)], textposition="outside", cliponaxis=False,
        customdata=np.column_stack([own, every]),
        hovertemplate="%{y}<br>Median %{customdata[0]} (all customers %{customdata[1]})"
                      "<br>%{x:+.2f} SD<extra></extra>"))
    limit = max(float(np.nanmax(np.abs(z))) if len(z) and np.isfinite(z).any() else 1.0, 0.5) * 1.9
    fig.update_xaxes(range=[-limit, limit], zeroline=True, zerolinecolor=INK, zerolinewidth=1.5,
                     title_text="← below · SD · above all customers →")
    fig.update_yaxes(autorange="reversed")
    return fig


# --- data quality --------------------------------------------------------------------------

def ledger_rows(ledger: pd.DataFrame) -> Figure:
    """Input rows per ledger reason, kept rows highlighted; reasons with no rows are left out
    (the ledger table lists them). Log axis when the kept rows dwarf the dropped ones."""
    part = ledger[floats(ledger["rows"]) > 0]
    values = floats(part["rows"])
    log = skewed(values)
    kept = (part["reason"] == "kept").to_numpy()
    fig = figure("Input rows by outcome", "Every input row is kept or dropped for one reason",
                  height=bar_height(len(part), per_bar=34))
    fig.add_trace(trace(
        "bar", y=[wrap(v, 18) for v in strings(part["label"])], x=values, orientation="h",
        marker=dict(color=[ACCENT if k else MUTED for k in kept]),
        text=[f"{v:,.0f} ({s:.1%})" for v, s in zip(values, floats(part["share_rows"]))], textposition="auto",
        customdata=strings(part["description"]),
        hovertemplate="%{y}: %{x:,.0f} rows<br>%{customdata}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(**(log_axis(values, "count") if log else {}), title_text="Rows" + (" (log scale)" if log else ""))
    return fig
