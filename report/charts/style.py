"""Chart style and helpers shared by the chart functions: colours, the Plotly template,
escaping of data strings for Plotly text, stable numbers, log axes and label wrapping; and
Figure, a Plotly figure as plain dicts."""

from __future__ import annotations

import base64
import html
import math
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.config import MAX_CLUSTERS, MAX_SEGMENTS

ACCENT = "#0072B2"   # Okabe-Ito blue: the one colour for "all customers" and highlights
MUTED = "#9AA5B1"    # grey for context (dropped rows, reference lines)
INK = "#1F2933"
MUTED_INK = "#52606D"  # secondary text (labels under labels)
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
    # labels keep clear of each other: x tick labels start a little below the axis (clear of the y
    # axis's lowest label at the corner), axis titles stand off their tick labels
    xaxis=dict(gridcolor="#E4E7EB", zerolinecolor="#CBD2D9", linecolor="#CBD2D9", automargin=True,
               ticklabelstandoff=8, title=dict(standoff=12)),
    yaxis=dict(gridcolor="#E4E7EB", zerolinecolor="#CBD2D9", linecolor="#CBD2D9", automargin=True,
               title=dict(standoff=10)),
    hoverlabel=dict(align="left"),
    legend=dict(orientation="h", x=0, xanchor="left", y=1.02, yanchor="bottom", traceorder="normal"),
    margin=dict(l=8, r=16, t=72, b=8),
))

TEMPLATE_JSON = TEMPLATE.to_plotly_json()  # what a figure's layout.template holds, made once

# Display format per customer feature (segment_features.feature): money, days, count, rate.
FEATURE_FORMATS = {
    "recency_days": "days", "frequency_orders": "count", "monetary": "money",
    "avg_order_value": "money", "items_per_order": "count", "distinct_products": "count",
    "mean_days_between_orders": "days", "return_rate": "rate", "tenure_days": "days",
    "active_days": "days", "lines_per_order": "count", "units_per_line": "ratio", "item_price": "money", "price_index": "ratio",
    "weekend_share": "rate", "peak_quarter_share": "rate",
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
    """Break a (plain) label into lines of about `width` characters for crowded axes, counting the
    characters shown (an escaped '&lt;' is one)."""
    shown = lambda t: len(html.unescape(t))  # noqa: E731
    lines, line = [], ""
    for word in text.split():
        if line and shown(line) + 1 + shown(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join(lines + [line])


# Colour-blind-safe palettes (Paul Tol's 'muted' set, Okabe-Ito); one colour per segment, given
# by the RFM segment's place in the segment map or the cluster's number, so it is the same on every page.
RFM_COLORS = ["#117733", "#44AA99", "#882255", "#CC6677", "#88CCEE", "#332288", "#6699CC", "#DDCC77",
              "#AA4499", "#999933", "#BBBBBB", "#777777"]
# Okabe-Ito, ordered so that the first five hold no two alike (blue and sky blue, orange and
# vermillion come only from the sixth cluster on)
CLUSTER_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#000000", "#56B4E9", "#D55E00", "#F0E442"]
assert len(CLUSTER_COLORS) >= MAX_CLUSTERS and len(RFM_COLORS) >= MAX_SEGMENTS, "one colour per segment"


def slugify(text: str) -> str:
    """A safe file name from a segment's name: lower-case letters, digits and '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "segment"


def dressed(segments: pd.DataFrame, rfm_order: list[str]) -> pd.DataFrame:
    """The segments table (schema.TABLES['segments']) with each segment's page name (slug) and
    colour after its name. An RFM segment's colour is its place in the segment map (`rfm_order`,
    empty segments included); clusters are listed 1..k, and cluster n gets the n-th colour."""
    out = segments.copy()
    place = {name: i for i, name in enumerate(rfm_order)}
    slugs, cols = [], []
    number = 0
    for kind, name in zip(out["kind"].tolist(), out["segment"].tolist()):
        if kind == "rfm":
            slugs.append(f"rfm-{slugify(name)}")
            cols.append(RFM_COLORS[place.get(name, len(place)) % len(RFM_COLORS)])
        else:
            number += 1
            slugs.append(f"cluster-{number}-{slugify(name)}")
            cols.append(CLUSTER_COLORS[(number - 1) % len(CLUSTER_COLORS)])
    at = out.columns.get_loc("segment") + 1
    out.insert(at, "slug", pd.Series(slugs, index=out.index, dtype=out["segment"].dtype))
    out.insert(at + 1, "color", pd.Series(cols, index=out.index, dtype=out["segment"].dtype))
    return out


def colors(segments: pd.DataFrame, kind: str) -> dict[str, str]:
    seg = segments[segments["kind"] == kind]
    return dict(zip(seg["segment"].tolist(), seg["color"].tolist()))


def figure(title: str, subtitle: str = "", height: int = 420, **layout) -> Figure:
    return Figure(layout=dict(template=TEMPLATE_JSON, height=height,
                              title=dict(text=title, subtitle=dict(text=subtitle)), **layout))


# --- figures as plain dicts ----------------------------------------------------------------
# plotly.graph_objects validates every property on every call, which made building the site's
# ~50 figures slower than everything else the site writer does. Figure keeps the same data
# (traces and layout as dicts, numbers as numpy arrays) with the few go.Figure methods the
# charts use, and serialises it as Plotly does; the tests check every chart against Plotly's
# schema with go.Figure(fig.to_dict()).

AXIS = {"xaxis": re.compile(r"xaxis\d*"), "yaxis": re.compile(r"yaxis\d*")}
# Plotly's "magic underscore" paths the charts use: marker_color=c is marker={'color': c}. Only
# these are split, as some Plotly names hold an underscore themselves (paper_bgcolor, error_x).
UNDERSCORE_PATH = re.compile(r"(marker|title|line|font)_[a-z_]+")


def _expand(props: dict) -> dict:
    """Plotly's keyword conventions on plain dicts: None means unset and is left out, and
    UNDERSCORE_PATH names are paths; dicts are copied, lists are kept as they are."""
    out: dict = {}
    for key, value in props.items():
        if value is None:
            continue
        if isinstance(value, dict) and key != "template":
            value = _expand(value)
        *path, last = key.split("_") if UNDERSCORE_PATH.fullmatch(key) else [key]
        node = out
        for part in path:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(last), dict):
            _merge(node, {last: value})
        else:
            node[last] = value
    return out


def _merge(target: dict, update: dict) -> dict:
    """Merge `update` into `target`, nested dicts key by key. A nested dict is copied before it is
    changed, so dicts shared between figures (the template) are never modified."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            target[key] = _merge(dict(target[key]), value)
        else:
            target[key] = value
    return target


def trace(kind: str, **props) -> dict:
    """A trace as a dict: trace('bar', x=..., marker_color=...) holds what go.Bar(...) would."""
    return {"type": kind, **_expand(props)}


class Figure:
    """A Plotly figure as plain data: `data`, a list of trace dicts, and `layout`, a dict."""

    def __init__(self, data: list[dict] | None = None, layout: dict | None = None):
        self.data = list(data or [])
        self.layout = _expand(layout or {})

    def add_trace(self, trace: dict) -> Figure:
        self.data.append(trace)
        return self

    def update_layout(self, **props) -> Figure:
        _merge(self.layout, _expand(props))
        return self

    def update_xaxes(self, **props) -> Figure:
        return self._update_axes("xaxis", props)

    def update_yaxes(self, **props) -> Figure:
        return self._update_axes("yaxis", props)

    def _update_axes(self, name: str, props: dict) -> Figure:
        """Like go.Figure: every axis of that direction (xaxis, xaxis2, ...), xaxis when none yet."""
        for key in [k for k in self.layout if AXIS[name].fullmatch(k)] or [name]:
            _merge(self.layout, {key: _expand(props)})
        return self

    def add_vline(self, x, line: dict) -> Figure:
        """A vertical line across the plot at x (as go.Figure.add_vline draws it)."""
        shape = {"line": _expand(line), "type": "line", "x0": x, "x1": x, "xref": "x",
                 "y0": 0, "y1": 1, "yref": "y domain"}
        self.layout["shapes"] = [*self.layout.get("shapes", []), shape]
        return self

    def to_dict(self) -> dict:
        """{'data': [...], 'layout': {...}} (not copied): what go.Figure(...) accepts."""
        return {"data": self.data, "layout": self.layout}

    def to_plotly_json(self) -> dict:
        """A JSON-ready copy, as plotly.io.to_json writes a figure: numeric numpy arrays as typed
        arrays (base64), other arrays as lists, numpy scalars as Python numbers, NaN and inf as null."""
        return _json_ready(self.to_dict())


# Plotly.js typed arrays: numpy dtype -> its code. Plotly writes numeric arrays held directly
# under a key as {"dtype", "bdata": base64 of the values[, "shape"]}, except under these keys.
TYPED_ARRAYS = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4",
                "float32": "f4", "float64": "f8"}
