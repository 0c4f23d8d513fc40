"""Chart style and helpers shared by the chart functions: colours, the Plotly template,
escaping of data strings for Plotly text, stable numbers, log axes and label wrapping."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

ACCENT = "#0072B2"   # Okabe-Ito blue: the one colour for "all customers" and highlights
MUTED = "#9AA5B1"    # grey for context (dropped rows, reference lines)
INK = "#1F2933"
SEQUENTIAL = [[0.0, "#EFF3FF"], [0.25, "#BDD7E7"], [0.5, "#6BAED6"], [0.75, "#3182BD"], [1.0, "#08519C"]]
DIVERGING = [[0.0, "#2166AC"], [0.25, "#92C5DE"], [0.5, "#F7F7F7"], [0.75, "#F4A582"], [1.0, "#B2182B"]]
STABLE_DIGITS = 10   # significant digits kept in figures (see floats)
SKEW_RATIO = 30      # above this max/min ratio of positive values, use a log axis

TEMPLATE = go.layout.Template(layout=dict(
    font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
              size=13, color=INK),
    title=dict(x=0, xanchor="left", font=dict(size=16)),
    paper_bgcolor="#FFFFFF", plot_bgcolor="#FFFFFF",
    colorway=[ACCENT, "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"],
    xaxis=dict(gridcolor="#E4E7EB", zerolinecolor="#CBD2D9", linecolor="#CBD2D9", automargin=True),
    yaxis=dict(gridcolor="#E4E7EB", zerolinecolor="#CBD2D9", linecolor="#CBD2D9", automargin=True),
    hoverlabel=dict(align="left"),
    legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom", traceorder="normal"),
    margin=dict(l=8, r=16, t=72, b=8),
))

# Display format per customer feature (segment_features.feature): money, days, count, rate.
FEATURE_FORMATS = {
    "recency_days": "days", "frequency_orders": "count", "monetary": "money",
    "avg_order_value": "money", "items_per_order": "count", "distinct_products": "count",
    "mean_days_between_orders": "days", "return_rate": "rate", "tenure_days": "days",
}


def plain(text) -> str:
    """A data string as Plotly text: escape &, <, > so it is shown literally, never as markup."""
    return html.escape("" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text),
                       quote=False)


def strings(series: pd.Series) -> list[str]:
    return [plain(v) for v in series.tolist()]


def floats(series: pd.Series) -> np.ndarray:
    """Numbers for a figure, at STABLE_DIGITS significant digits: the last bits of a float sum can
    differ between runs of a parallel engine, and the figure JSON must not."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.array([stable(v) for v in values], dtype="float64")


def stable(value) -> float:
    return float(f"{float(value):.{STABLE_DIGITS}g}")


def months(series: pd.Series) -> list[str]:
    """Month values (date, Timestamp or text) as ISO dates for a Plotly date axis."""
    return pd.to_datetime(series.astype("string")).dt.strftime("%Y-%m-%d").tolist()


def period_note(period: tuple | None) -> str:
    """' (1 Dec 2010 to 9 Dec 2011; partial months show less)' for (start, end) ISO dates."""
    if not period:
        return ""
    start, end = (pd.Timestamp(str(d)[:10]) for d in period)
    return f" ({start.day} {start:%b %Y} to {end.day} {end:%b %Y}; partial months show less)"


def money_label(currency: str) -> str:
    return f" ({plain(currency)})" if currency else ""


def skewed(values) -> bool:
    """True when positive values span more than SKEW_RATIO, so a log axis reads better."""
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v) & (v > 0)]
    return len(v) > 1 and v.max() / v.min() > SKEW_RATIO


def fmt(value: float, kind: str, currency: str = "") -> str:
    """A number for chart labels (the site's filters do the same for HTML)."""
    if value is None or not np.isfinite(value):
        return "n/a"
    value = stable(value)
    if kind == "money":
        digits = 0 if abs(value) >= 1000 else 2  # keep chart labels short
        return f"{'-' if value < 0 else ''}{plain(currency)}{abs(value):,.{digits}f}"
    if kind == "rate":
        return f"{value:.1%}"
    if kind == "days":
        return f"{value:,.0f} days" if float(value).is_integer() else f"{value:,.1f} days"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _tick_label(value: float, kind: str, currency: str) -> str:
    if kind == "pct":
        return f"{value * 100:g}%"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            text = f"{value / size:g}{suffix}"
            break
    else:
        text = f"{value:g}"
    return f"{plain(currency)}{text}" if kind == "money" else text


def log_axis(values, kind: str = "count", currency: str = "") -> dict:
    """Log axis settings with ticks at 1, 2, 5 x 10^n (only powers of ten when the range is wide)."""
    v = np.asarray(values, dtype="float64")
    v = v[np.isfinite(v) & (v > 0)]
    if not len(v):
        return {"type": "log"}
    lo, hi = int(np.floor(np.log10(v.min()))), int(np.ceil(np.log10(v.max())))
    ticks = [m * 10.0 ** e for e in range(lo, hi + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if v.min() / 2 <= t <= v.max() * 2]
    if len(ticks) > 8:
        ticks = [t for t in ticks if np.isclose(np.log10(t), round(np.log10(t)))]
    return {"type": "log", "tickvals": ticks, "ticktext": [_tick_label(t, kind, currency) for t in ticks]}


def wrap(text: str, width: int = 14) -> str:
    """Break a (plain) label into lines of about `width` characters for crowded axes."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join(lines + [line])


def colors(segments: pd.DataFrame, kind: str) -> dict[str, str]:
    seg = segments[segments["kind"] == kind]
    return dict(zip(seg["segment"].tolist(), seg["color"].tolist()))


def figure(title: str, subtitle: str = "", height: int = 420, **layout) -> go.Figure:
    fig = go.Figure(layout=dict(template=TEMPLATE, height=height,
                                title=dict(text=title, subtitle=dict(text=subtitle)), **layout))
    return fig


def bar_height(n: int, per_bar: int = 30, base: int = 150) -> int:
    return int(base + per_bar * max(n, 1))


def short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
