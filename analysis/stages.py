"""The later stages: statistics, cohorts, products, changes and customer value.

Each takes what the earlier stages made (kept lines, the customers table, segment profiles) and
returns named tables for Analysis.tables plus headline figures. run_analysis calls them in order.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis import affinity, clv, cohorts, stats, transitions

KEY_FEATURES = {"recency_days": "Days since last order", "frequency_orders": "Orders",
                "monetary": "Revenue", "avg_order_value": "Average order value"}
KINDS = (("rfm", "rfm_segment"), ("cluster", "cluster_name"))
CHANGE_DAYS = 90  # segment membership is compared with this many days before the as-of date


def _by_kind(fn, customers: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
    """Run a per-segment statistic for both kinds of segment, stacked with a `kind` column."""
    parts = [fn(customers, col, *args, **kwargs).assign(kind=kind) for kind, col in KINDS]
    out = pd.concat(parts, ignore_index=True)
    return out[["kind", *[c for c in out.columns if c != "kind"]]]


def statistics(customers: pd.DataFrame, seed: int) -> tuple[dict, dict]:
    """Kruskal-Wallis per feature, box-plot summaries, bootstrap CIs of means, the largest pairwise
    differences in revenue between clusters, and revenue concentration (Pareto, Lorenz, Gini)."""
    conc = stats.concentration(customers["monetary"])
    pairwise = stats.pairwise_differences(customers, "cluster_name", "monetary", max_pairs=15, seed=seed)
    tables = {
        "segment_tests": _by_kind(stats.kruskal_by_segment, customers, KEY_FEATURES),
        "segment_distributions": _by_kind(stats.distribution_summary, customers, list(KEY_FEATURES)),
        "segment_means": _by_kind(stats.bootstrap_means, customers, list(KEY_FEATURES), seed=seed),
        "pairwise_revenue": pairwise,
        "pareto": conc.pareto,
        "lorenz": conc.lorenz,
    }
    return tables, {"gini": float(conc.gini)}


def cohort_tables(lines) -> tuple[dict, dict]:
    """Monthly acquisition cohorts, repeat purchase and time to second order, new vs returning."""
    repeat = cohorts.repeat_summary(lines)
    tables = {"cohorts": cohorts.cohort_retention(lines), "second_order": repeat.histogram,
              "new_vs_returning": cohorts.new_vs_returning(lines)}
    return tables, {f"repeat_{k}" if not k.startswith("repeat") else k: v for k, v in repeat.figures.items()}


def product_tables(lines, customers: pd.DataFrame, top_n: int) -> tuple[dict, dict]:
    """Products over-represented per segment (lift), category mix, and first-purchase predictors of
    becoming a repeat customer (by category when the data has categories, else by product)."""
    assignments = affinity.assignments_from(customers)
    mix = affinity.category_mix(lines, assignments)
    by = "category" if len(mix) else "product"
    predictors = affinity.first_purchase_predictors(lines, by=by)
    tables = {"segment_affinity": affinity.segment_affinity(lines, assignments, top_n=top_n),
              "category_mix": mix, "first_purchase": predictors.assign(by=by)}
    return tables, {"first_purchase_by": by}


def change_tables(lines, returns, customers: pd.DataFrame, segments: pd.DataFrame, as_of: dt.date,
                  rules) -> tuple[dict, dict, pd.DataFrame]:
    """Segment membership CHANGE_DAYS earlier vs now, who moved into a lapsing segment, and revenue
    at risk per segment. Also returns the per-customer at-risk columns for the customers table."""
    earlier = as_of - dt.timedelta(days=CHANGE_DAYS)
    before = transitions.segments_at(lines, returns, earlier, rules)
    second = transitions.days_to_second_order(lines)
    per_customer, per_segment = transitions.revenue_at_risk(customers, segments, second_order_days=second)
    tables = {"transitions": transitions.transition_matrix(before, customers),
              "movers": transitions.movers(before, customers, customers),
              "revenue_at_risk": per_segment}
    figures = {"change_from": earlier.isoformat(), "change_days": CHANGE_DAYS,
               "customers_at_risk": int(per_customer["at_risk"].sum()),
               "value_at_risk": float(per_customer["value_at_risk"].sum())}
    risk = per_customer[["customer_id", "at_risk", "value_at_risk"]]
    return tables, figures, risk


def value_tables(lines, customers: pd.DataFrame, as_of: dt.date, horizon: int, discount_rate: float,
                 seed: int) -> tuple[dict, dict, pd.DataFrame, tuple[str, ...]]:
    """BG/NBD + Gamma-Gamma customer value: per-customer columns, CLV per segment with bootstrap
    intervals, the holdout check, and the fitted parameters (time unit: days)."""
    value = clv.customer_value(lines, as_of, horizons=tuple(sorted({90, 365, horizon})),
                               discount_rate=discount_rate, holdout_days=90)
    v = value.customers
    per_customer = pd.DataFrame({
        "customer_id": v["customer_id"], "p_alive": v["p_alive"],
        "expected_purchases_90": v["expected_purchases_90"], "expected_purchases_365": v["expected_purchases_365"],
        "clv": v[f"clv_{horizon}"], "one_time_later_share": v["one_time_later_share"],
    })
    merged = customers[["customer_id", "rfm_segment", "cluster_name"]].merge(per_customer, on="customer_id")
    tables = {"segment_value": _by_kind(stats.bootstrap_means, merged, ["clv", "p_alive"], seed=seed)}
    holdout = value.holdout
    tables["holdout"] = holdout.by_frequency if holdout else pd.DataFrame(
        columns=["frequency_group", "customers", "actual_mean", "predicted_mean", "actual_total", "predicted_total"])
    bg, gg = value.bgnbd, value.gamma_gamma
    figures = {
        "clv_horizon_days": horizon, "discount_rate_monthly": discount_rate, "clv_time_unit": "days",
        "bgnbd": {k: getattr(bg, k) for k in ("r", "alpha", "a", "b", "log_likelihood")} if bg else None,
        "gamma_gamma": {k: getattr(gg, k) for k in ("p", "q", "gamma")} if gg else None,
        "spend_frequency_correlation": value.spend_frequency_correlation,
        "holdout_mae": holdout.mae if holdout else np.nan,
        "holdout_cutoff": holdout.cutoff.isoformat() if holdout else None,
        "clv_total": float(np.nansum(per_customer["clv"])),
    }
    return tables, figures, per_customer, tuple(value.warnings)