UNTYPED_KEYS = {"geojson", "layer", "layers", "range"}


def _typed_array(values: np.ndarray) -> dict | None:
    """A numeric array as a Plotly.js typed array, as plotly.io writes it (64-bit integers
    narrowed to the smallest type that holds them), or None to write it as a list."""
    if not values.size:
        return None
    if values.dtype.kind in "iu" and values.dtype.itemsize == 8:
        lo, hi = values.min(), values.max()
        for kind in (("int8", "int16", "int32") if values.dtype.kind == "i" else ("uint8", "uint16", "uint32")):
            if np.iinfo(kind).min <= lo and hi <= np.iinfo(kind).max:
                values = values.astype(kind)
                break
    code = TYPED_ARRAYS.get(str(values.dtype))
    if code is None:
        return None
    spec = {"dtype": code, "bdata": base64.b64encode(np.ascontiguousarray(values)).decode("ascii")}
    if values.ndim > 1:
        spec["shape"] = str(values.shape)[1:-1]
    return spec


def _json_ready(value, key: str | None = None):
    if isinstance(value, dict):
        return {str(k): _json_ready(v, str(k)) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        spec = _typed_array(value) if key is not None and key not in UNTYPED_KEYS else None
        return spec if spec is not None else [_json_ready(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    if value is None or isinstance(value, (str, int)):
        return value
    raise TypeError(f"a figure holds a {type(value).__name__}, which is not JSON: {value!r}")


def bar_height(n: int, per_bar: int = 30, base: int = 150) -> int:
    return int(base + per_bar * max(n, 1))


def short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
