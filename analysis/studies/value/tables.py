"""The customer-value study's tables: CLV and probability alive per segment with bootstrap
intervals, their distributions, when each segment's typical customer drops below 50% alive, the
holdout check, and the fitted parameters as recorded figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.engine import rollups
from analysis.studies import stats
from analysis.studies.stats import KINDS, by_kind
from analysis.studies.study import Study, StudyResult
from analysis.studies.value import clv

HOLDOUT_DAYS = 90  # the value model is checked on predicting this many last days
CLV_EDGES = [0, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, np.inf]
P_ALIVE_EDGES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0 + 1e-9]
WAIT_GRID = np.arange(0, 3651)  # days of further silence tried when looking for the 50% point


def horizons(horizon: int) -> tuple[int, ...]:
    return tuple(sorted({90, 365, horizon}))


def value_queries(lines, as_of: dt.date, horizon: int, discount_rate: float) -> tuple:
    """The engine's part of value_tables: clv.value_summaries of the orders; with many customers,
    also a Worker already fitting the models on them (else None: value_tables fits them)."""
    from analysis import worker

    summaries = clv.value_summaries(rollups.orders(lines), as_of, HOLDOUT_DAYS)
    if len(summaries[0]) < worker.MIN_CUSTOMERS:
        return summaries, None

    # (no lines: with the summaries and a valid holdout, customer_value never reads them)
    return summaries, worker.Worker(clv.customer_value, None, as_of, horizons(horizon), discount_rate, HOLDOUT_DAYS,
                             summaries)


def value_tables(lines, customers: pd.DataFrame, as_of: dt.date, horizon: int, discount_rate: float,
                 seed: int, queried: tuple) -> tuple[dict, dict, pd.DataFrame, tuple[str, ...]]:
    """Purchase model + Gamma-Gamma customer value: per-customer columns, CLV per segment with bootstrap
    intervals, the holdout check, and the fitted parameters (time unit: days).
    `queried`: value_queries(lines, as_of, horizon, discount_rate), the engine's summaries and
    the models' worker, if any."""
    summaries, models = queried
    value = models.result() if models is not None else clv.customer_value(
        rollups.orders(lines), as_of, horizons=horizons(horizon), discount_rate=discount_rate,
        holdout_days=HOLDOUT_DAYS, summaries=summaries)
    v = value.customers
    per_customer = pd.DataFrame({
        "customer_id": v["customer_id"], "p_alive": v["p_alive"],
        "expected_purchases_90": v["expected_purchases_90"], "expected_purchases_365": v["expected_purchases_365"],
        "clv": v[f"clv_{horizon}"], "one_time_later_share": v["one_time_later_share"],
    })
    merged = customers[["customer_id", "rfm_segment", "cluster_name"]].merge(per_customer, on="customer_id")
    tables = {"segment_value": by_kind(stats.bootstrap_means, merged, ["clv", "p_alive"], seed=seed),
              "value_distribution": pd.concat([distribution(per_customer["clv"], CLV_EDGES, "clv")] + (
                  [distribution(per_customer["p_alive"], P_ALIVE_EDGES, "p_alive")] if value.reliable else []),
                  ignore_index=True),
              "alive_threshold": alive_threshold(v[["customer_id", "frequency", "recency", "T"]].merge(
                                                 customers[["customer_id", "rfm_segment", "cluster_name"]],
                                                 on="customer_id"),
                                             value.purchase_model if value.reliable else None)}
    holdout = value.holdout
    tables["holdout"] = holdout.by_frequency if holdout else pd.DataFrame(
        columns=["frequency_group", "customers", "actual_mean", "predicted_mean", "actual_total", "predicted_total"])
    tables["holdout_comparison"] = (holdout.comparison if holdout and holdout.comparison is not None
                                    else pd.DataFrame(columns=clv.COMPARISON_COLUMNS))
    bg, gg = value.purchase_model, value.gamma_gamma
    figures = {
        "clv_horizon_days": horizon, "discount_rate_monthly": discount_rate, "clv_time_unit": "days",
        "purchase_model": described(bg) if bg else None,
        "purchase_models": {name: described(fit) for name, fit in value.fits.items()},
        "gamma_gamma": {**{k: getattr(gg, k) for k in ("p", "q", "gamma")}, **uncertainty(gg)} if gg else None,
        "spend_frequency_correlation": value.spend_frequency_correlation,
        "holdout_mae": holdout.mae if holdout else np.nan,
        "holdout_beats_naive": holdout.beats_naive if holdout else None,
        "value_model_reliable": value.reliable if bg else None,
        "value_model_doubts": "; ".join(value.doubts),
        "value_predictor": clv.NAIVE[value.naive] if value.naive else (bg.model if bg else None),
        "holdout_cutoff": holdout.cutoff.isoformat() if holdout else None,
        "clv_total": float(np.nansum(per_customer["clv"])),
    }
    return tables, figures, per_customer, tuple(value.warnings)


