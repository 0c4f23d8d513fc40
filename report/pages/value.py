"""The customer-value page."""

from __future__ import annotations

import math

from analysis.result import Analysis
from analysis.studies.value import clv
from report import downloads
from report.charts import value as charts
from report.charts.segments import segment_means_ci
from report.pages.parts import (Chart, Column, Kpi, SHOWN_ROWS, Table, VALUE_FEATURES, feature_rows, kinds_present,
                                records, segments)

PARAMETER_NAMES = {"alpha": "α (alpha)", "beta": "β (beta)"}


def value(a: Analysis) -> dict:
    t, cur = a.tables, a.config.currency
    seg = segments(a)
    bg, gg = a.value.purchase_model, a.value.gamma_gamma
    reliable = a.value.value_model_reliable is not False
    features = VALUE_FEATURES if reliable else {"clv": VALUE_FEATURES["clv"]}
    clv_charts = []
    for kind, title in kinds_present(a):
        clv_charts.append(Chart(f"chart-clv-{kind}", segment_means_ci(
            t["segment_value"], seg, kind, features, cur,
            title=f"Customer value per {'RFM segment' if kind == 'rfm' else 'behaviour cluster'}",
            subtitle=f"Mean over the next {a.value.clv_horizon_days} days · line: bootstrap 95% interval"
                     + ("; pick CLV or probability alive" if reliable else " · naive forecast")),
            f"{title}: mean CLV" + (" and probability alive" if reliable else "")
            + " per segment with bootstrap 95% intervals.",
            Table(f"table-clv-{kind}", f"{title}: customer value", (
                Column("segment", "Segment"), Column("feature_label", "Measure"),
                Column("mean", "Mean", "num", numeric=True), Column("ci_low", "From", "num", numeric=True),
                Column("ci_high", "To", "num", numeric=True), Column("n", "Customers", "int", numeric=True)),
                feature_rows(t["segment_value"], kind, features))))
    params = []
    shape, days = "shape (no unit)", a.value.clv_time_unit
    models = [(name + (" (in use)" if bg and name == bg["model"] else " (not used)"), fit,
               tuple((n, PARAMETER_NAMES.get(n, n), days if n in ("alpha", "beta") else shape) for n in fit["names"]))
              for name, fit in (a.value.purchase_models or {}).items()]
    for model, fit, rows in (*models, ("Gamma–Gamma", gg, (("p", "p", shape), ("q", "q", shape),
                                                        ("gamma", "γ (gamma)", f"money ({cur})" if cur else "money")))):
        if not fit:
            continue
        for key, name, unit in rows:
            low, high = fit.get("intervals", {}).get(key, (math.nan, math.nan))
            params.append({"model": model, "name": name, "value": fit[key],
                           "std_error": fit.get("std_errors", {}).get(key, math.nan),
                           "low": low, "high": high, "unit": unit,
                           "identified": "no" if key in fit.get("unidentified", ()) else "yes"})
        if fit is not gg:
            params.append({"model": model, "name": "log-likelihood", "value": fit["log_likelihood"],
                           "std_error": math.nan, "low": math.nan, "high": math.nan, "identified": "", "unit": ""})
    top = downloads.top_clv_customers(a, SHOWN_ROWS)
    # none when the model is not reliable: P(alive) is withheld
    disagreements = downloads.alive_disagreements(a, SHOWN_ROWS)
    dist = t["value_distribution"]
    distribution_charts = [
        Chart(f"chart-{m.replace('_', '-')}-distribution", charts.value_histogram(dist, m, cur),
              f"Customers per band of {'CLV' if m == 'clv' else 'probability alive'}.",
              Table(f"table-{m.replace('_', '-')}-distribution", "Customers per band", (
                  Column("low", "From", "num", numeric=True), Column("high", "To", "num", numeric=True),
                  Column("customers", "Customers", "int", numeric=True), Column("share", "Share", "pct", numeric=True)),
                  records(dist[dist["measure"] == m].sort_values("bin"))))
        for m in ("clv", "p_alive") if (dist["measure"] == m).any()]
    order = {name: i for i, name in enumerate(seg["segment"])}
    threshold = t["alive_threshold"].assign(_o=t["alive_threshold"]["segment"].map(order)).sort_values(
        ["kind", "_o"], ascending=[False, True])
    holdout = t["holdout"]
    return {
        "kpis": [
            Kpi(f"Total CLV, next {a.value.clv_horizon_days} days", a.value.clv_total, "money0",
                f"discounted, all customers ({a.value.value_predictor})" if reliable
                else f"purchase model NOT RELIABLE on this data: naive forecast '{a.value.value_predictor}' instead"),
            Kpi("Holdout error (MAE)", a.value.holdout_mae, "num",
                f"purchase days per customer ({bg['model']})" if bg else "purchase days per customer"),
            Kpi("Spend–frequency correlation", a.value.spend_frequency_correlation, "num",
                "Gamma–Gamma assumes about 0"),
            Kpi("Monthly discount rate", a.value.discount_rate_monthly, "pct"),
        ],
        "figures": a.value,
        "has_models": bool(bg),
        "reliable": reliable,
        "params": Table("table-model-parameters", "Fitted model parameters (time in days)", (
            Column("model", "Model"), Column("name", "Parameter"), Column("value", "Value", "num3", numeric=True),
            Column("std_error", "Standard error", "num3", numeric=True), Column("low", "95% from", "num3", numeric=True),
            Column("high", "95% to", "num3", numeric=True), Column("identified", "Pinned down by the data"),
            Column("unit", "Unit")), params),
        "clv_charts": clv_charts,
        "distribution_charts": distribution_charts,
        "threshold": Table("table-alive-threshold", "When each segment's typical repeat customer drops below "
                           "50% probability alive", (
            Column("kind_label", "Kind"), Column("segment", "Segment"),
            Column("repeat_customers", "Repeat customers", "int", numeric=True),
            Column("typical_repeat_days", "Typical repeat purchase days", "num", numeric=True),
            Column("p_alive_now", "P(alive) now", "pct", numeric=True),
            Column("days_since_last_now", "Days since last purchase now", "int", numeric=True),
            Column("below_half_after_days", "Below 50% after (days since last purchase)", "int", numeric=True)),
            records(threshold.assign(kind_label=threshold["kind"].map({"rfm": "RFM segment",
                                                                      "cluster": "Cluster"})))),
        "holdout_chart": Chart("chart-holdout", charts.holdout_bars(holdout, a.value.holdout_cutoff,
                                                                           (bg or {}).get("model", "BG/NBD")),
                               "Mean purchase days per customer after the cutoff: actual next to what a model fitted "
                               "on the data before the cutoff predicted.",
                               Table("table-holdout", "Holdout check per frequency group", (
                                   Column("frequency_group", "Repeat purchases before"),
                                   Column("customers", "Customers", "int", numeric=True),
                                   Column("actual_mean", "Actual (mean)", "num", numeric=True),
                                   Column("predicted_mean", "Predicted (mean)", "num", numeric=True),
                                   Column("actual_total", "Actual (total)", "int", numeric=True),
                                   Column("predicted_total", "Predicted (total)", "num", numeric=True)),
                                   records(holdout))) if len(holdout) else None,
        "comparison": Table("table-holdout-comparison", "The model against naive predictors on the holdout", (
            Column("predictor", "Predictor"),
            Column("mae", "Mean error per customer (purchase days)", "num3", numeric=True),
            Column("predicted_total", "Predicted purchase days", "int", numeric=True),
            Column("actual_total", "Actual purchase days", "int", numeric=True),
            Column("total_error", "Total off by", "pct", numeric=True)),
            records(t["holdout_comparison"])) if len(t.get("holdout_comparison", [])) else None,
        "top_clv": Table("table-top-clv", f"Customers with the highest CLV (first {SHOWN_ROWS})", (
            Column("customer_id", "Customer", nowrap=True), Column("rfm_segment", "RFM segment"),
            Column("cluster_name", "Cluster"), Column("clv", "CLV", "money0", numeric=True),
            *([Column("p_alive", "P(alive)", "pct", numeric=True)] if reliable else []),
            Column("expected_purchases_365", "Expected purchases, next year", "num", numeric=True),
            Column("monetary", "Revenue so far", "money0", numeric=True)), records(top)),
        "disagreements": Table("table-disagreements",
                               f"RFM segment and probability alive disagree (first {SHOWN_ROWS})", (
                                   Column("customer_id", "Customer", nowrap=True),
                                   Column("disagreement", "Disagreement"), Column("rfm_segment", "RFM segment"),
                                   Column("p_alive", "P(alive)", "pct", numeric=True),
                                   Column("frequency_orders", "Orders", "int", numeric=True),
                                   Column("recency_days", "Days since last order", "int", numeric=True),
                                   Column("clv", "CLV", "money0", numeric=True)),
                               records(disagreements)),
        "disagreement_count": downloads.list_length(a, "disagreements"),
        "alive_high": clv.ALIVE_HIGH,
        "alive_low": clv.ALIVE_LOW,
    }
