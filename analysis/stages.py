"""The later stages: statistics, cohorts, products, changes and customer value.

Each takes what the earlier stages made (kept lines, the customers table, segment profiles) and
returns named tables for Analysis.tables plus headline figures. run_analysis calls them in order.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from analysis import affinity, clv, cohorts, derived, engine, stats, transitions, validation

KEY_FEATURES = {"recency_days": "Days since last order", "frequency_orders": "Orders",
                "monetary": "Revenue", "avg_order_value": "Average order value"}
KINDS = (("rfm", "rfm_segment"), ("cluster", "cluster_name"))
# segment membership is compared with this many days before the as-of date (the validation's day)
CHANGE_DAYS = validation.WINDOW_DAYS
HOLDOUT_DAYS = 90  # the value model is checked on predicting this many last days
CLV_EDGES = [0, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, np.inf]
P_ALIVE_EDGES = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0 + 1e-9]
WAIT_GRID = np.arange(0, 3651)  # days of further silence tried when looking for the 50% point


def _by_kind(fn, customers: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
    """Run a per-segment statistic for both kinds of segment, stacked with a `kind` column."""
    parts = [fn(customers, col, *args, **kwargs).assign(kind=kind) for kind, col in KINDS]
    out = pd.concat(parts, ignore_index=True)
    return out[["kind", *[c for c in out.columns if c != "kind"]]]


def statistics(customers: pd.DataFrame, seed: int) -> tuple[dict, dict]:
    """Box-plot summaries, bootstrap CIs of means, the largest pairwise differences in revenue
    between clusters, and revenue concentration (Pareto, Lorenz, Gini). (Whether segments differ
    in what defines them is not tested: they do by construction. See validation_tables.)"""
    conc = stats.concentration(customers["monetary"])
    pairwise = stats.pairwise_differences(customers, "cluster_name", "monetary", max_pairs=15, seed=seed,
                                          min_group=affinity.MIN_SUPPORT)
    tables = {
        "segment_distributions": _by_kind(stats.distribution_summary, customers, list(KEY_FEATURES)),
        "segment_means": _by_kind(stats.bootstrap_means, customers, list(KEY_FEATURES), seed=seed),
        "pairwise_revenue": pairwise,
        "pareto": conc.pareto,
        "lorenz": conc.lorenz,
    }
    return tables, {"gini": float(conc.gini)}


def validation_tables(queried: dict, rfm_then: pd.DataFrame, clustering, as_of: dt.date,
                      seed: int) -> tuple[dict, dict]:
    """Both segmentations as of validation.WINDOW_DAYS before the as-of date, against what their
    customers did next (see analysis.validation). `queried`: validation.queries(...); `rfm_then`:
    RFM segments on that day (change_queries: the same day, as CHANGE_DAYS == WINDOW_DAYS)."""
    from analysis import cluster, profiles

    then, nxt = queried["features"], queried["next"]
    cut = validation.cutoff(as_of).isoformat()
    if len(then) < cluster.MIN_CUSTOMERS or rfm_then.empty or nxt.empty:
        empty = {name: pd.DataFrame(columns=cols) for name, cols in
                 (("validation_segments", validation.SEGMENT_COLUMNS), ("validation_summary", validation.SUMMARY_COLUMNS))}
        return empty, {"validation_from": cut, "recommended_segmentation": None, "recommendation_reason": "",
                       "separation_difference": float("nan"), "separation_difference_low": float("nan"),
                       "separation_difference_high": float("nan")}
    by_kind = {"rfm": validation.outcomes(rfm_then.rename(columns={"rfm_segment": "segment"})[["customer_id", "segment"]],
                                          nxt)}
    if clustering.k > 1 and len(then) >= cluster.MIN_CUSTOMERS:
        earlier = cluster.choose_clusters(then, seed=seed, k=clustering.k, measure_stability=False)
        names = profiles.cluster_names(earlier.labels, cluster.shown_values(then), then["frequency_orders"])
        labels = pd.Series(earlier.labels, index=then.index).map(names)
        by_kind["cluster"] = validation.outcomes(pd.DataFrame({"customer_id": then["customer_id"], "segment": labels}),
                                                 nxt)
    segments, summary, figures = validation.compare(by_kind, seed)
    figures["validation_from"] = cut
    return {"validation_segments": segments, "validation_summary": summary}, figures


def cohort_queries(lines) -> dict:
    """The engine's part of cohort_tables (and of change_tables' days to second order): customers
    and revenue per cohort and month, days from first to second order per customer."""
    return {"months": cohorts.cohort_months(lines), "days": cohorts.customer_days_to_second(lines)}


def cohort_tables(lines, queried: dict | None = None, start: dt.date | None = None) -> tuple[dict, dict]:
    """Monthly acquisition cohorts, repeat purchase and time to second order, new vs returning.
    `queried`: cohort_queries(lines), when already run; `start`: the data's first day (customers
    first seen in its month were customers already: see analysis.cohorts)."""
    queried = queried if queried is not None else cohort_queries(lines)
    repeat = cohorts.repeat_summary(lines, queried["days"], start)
    tables = {"cohorts": cohorts.cohort_retention(lines, queried["months"], start), "second_order": repeat.histogram,
              "new_vs_returning": cohorts.new_vs_returning(lines, queried["months"], start)}
    return tables, {f"repeat_{k}" if not k.startswith("repeat") else k: v for k, v in repeat.figures.items()}


def first_purchase(lines) -> pd.DataFrame:
    """First-purchase predictors of becoming a repeat customer, by category when the lines have
    categories, else by product (column `by`). Engine work only: it can run in the background."""
    has_categories = bool(engine.execute(lines.filter(lines.category.notnull()).limit(1).count()))
    by = "category" if has_categories else "product"
    return affinity.first_purchase_predictors(lines, by=by).assign(by=by)


def product_tables(lines, customers: pd.DataFrame, top_n: int, totals: pd.DataFrame | None = None,
                   mix: pd.DataFrame | None = None, first: pd.DataFrame | None = None) -> tuple[dict, dict]:
    """Products over-represented per segment (lift), category mix, and first-purchase predictors of
    becoming a repeat customer (see first_purchase). `totals` (affinity.segment_product_totals),
    `mix` (affinity.category_mix) and `first` (first_purchase): when already computed."""
    assignments = affinity.assignments_from(customers)
    if totals is None:
        totals = affinity.segment_product_totals(lines, assignments)
    if mix is None:
        mix = affinity.category_mix(lines, assignments)
    if first is None:
        first = first_purchase(lines)
    by = "category" if len(mix) else "product"
    tables = {"segment_affinity": affinity.affinity_from_totals(totals, assignments, top_n=top_n),
              "category_mix": mix, "first_purchase": first}
    return tables, {"first_purchase_by": by,
                    "first_purchase_standing": int((first["q_value"] < affinity.SIGNIFICANCE).sum()) if len(first) else 0}


def change_queries(lines, as_of: dt.date, rules) -> pd.DataFrame:
    """The engine's part of change_tables: RFM segments CHANGE_DAYS before `as_of`
    (transitions.segments_at)."""
    return transitions.segments_at(lines, as_of - dt.timedelta(days=CHANGE_DAYS), rules)


def change_tables(lines, customers: pd.DataFrame, segments: pd.DataFrame, as_of: dt.date, rules,
                  before: pd.DataFrame | None = None, days: pd.DataFrame | None = None,
                  start: dt.date | None = None) -> tuple[dict, dict, pd.DataFrame]:
    """Segment membership CHANGE_DAYS earlier vs now, who moved into a lapsing segment, and revenue
    at risk per segment. Also returns the per-customer at-risk columns for the customers table.
    `before` (change_queries) and `days` (cohorts.customer_days_to_second): when already run;
    `start`: the data's first day (see cohort_tables)."""
    earlier = as_of - dt.timedelta(days=CHANGE_DAYS)
    before = before if before is not None else change_queries(lines, as_of, rules)
    second = transitions.days_to_second_order(lines, days, start)
    per_customer, per_segment = transitions.revenue_at_risk(customers, segments, second_order_days=second)
    tables = {"transitions": transitions.transition_matrix(before, customers),
              "movers": transitions.movers(before, customers, customers),
              "revenue_at_risk": per_segment}
    figures = {"change_from": earlier.isoformat(), "change_days": CHANGE_DAYS,
               "customers_at_risk": int(per_customer["at_risk"].sum()),
               "value_at_risk": float(per_customer["value_at_risk"].sum())}
    risk = per_customer[["customer_id", "at_risk", "own_rhythm", "expected_gap_days", "overdue_days", "value_at_risk"]]
    return tables, figures, risk