def described(fit) -> dict:
    """A purchase model's fit as recorded: its name, parameter names and values, log-likelihood
    and uncertainty."""
    return {"model": fit.model, "names": list(fit.names), **{k: getattr(fit, k) for k in (*fit.names, "log_likelihood")},
            **uncertainty(fit)}


def uncertainty(fit) -> dict:
    """A fit's standard errors and 95% intervals per parameter, and the parameters the data do not
    pin down (on the optimiser's bound, or with a standard error larger than the estimate)."""
    return {"std_errors": fit.std_errors, "intervals": {n: list(v) for n, v in fit.intervals.items()},
            "unidentified": list(fit.unidentified)}


def distribution(values: pd.Series, edges: list[float], measure: str) -> pd.DataFrame:
    """Customers per bin [low, high) of `values` (NaN left out): measure, bin, low, high, customers, share."""
    v = values.dropna().to_numpy(dtype=float)
    counts, _ = np.histogram(v, bins=np.asarray(edges, dtype=float))
    low, high = np.asarray(edges[:-1], dtype=float), np.asarray(edges[1:], dtype=float)
    return pd.DataFrame({"measure": measure, "bin": np.arange(len(counts)), "low": low,
                         "high": np.where(np.isinf(high), np.nan, np.minimum(high, 1.0) if measure == "p_alive" else high),
                         "customers": counts.astype("int64"),
                         "share": counts / len(v) if len(v) else np.zeros(len(counts))})


def alive_threshold(summary: pd.DataFrame, fit) -> pd.DataFrame:
    """When to intervene: for each segment's typical repeat customer (median repeat purchase days x,
    days from first to last purchase t_x and age T, among its repeat customers), their probability
    alive now and after how many days without a purchase (counted from their last purchase) the
    purchase model `fit` puts it below 50% (NaN without a fit). One-time buyers are left out (BG/NBD
    keeps them at 1 until they repeat)."""
    rows = []
    for kind, col in KINDS:
        for segment, members in summary.groupby(col, sort=True):
            repeat = members[members["frequency"] > 0]
            row = {"kind": kind, "segment": segment, "repeat_customers": len(repeat), "typical_repeat_days": np.nan,
                   "p_alive_now": np.nan, "days_since_last_now": np.nan, "below_half_after_days": np.nan}
            if fit is not None and len(repeat):
                x, t_x, T = (float(repeat[c].median()) for c in ("frequency", "recency", "T"))
                x = float(np.floor(x + 0.5))  # the model counts whole repeat purchase days
                curve = fit.p_alive(np.full(len(WAIT_GRID), x), np.full(len(WAIT_GRID), t_x), T + WAIT_GRID)
                now = float(fit.p_alive(np.array([x]), np.array([t_x]), np.array([T]))[0])
                # days since last purchase when it first drops below 50% (NaN: not within 10 years)
                below = np.flatnonzero(curve < 0.5)
                after = (T - t_x) + (float(WAIT_GRID[below[0]]) if len(below) else np.nan)
                row.update(typical_repeat_days=x, p_alive_now=now, days_since_last_now=T - t_x,
                           below_half_after_days=after)
            rows.append(row)
    return pd.DataFrame(rows)


def _queries(inputs) -> dict:
    c = inputs.config
    return {"summaries": (value_queries, inputs.lines, inputs.as_of, c.clv_horizon, c.discount_rate)}


@dataclass(frozen=True)
class ValueFigures:
    clv_horizon_days: int
    discount_rate_monthly: float
    clv_time_unit: str                       # the models' time unit: 'days'
    purchase_model: dict | None              # the fit in use (described), None without repeat customers
    purchase_models: dict                    # every fit by model name
    gamma_gamma: dict | None                 # the spend model's fit
    spend_frequency_correlation: float       # Gamma-Gamma assumes about 0
    holdout_mae: float                       # purchase days per customer, last HOLDOUT_DAYS
    holdout_beats_naive: bool | None
    value_model_reliable: bool | None
    value_model_doubts: str                  # why not reliable, in words
    value_predictor: str | None              # what expected purchases come from
    holdout_cutoff: str | None               # ISO date
    clv_total: float                         # over the horizon, all customers


def _result(inputs, queried) -> StudyResult:
    c = inputs.config
    tables, figures, per_customer, warnings = value_tables(
        inputs.lines, inputs.customers, inputs.as_of, c.clv_horizon, c.discount_rate, c.seed,
        queried=queried.last("value.summaries"))
    return StudyResult(tables, ValueFigures(**figures), customer_columns=per_customer, warnings=warnings)


STUDY = Study("value", _result, queries=_queries)
