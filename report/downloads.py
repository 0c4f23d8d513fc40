"""Downloadable files: customer lists and segment tables as CSV, and summary.json.

Builds bytes in memory (the site writer writes them). CSV cells that a spreadsheet would
run as a formula are neutralised; number columns are never touched. Output is deterministic:
floats at STABLE_DIGITS significant digits, '\\n' line endings, sorted JSON keys.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
from typing import Mapping

import numpy as np
import pandas as pd

import analysis
from analysis.result import Analysis

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Significant digits written for floats: enough for money and rates, few enough that float
# noise in the last bits (a parallel engine's sums) never changes the bytes.
STABLE_DIGITS = 10
FIRST_CUSTOMER_COLUMNS = ["customer_id", "rfm_segment", "cluster", "cluster_name"]
# Distributions whose versions can change the numbers or the pages (recorded in summary.json).
RECORDED_PACKAGES = ("pandas", "numpy", "duckdb", "ibis-framework", "scikit-learn", "plotly", "jinja2")


def _neutralise_text(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where text cells starting with = + - @ tab or CR get a leading apostrophe.

    Only string and object columns are changed (and in those only str values); numbers stay numbers.
    """
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        if pd.api.types.is_string_dtype(series) or series.dtype == object:
            out[col] = series.map(_neutralise_text, na_action="ignore").astype(series.dtype)
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with floats at STABLE_DIGITS significant digits and '\\n' line endings."""
    out = safe_for_spreadsheets(frame)
    return out.to_csv(index=False, lineterminator="\n", float_format=f"%.{STABLE_DIGITS}g").encode("utf-8")


def customers_table(a: Analysis) -> pd.DataFrame:
    """customers.csv columns: ids and segments first, then the features in schema order."""
    customers = a.tables["customers"]
    rest = [c for c in customers.columns if c not in FIRST_CUSTOMER_COLUMNS]
    # The value column is named after its horizon in the export, e.g. clv_365.
    horizon = a.headline.get("clv_horizon_days")
    return customers[FIRST_CUSTOMER_COLUMNS + rest].rename(columns={"clv": f"clv_{horizon}"} if horizon else {})


def segment_customers(a: Analysis, kind: str, segment: str) -> pd.DataFrame:
    customers = customers_table(a)
    column = "rfm_segment" if kind == "rfm" else "cluster_name"
    return customers[customers[column] == segment]


AT_RISK_COLUMNS = ["customer_id", "rfm_segment", "cluster", "cluster_name", "value_at_risk", "monetary",
                   "recency_days", "frequency_orders", "mean_days_between_orders", "p_alive", "clv"]
VALUE_COLUMNS = ["customer_id", "rfm_segment", "cluster", "cluster_name", "clv", "p_alive",
                 "expected_purchases_90", "expected_purchases_365", "monetary", "frequency_orders", "recency_days"]
# RFM vs P(alive) disagreements: thresholds for listing, not statistics (P(alive) comes from the model).
ALIVE_HIGH, ALIVE_LOW = 0.8, 0.5


def at_risk_customers(a: Analysis) -> pd.DataFrame:
    """Customers flagged at risk, highest value at risk first (ties: customer id)."""
    c = a.tables["customers"]
    part = c[c["at_risk"].fillna(False).astype(bool)]
    return part.sort_values(["value_at_risk", "customer_id"], ascending=[False, True], kind="stable")[AT_RISK_COLUMNS]


def top_clv_customers(a: Analysis) -> pd.DataFrame:
    """Every customer with a CLV, highest first (ties: customer id)."""
    c = a.tables["customers"]
    part = c[c["clv"].notna()]
    return part.sort_values(["clv", "customer_id"], ascending=[False, True], kind="stable")[VALUE_COLUMNS]


def alive_disagreements(a: Analysis) -> pd.DataFrame:
    """Repeat customers whose RFM segment and BG/NBD P(alive) disagree: in a lapsing RFM segment yet
    P(alive) >= ALIVE_HIGH ('model: still active'), or outside one yet P(alive) < ALIVE_LOW ('model:
    likely gone'). One-order customers are left out: the model gives them P(alive) = 1."""
    from analysis.transitions import LAPSING

    c = a.tables["customers"]
    repeat = c[(c["frequency_orders"] > 1) & c["p_alive"].notna()]
    lapsing = repeat["rfm_segment"].isin(LAPSING)
    active = repeat[lapsing & (repeat["p_alive"] >= ALIVE_HIGH)].assign(disagreement="model: still active")
    gone = repeat[~lapsing & (repeat["p_alive"] < ALIVE_LOW)].assign(disagreement="model: likely gone")
    out = pd.concat([gone, active], ignore_index=True)
    out = out.sort_values(["disagreement", "monetary", "customer_id"], ascending=[True, False, True], kind="stable")
    return out[["customer_id", "disagreement", *VALUE_COLUMNS[1:]]]


def movers_table(a: Analysis) -> pd.DataFrame:
    """Customers who slipped into a lapsing RFM segment, most revenue first (as the analysis sorts them)."""
    return a.tables["movers"]


def plain(value):
    """A JSON-ready copy: numpy scalars to Python, NaN/inf to None, dates to ISO, mappings to dicts."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        return float(f"{value:.{STABLE_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)


def package_versions() -> dict[str, str | None]:
    """Python's version and each RECORDED_PACKAGES distribution's (None when not installed).

    They differ between machines, so they are written to summary.json only, never to a page.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def recorded_config(a: Analysis) -> dict:
    """The options used, with the output folder reduced to its name: where a site is built must
    not change its bytes (and a home folder's path is nobody's business)."""
    config = a.config.as_dict()
    if config.get("output") is not None:
        config["output"] = os.path.basename(os.path.abspath(str(a.config.output)))
    return config


def summary(a: Analysis) -> dict:
    """summary.json: input fingerprint, ledger, headline figures, options, warnings, tool and
    package versions."""
    ledger = a.tables["ledger"]
    s = a.source
    return plain({
        "tool": {"name": analysis.TOOL_NAME, "version": analysis.__version__},
        "versions": package_versions(),
        "input": {"path": s.path, "format": s.format, "sha256": s.sha256, "rows": s.rows,
                  "columns": list(s.columns), "mapping": dict(s.mapping)},
        "attribution": s.attribution,
        "ledger": dict(zip(ledger["reason"].tolist(), ledger["rows"].tolist())),
        "headline": dict(a.headline),
        "models": models(a),
        "config": recorded_config(a),
        "findings": [{"text": f.text, "figure": f.figure, "link": f.link} for f in a.findings],
        "warnings": list(a.warnings),
    })


def models(a: Analysis) -> dict:
    """The fitted customer-value models with their units, as recorded in the headline."""
    h = a.headline
    bg, gg = h.get("bgnbd"), h.get("gamma_gamma")
    return {
        "bgnbd": {**bg, "time_unit": h.get("clv_time_unit")} if bg else None,
        "gamma_gamma": {**gg, "money": a.config.currency or None} if gg else None,
        "clv": {"horizon_days": h.get("clv_horizon_days"), "discount_rate_monthly": h.get("discount_rate_monthly"),
                "total": h.get("clv_total")},
        "holdout": {"mae": h.get("holdout_mae"), "cutoff": h.get("holdout_cutoff")},
        "spend_frequency_correlation": h.get("spend_frequency_correlation"),
    }


def build_downloads(a: Analysis) -> dict[str, bytes]:
    """Every file under downloads/, by path inside the site."""
    files = {
        "downloads/customers.csv": to_csv_bytes(customers_table(a)),
        "downloads/segments.csv": to_csv_bytes(a.tables["segments"]),
        "downloads/ledger.csv": to_csv_bytes(a.tables["ledger"]),
        "downloads/movers.csv": to_csv_bytes(movers_table(a)),
        "downloads/at_risk.csv": to_csv_bytes(at_risk_customers(a)),
        "downloads/top_clv.csv": to_csv_bytes(top_clv_customers(a)),
        "downloads/p_alive_disagreements.csv": to_csv_bytes(alive_disagreements(a)),
    }
    seg = a.tables["segments"]
    for kind, name, slug in zip(seg["kind"].tolist(), seg["segment"].tolist(), seg["slug"].tolist()):
        files[f"downloads/segments/{slug}.csv"] = to_csv_bytes(segment_customers(a, kind, name))
    text = json.dumps(summary(a), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    files["downloads/summary.json"] = (text + "\n").encode("utf-8")
    return files