def value_queries(lines, as_of: dt.date) -> tuple:
    """The engine's part of value_tables: clv.value_summaries of the orders."""
    return clv.value_summaries(derived.orders(lines), as_of, HOLDOUT_DAYS)


def value_tables(lines, customers: pd.DataFrame, as_of: dt.date, horizon: int, discount_rate: float,
                 seed: int, queried: tuple | None = None) -> tuple[dict, dict, pd.DataFrame, tuple[str, ...]]:
    """Purchase model + Gamma-Gamma customer value: per-customer columns, CLV per segment with bootstrap
    intervals, the holdout check, and the fitted parameters (time unit: days).
    `queried`: value_queries(lines, as_of), when already run."""
    value = clv.customer_value(derived.orders(lines), as_of, horizons=tuple(sorted({90, 365, horizon})),
                               discount_rate=discount_rate, holdout_days=HOLDOUT_DAYS, summaries=queried)
    v = value.customers
    per_customer = pd.DataFrame({
        "customer_id": v["customer_id"], "p_alive": v["p_alive"],
        "expected_purchases_90": v["expected_purchases_90"], "expected_purchases_365": v["expected_purchases_365"],
        "clv": v[f"clv_{horizon}"], "one_time_later_share": v["one_time_later_share"],
    })
    merged = customers[["customer_id", "rfm_segment", "cluster_name"]].merge(per_customer, on="customer_id")
    tables = {"segment_value": _by_kind(stats.bootstrap_means, merged, ["clv", "p_alive"], seed=seed),
              "value_distribution": pd.concat([distribution(per_customer["clv"], CLV_EDGES, "clv")] + (
                  [distribution(per_customer["p_alive"], P_ALIVE_EDGES, "p_alive")] if value.reliable else []),
                  ignore_index=True),
              "alive_threshold": alive_threshold(v.merge(customers[["customer_id", "rfm_segment", "cluster_name"]],
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
