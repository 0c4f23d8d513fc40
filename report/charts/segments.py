"""Charts of the segments page: value against size, the RFM grid, the choice of k, cluster profiles, customers, RFM against clusters, distributions and means per segment, pairwise differences, revenue concentration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.customers.cluster import MIN_STABILITY
from report.charts.style import (ACCENT, DIVERGING, FEATURE_FORMATS, Figure, INK, MUTED, SEQUENTIAL, bar_height, colors,
                                 figure, floats, fmt, log_axis, money_label, plain, short, skewed, stable, strings,
                                 trace, wrap)


def segment_value_scatter(segments: pd.DataFrame, kind: str = "rfm", currency: str = "") -> Figure:
    """Share of revenue against share of customers per segment; above the diagonal = worth more
    than its size. Log axes, because shares span several orders of magnitude."""
    seg = segments[segments["kind"] == kind]
    x, y = floats(seg["share_customers"]), floats(seg["share_revenue"])
    label = "RFM segments" if kind == "rfm" else "Behaviour clusters"
    fig = figure(f"{label}: share of revenue vs share of customers",
                  "Above the dashed line a segment brings more revenue than its size", height=520)
    positive = np.concatenate([x[x > 0], y[y > 0]])
    lo = float(positive.min()) / 1.6 if len(positive) else 0.001
    fig.add_trace(trace("scatter", x=[lo, 1], y=[lo, 1], mode="lines", line=dict(color=MUTED, dash="dash"),
                             hoverinfo="skip", showlegend=False))
    # one trace per segment, named in the legend in its colour: point labels would collide where
    # segments sit close together, a legend never does
    custom = np.column_stack([floats(seg["customers"]), floats(seg["revenue_per_customer"])])
    for i, (name, color) in enumerate(zip(strings(seg["segment"]), seg["color"].tolist())):
        fig.add_trace(trace(
            "scatter", x=x[i:i + 1], y=y[i:i + 1], mode="markers", name=name, customdata=custom[i:i + 1],
            marker=dict(color=color, size=14, line=dict(color=INK, width=0.5)),
            hovertemplate="%{fullData.name}<br>%{x:.1%} of customers (%{customdata[0]:,.0f})<br>%{y:.2%} of revenue"
                          f"<br>{plain(currency)}%{{customdata[1]:,.0f}} revenue per customer<extra></extra>"))
    fig.update_xaxes(**log_axis(np.concatenate([x, [lo, 1.0]]), "pct"), title_text="Share of customers (log scale)")
    fig.update_yaxes(**log_axis(np.concatenate([y, [lo, 1.0]]), "pct"), title_text="Share of revenue (log scale)")
    return fig


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
    """ICL (the deciding criterion) for each number of clusters tried, the chosen k marked, the
    candidates with a cluster too small to choose crossed and those found unstable ringed."""
    fig = figure("Choosing the number of clusters: ICL by k",
                 "Lower is better; the chosen k is marked with a star, candidates with a cluster under 1% with a "
                 "cross, candidates found unstable with a ring",
                 height=380)
    sel = cluster_selection.sort_values("k")
    fig.add_trace(trace(
        "scatter", x=floats(sel["k"]), y=floats(sel["icl"]), mode="lines+markers", name="ICL",
        line=dict(color=ACCENT), marker=dict(size=8),
        hovertemplate="k = %{x}<br>ICL %{y:,.0f}<extra></extra>"))
    chosen = sel[sel["chosen"].astype(bool)]
    if len(chosen):
        fig.add_trace(trace(
            "scatter", x=floats(chosen["k"]), y=floats(chosen["icl"]), mode="markers+text", name="Chosen",
            marker=dict(size=18, color="#E69F00", symbol="star", line=dict(color=INK, width=1)),
            text=[f"chosen: k = {int(k)}" for k in chosen["k"]],
            textposition=_label_side(chosen["k"].iloc[0], sel["k"]),
            hovertemplate="chosen k = %{x}<br>ICL %{y:,.0f}<extra></extra>"))
    ineligible = sel[~sel["eligible"].astype(bool)] if "eligible" in sel else sel.iloc[:0]
    if len(ineligible):
        fig.add_trace(trace(
            "scatter", x=floats(ineligible["k"]), y=floats(ineligible["icl"]), mode="markers",
            name="Not eligible (a cluster under 1%)",
            marker=dict(size=14, color=INK, symbol="x-thin-open", line=dict(color=INK, width=2)),
            hovertemplate="k = %{x}: a cluster too small to choose<br>ICL %{y:,.0f}<extra></extra>"))
    unstable = sel[sel["stability"].astype(float) < MIN_STABILITY] if "stability" in sel else sel.iloc[:0]
    if len(unstable):
        fig.add_trace(trace(
            "scatter", x=floats(unstable["k"]), y=floats(unstable["icl"]), mode="markers",
            name=f"Not stable (bootstrap ARI under {MIN_STABILITY})",
            marker=dict(size=18, color="#CC3311", symbol="circle-open", line=dict(width=2)),
            customdata=floats(unstable["stability"]),
            hovertemplate="k = %{x}: not stable (%{customdata:.2f})<br>ICL %{y:,.0f}<extra></extra>"))
    fig.update_xaxes(title_text="Number of clusters (k)", dtick=1)
    fig.update_yaxes(title_text="ICL (lower is better)")
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
        xgap=2, ygap=2, colorbar=dict(title=dict(text="SD from all"), thickness=12),
        hovertemplate="%{y}<br>%{customdata}: median %{text}<br>%{z:+.2f} SD from all customers<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(side="top", showgrid=False)  # labels turn when the columns are too narrow for them
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
    fig.update_xaxes(side="top", showgrid=False)  # labels turn when the columns are too narrow for them
    return fig


KIND_NAMES = {"rfm": "RFM segment", "cluster": "behaviour cluster"}


FEATURE_KINDS = {"recency_days": "days", "frequency_orders": "count", "monetary": "money",
                 "avg_order_value": "money", "clv": "money", "p_alive": "rate"}


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
    labels = [f"{wrap(plain(short(a, 40)), 20)}<br>vs {wrap(plain(short(b, 40)), 20)}"
              for a, b in zip(part["a"].tolist(), part["b"].tolist())]
    fig = figure("Largest revenue differences between behaviour clusters",
                 "Rank-biserial effect: +1 = the first always spends more, −1 = always less",
                 height=bar_height(len(part), per_bar=64))
    effect = floats(part["effect"])
    fig.add_trace(trace(
        "bar", y=labels, x=effect, orientation="h", marker_color=[ACCENT if v >= 0 else "#D55E00" for v in effect],
        customdata=np.column_stack([floats(part["median_a"]), floats(part["median_b"]),
                                    [f"{p:.2g}" for p in floats(part["p_holm"])]]),
        hovertemplate=f"%{{y}}<br>effect %{{x:+.2f}}<br>medians {plain(currency)}%{{customdata[0]:,.0f}} vs "
                      f"{plain(currency)}%{{customdata[1]:,.0f}}<br>Holm-adjusted p %{{customdata[2]}}<extra></extra>"))
    fig.update_xaxes(range=[-1.05, 1.05], zeroline=True, zerolinecolor=INK, title_text="Effect, −1 to +1")
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
    fig.update_xaxes(tickformat=".0%", range=[0, 1], title_text="Share of customers")
    fig.update_yaxes(tickformat=".0%", range=[0, 1], tickvals=[0.2, 0.4, 0.6, 0.8, 1.0],  # 0% once, on the x axis
                     title_text="Share of revenue")
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
