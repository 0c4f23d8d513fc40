"""Page builders for the statistics, cohorts, products, changes and customer-value views.

Like pages.py: each builder takes the Analysis and returns the template context (charts from
`charts_more`, tables as row dicts with column specs). Sorting, filtering and taking the first
rows for display are the only operations on the tables; every number comes from the analysis.
"""

from __future__ import annotations

import math

from analysis.studies.value import clv
from analysis.studies.products import MIN_SUPPORT
from analysis.studies.changes import ONE_ORDER_QUANTILE
from analysis.result import Analysis
from report import charts_more, downloads
from report.formatters import fmt_days
from report.page_parts import KIND_LABELS, KIND_TITLES, Chart, Column, Kpi, Table, records

KEY_FEATURES = {"monetary": "Revenue", "frequency_orders": "Orders", "recency_days": "Days since last order",
                "avg_order_value": "Avg order value"}
VALUE_FEATURES = {"clv": "CLV", "p_alive": "Probability alive"}
PARAMETER_NAMES = {"alpha": "α (alpha)", "beta": "β (beta)"}
SHOWN_ROWS = 50  # long customer lists: the first rows on the page, the full list as CSV
FEATURE_FMT = {"monetary": "money", "avg_order_value": "money", "frequency_orders": "num",
               "recency_days": "num", "clv": "money", "p_alive": "pct"}


def _kinds(a: Analysis) -> list[tuple[str, str]]:
    seg = a.tables["segments"]
    return [(kind, title) for kind, title in KIND_TITLES.items() if (seg["kind"] == kind).any()]


def _of_kind(table, kind):
    return table[table["kind"] == kind]


def _feature_rows(table, kind, features: dict[str, str]) -> list[dict]:
    """Rows for features in `features` with a display label and a per-row money/number format."""
    part = _of_kind(table, kind)
    part = part[part["feature"].isin(list(features))]
    rows = records(part)
    for row in rows:
        row["feature_label"] = features[row["feature"]]
    return rows


# --- segments page: are the differences real? revenue concentration -----------------------

def segment_statistics(a: Analysis) -> dict:
    t, h, cur = a.tables, a.headline, a.config.currency
    seg = t["segments"]
    boxes, means = [], []
    for kind, title in _kinds(a):
        boxes.append(Chart(f"chart-box-{kind}", charts_more.segment_boxes(
            t["segment_distributions"], seg, kind, KEY_FEATURES, cur),
            f"{title}: quartiles and whiskers per segment, from summaries (no customer points are embedded).",
            Table(f"table-box-{kind}", f"{title}: distribution per segment", (
                Column("segment", "Segment"), Column("feature_label", "Measure"),
                Column("n", "Customers", "int", numeric=True), Column("min", "Min", "num", numeric=True),
                Column("q1", "Lower quartile", "num", numeric=True),
                Column("median", "Median", "num", numeric=True),
                Column("q3", "Upper quartile", "num", numeric=True), Column("max", "Max", "num", numeric=True),
                Column("mean", "Mean", "num", numeric=True)),
                _feature_rows(t["segment_distributions"], kind, KEY_FEATURES))))
        means.append(Chart(f"chart-means-{kind}", charts_more.segment_means_ci(
            t["segment_means"], seg, kind, KEY_FEATURES, cur),
            f"{title}: mean per segment with a bootstrap 95% confidence interval; intervals that do not "
            "overlap point to a real difference.",
            Table(f"table-means-{kind}", f"{title}: means with 95% intervals", (
                Column("segment", "Segment"), Column("feature_label", "Measure"),
                Column("mean", "Mean", "num", numeric=True), Column("ci_low", "From", "num", numeric=True),
                Column("ci_high", "To", "num", numeric=True), Column("n", "Customers", "int", numeric=True)),
                _feature_rows(t["segment_means"], kind, KEY_FEATURES))))
    pareto = t["pareto"]
    return {
        **validation(a),
        "box_charts": boxes,
        "means_charts": means,
        "pairwise_support": MIN_SUPPORT,
        "pairwise_chart": Chart("chart-pairwise-revenue", charts_more.pairwise_effects(t["pairwise_revenue"], cur),
                                "The cluster pairs whose revenue differs most (Mann–Whitney U, Holm-adjusted).",
                                Table("table-pairwise-revenue", "Largest pairwise revenue differences", (
                                    Column("a", "Cluster"), Column("b", "Compared with"),
                                    Column("median_a", "Median revenue", "money0", numeric=True),
                                    Column("median_b", "Median revenue (second)", "money0", numeric=True),
                                    Column("effect", "Rank-biserial effect", "num", numeric=True),
                                    Column("p_holm", "Holm-adjusted p", "pvalue", numeric=True)),
                                    records(t["pairwise_revenue"]))) if len(t["pairwise_revenue"]) else None,
        "gini": h["gini"],
        "pareto_chart": Chart("chart-pareto", charts_more.pareto_bars(pareto),
                              "Share of all revenue brought by the biggest-spending customers.",
                              Table("table-pareto", "Revenue share of the top customers", (
                                  Column("top_share", "Top share of customers", "pct", numeric=True),
                                  Column("revenue_share", "Share of revenue", "pct", numeric=True)),
                                  records(pareto))),
        "lorenz_chart": Chart("chart-lorenz", charts_more.lorenz_curve(t["lorenz"], h["gini"]),
                              "Cumulative share of revenue against cumulative share of customers, lowest "
                              "spenders first; the dashed diagonal is equal spend.",
                              Table("table-lorenz", "Lorenz curve points", (
                                  Column("customer_share", "Share of customers", "pct", numeric=True),
                                  Column("revenue_share", "Share of revenue", "pct", numeric=True)),
                                  records(t["lorenz"]))),
    }


def validation(a: Analysis) -> dict:
    """The next-90-day check of both segmentations (analysis.studies.validation)."""
    t, h = a.tables, a.headline
    summary = t["validation_summary"].assign(kind_label=t["validation_summary"]["kind"].map(KIND_LABELS))
    per_segment = t["validation_segments"].assign(kind_label=t["validation_segments"]["kind"].map(KIND_LABELS))
    return {
        "validation_reason": h.get("recommendation_reason", ""),
        "validation_from": h.get("validation_from"),
        "validation_summary": Table("table-validation", "How well each segmentation told what customers did next", (
            Column("kind_label", "Segmentation"), Column("segments", "Segments", "int", numeric=True),
            Column("customers", "Customers then", "int", numeric=True),
            Column("r2_repeat", "Explains: ordering again", "pct", numeric=True),
            Column("r2_spend", "Explains: spend", "pct", numeric=True),
            Column("separation", "Explains: mean", "pct", numeric=True),
            Column("p_holm", "Chance alone could do this (adjusted p)", "pvalue", numeric=True),
            Column("recommended", "Recommended", "yes")), records(summary)),
        "validation_segments": Table("table-validation-segments", "Next 90 days per segment, as segmented 90 days "
                                     "before the end (95% intervals)", (
            Column("kind_label", "Segmentation"), Column("segment", "Segment then"),
            Column("customers", "Customers", "int", numeric=True),
            Column("repeat_rate", "Ordered again", "pct", numeric=True),
            Column("repeat_low", "from", "pct", numeric=True), Column("repeat_high", "to", "pct", numeric=True),
            Column("spend", "Net spend per customer", "money", numeric=True),
            Column("spend_low", "from", "money", numeric=True), Column("spend_high", "to", "money", numeric=True)),
            records(per_segment.sort_values(["kind", "repeat_rate"], ascending=[False, False], kind="stable"))),
    }


# --- cohorts & retention -------------------------------------------------------------------

def cohorts(a: Analysis) -> dict:
    t, h, cur = a.tables, a.headline, a.config.currency
    cohort_rows = [dict(row, cohort=charts_more.cohort_label(row["cohort_month"], row["already_customers"]))
                   for row in records(t["cohorts"])]
    quartiles = (h["repeat_days_to_second_q1"], h["repeat_days_to_second_median"], h["repeat_days_to_second_q3"])
    return {
        "kpis": [
            Kpi("Repeat customers", h["repeat_customers"], "int", "ordered on two or more occasions"),
            Kpi("Repeat rate", h["repeat_rate"], "pct", "of all customers"),
            Kpi("Median days to second order", h["repeat_days_to_second_median"], "days",
                f"first to second order, {h['repeat_acquired_repeat_customers']:,} repeat customers acquired "
                "after the first month"),
            Kpi("Middle half", (h["repeat_days_to_second_q1"], h["repeat_days_to_second_q3"]), "dayrange",
                "quartiles of days to second order"),
        ],
        "has_cohorts": bool(len(t["cohorts"])),
        "retention_chart": Chart("chart-retention", charts_more.retention_heatmap(t["cohorts"]),
                                 "Each row is the customers whose first order fell in that month; each cell the share "
                                 "of them who ordered that many months later.",
                                 Table("table-retention", "Retention by cohort", (
                                     Column("cohort", "Cohort"),
                                     Column("months_since_first", "Months since first order", "int", numeric=True),
                                     Column("customers", "Customers ordering", "int", numeric=True),
                                     Column("cohort_size", "Cohort size", "int", numeric=True),
                                     Column("retention", "Retention", "pct", numeric=True)), cohort_rows), wide=True),
        "cohort_revenue_chart": Chart("chart-cohort-revenue", charts_more.cohort_revenue_heatmap(t["cohorts"], cur),
                                      "Revenue from each acquisition cohort in each month since its first order.",
                                      Table("table-cohort-revenue", "Revenue by cohort", (
                                          Column("cohort", "Cohort"),
                                          Column("months_since_first", "Months since first order", "int",
                                                 numeric=True),
                                          Column("revenue", "Revenue", "money0", numeric=True)), cohort_rows),
                                      wide=True),
        "second_order_chart": Chart("chart-second-order", charts_more.second_order_histogram(t["second_order"],
                                                                                              quartiles),
                                    "Repeat customers by the days between their first and second order.",
                                    Table("table-second-order", "Days to second order", (
                                        Column("bin", "Days", nowrap=True),
                                        Column("customers", "Repeat customers", "int", numeric=True),
                                        Column("share", "Share", "pct", numeric=True)), records(t["second_order"]))),
        "new_returning_chart": Chart("chart-new-returning",
                                     charts_more.new_vs_returning_bars(t["new_vs_returning"], cur),
                                     "Each month's revenue split between customers new that month and returning ones.",
                                     Table("table-new-returning", "New and returning revenue per month", (
                                         Column("month", "Month", "month"),
                                         Column("new_revenue", "New customers' revenue", "money0", numeric=True),
                                         Column("returning_revenue", "Returning customers' revenue", "money0",
                                                numeric=True),
                                         Column("new_customers", "New customers", "int", numeric=True),
                                         Column("returning_customers", "Returning customers", "int", numeric=True)),
                                         records(t["new_vs_returning"]))),
    }


# --- products ------------------------------------------------------------------------------

def products(a: Analysis) -> dict:
    t, h = a.tables, a.headline
    seg = t["segments"]
    affinity, mix = [], []
    for kind, title in _kinds(a):
        part = _of_kind(t["segment_affinity"], kind).sort_values(["segment", "rank"], kind="stable")
        affinity.append({"kind": kind, "title": title, "chart": Chart(
            f"chart-affinity-{kind}", charts_more.affinity_bars(t["segment_affinity"], seg, kind),
            f"{title}: the three products per segment with the highest lift; the table lists up to "
            f"{a.config.top_n} per segment.",
            Table(f"table-affinity-{kind}", f"{title}: over-represented products", (
                Column("segment", "Segment"), Column("rank", "#", "int", numeric=True),
                Column("product_name", "Product"), Column("product_id", "Code", nowrap=True),
                Column("lift", "Lift", "num", numeric=True),
                Column("segment_revenue_share", "Share of segment revenue", "pct", numeric=True),
                Column("all_revenue_share", "Share of all revenue", "pct", numeric=True),
                Column("customers", "Customers", "int", numeric=True),
                Column("q_value", "Adjusted p (q)", "pvalue", numeric=True)), records(part))) if len(part) else None})
        mpart = _of_kind(t["category_mix"], kind)
        if len(mpart):
            mix.append(Chart(f"chart-category-mix-{kind}", charts_more.category_mix_bars(t["category_mix"], seg, kind),
                             f"{title}: each segment's revenue split by product category.",
                             Table(f"table-category-mix-{kind}", f"{title}: category mix", (
                                 Column("segment", "Segment"), Column("category", "Category"),
                                 Column("revenue", "Revenue", "money0", numeric=True),
                                 Column("share", "Share", "pct", numeric=True)), records(mpart))))
    fp = t["first_purchase"]
    return {
        "affinity": affinity,
        "affinity_support": MIN_SUPPORT,
        "mix_charts": mix,
        "first_purchase_by": h["first_purchase_by"],
        "first_purchase_tested": len(fp),
        "first_purchase_standing": h["first_purchase_standing"],
        "first_purchase_support": MIN_SUPPORT,
        "first_purchase_chart": Chart(
            "chart-first-purchase", charts_more.first_purchase_bars(fp),
            "Share of customers who ordered again, by what their first order held, against all eligible customers.",
            Table("table-first-purchase", "First-purchase predictors of a second order", (
                Column("name", "Category" if h["first_purchase_by"] == "category" else "Product"),
                Column("customers", "Customers", "int", numeric=True),
                Column("repeat_customers", "Ordered again", "int", numeric=True),
                Column("repeat_rate", "Repeat rate", "pct", numeric=True),
                Column("overall_repeat_rate", "All eligible", "pct", numeric=True),
                Column("lift", "Lift", "num", numeric=True), Column("p_value", "p", "pvalue", numeric=True),
                Column("q_value", "Adjusted p (q)", "pvalue", numeric=True)),
                records(fp.sort_values("repeat_rate", ascending=False, kind="stable")))) if len(fp) else None,
    }


# --- changes -------------------------------------------------------------------------------

MOVER_COLUMNS = (Column("customer_id", "Customer", nowrap=True), Column("from_segment", "Was"),
                 Column("to_segment", "Now"), Column("monetary", "Revenue", "money0", numeric=True),
                 Column("recency_days", "Days since last order", "int", numeric=True))


def _why_at_risk(row: dict) -> str:
    """Why a customer is on the contact list, in words: their last order against the gap expected."""
    last = f"last order {fmt_days(row['days_since_any_order'])} ago"
    if row["own_rhythm"]:
        return f"ordered on {row['order_days']:,} days, about every {fmt_days(row['expected_gap_days'])}; {last}"
    return (f"ordered on {fmt_days(row['order_days'])}; {ONE_ORDER_QUANTILE:.0%} of customers who come back do so "
            f"within {fmt_days(row['expected_gap_days'])}; {last}")


def changes(a: Analysis) -> dict:
    t, h, cur = a.tables, a.headline, a.config.currency
    seg = t["segments"]
    movers = t["movers"]
    at_risk = downloads.at_risk_customers(a)
    risk_charts = []
    for kind, title in _kinds(a):
        part = _of_kind(t["revenue_at_risk"], kind).sort_values("value_at_risk", ascending=False, kind="stable")
        risk_charts.append(Chart(f"chart-at-risk-{kind}",
                                 charts_more.revenue_at_risk_bars(t["revenue_at_risk"], seg, kind, cur),
                                 f"{title}: a year's spend of the customers overdue for their next order.",
                                 Table(f"table-at-risk-{kind}", f"{title}: value at risk and what to do", (
                                     Column("segment", "Segment"),
                                     Column("customers_at_risk", "Customers at risk", "int", numeric=True),
                                     Column("customers", "Customers", "int", numeric=True),
                                     Column("value_at_risk", "Value at risk", "money0", numeric=True),
                                     Column("share_of_value_at_risk", "Share of the total", "pct", numeric=True),
                                     Column("action", "Action")), records(part))))
    return {
        "kpis": [
            Kpi("Compared with", h["change_from"], "date", f"{h['change_days']} days before the analysis date"),
            Kpi("Moved into a lapsing segment", len(movers), "int", "customers (see the list below)"),
            Kpi("Customers at risk", h["customers_at_risk"], "int", "overdue for their next order"),
            Kpi("Value at risk", h["value_at_risk"], "money0", "a year: at most what they spent in the last 365 days"),
        ],
        "change_from": h["change_from"],
        "change_days": h["change_days"],
        "transition_chart": Chart("chart-transitions",
                                  charts_more.transition_heatmap(t["transitions"], seg, h["change_from"]),
                                  f"Customers by RFM segment {h['change_days']} days ago (rows) and now (columns).",
                                  Table("table-transitions", "Customers per segment change", (
                                      Column("from_segment", "Before"), Column("to_segment", "Now"),
                                      Column("customers", "Customers", "int", numeric=True),
                                      Column("revenue_after", "Revenue since", "money0", numeric=True)),
                                      records(t["transitions"])), wide=True),
        "movers": Table("table-movers", f"Movers into lapsing segments, most revenue first (first {SHOWN_ROWS})",
                        MOVER_COLUMNS, records(movers.head(SHOWN_ROWS))),
        "movers_count": len(movers),
        "risk_charts": risk_charts,
        "at_risk": Table("table-at-risk-customers", f"Highest-value customers at risk (first {SHOWN_ROWS})", (
            Column("customer_id", "Customer", nowrap=True), Column("rfm_segment", "RFM segment"),
            Column("value_at_risk", "Value at risk", "money0", numeric=True),
            Column("revenue_last_365_days", "Spent in the last year", "money0", numeric=True),
            Column("why", "Why now")),
            [dict(row, why=_why_at_risk(row)) for row in records(at_risk.head(SHOWN_ROWS))]),
        "at_risk_count": len(at_risk),
    }


# --- customer value ------------------------------------------------------------------------

def value(a: Analysis) -> dict:
    t, h, cur = a.tables, a.headline, a.config.currency
    seg = t["segments"]
    bg, gg = h["purchase_model"], h["gamma_gamma"]
    reliable = h.get("value_model_reliable") is not False
    features = VALUE_FEATURES if reliable else {"clv": VALUE_FEATURES["clv"]}
    clv_charts = []
    for kind, title in _kinds(a):
        clv_charts.append(Chart(f"chart-clv-{kind}", charts_more.segment_means_ci(
            t["segment_value"], seg, kind, features, cur,
            title=f"Customer value per {'RFM segment' if kind == 'rfm' else 'behaviour cluster'}",
            subtitle=f"Mean over the next {h['clv_horizon_days']} days · line: bootstrap 95% interval"
                     + ("; pick CLV or probability alive" if reliable else " · naive forecast")),
            f"{title}: mean CLV" + (" and probability alive" if reliable else "")
            + " per segment with bootstrap 95% intervals.",
            Table(f"table-clv-{kind}", f"{title}: customer value", (
                Column("segment", "Segment"), Column("feature_label", "Measure"),
                Column("mean", "Mean", "num", numeric=True), Column("ci_low", "From", "num", numeric=True),
                Column("ci_high", "To", "num", numeric=True), Column("n", "Customers", "int", numeric=True)),
                _feature_rows(t["segment_value"], kind, features))))
    params = []
    shape, days = "shape (no unit)", h["clv_time_unit"]
    models = [(name + (" (in use)" if bg and name == bg["model"] else " (not used)"), fit,
               tuple((n, PARAMETER_NAMES.get(n, n), days if n in ("alpha", "beta") else shape) for n in fit["names"]))
              for name, fit in (h.get("purchase_models") or {}).items()]
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
    top = downloads.top_clv_customers(a)
    disagreements = downloads.alive_disagreements(a) if reliable else top.head(0)
    dist = t["value_distribution"]
    distribution_charts = [
        Chart(f"chart-{m.replace('_', '-')}-distribution", charts_more.value_histogram(dist, m, cur),
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
            Kpi(f"Total CLV, next {h['clv_horizon_days']} days", h["clv_total"], "money0",
                f"discounted, all customers ({h['value_predictor']})" if reliable
                else f"purchase model NOT RELIABLE on this data: naive forecast '{h['value_predictor']}' instead"),
            Kpi("Holdout error (MAE)", h["holdout_mae"], "num",
                f"purchase days per customer ({bg['model']})" if bg else "purchase days per customer"),
            Kpi("Spend–frequency correlation", h["spend_frequency_correlation"], "num",
                "Gamma–Gamma assumes about 0"),
            Kpi("Monthly discount rate", h["discount_rate_monthly"], "pct"),
        ],
        "h": h,
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
        "holdout_chart": Chart("chart-holdout", charts_more.holdout_bars(holdout, h["holdout_cutoff"],
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
            Column("monetary", "Revenue so far", "money0", numeric=True)), records(top.head(SHOWN_ROWS))),
        "disagreements": Table("table-disagreements",
                               f"RFM segment and probability alive disagree (first {SHOWN_ROWS})", (
                                   Column("customer_id", "Customer", nowrap=True),
                                   Column("disagreement", "Disagreement"), Column("rfm_segment", "RFM segment"),
                                   Column("p_alive", "P(alive)", "pct", numeric=True),
                                   Column("frequency_orders", "Orders", "int", numeric=True),
                                   Column("recency_days", "Days since last order", "int", numeric=True),
                                   Column("clv", "CLV", "money0", numeric=True)),
                               records(disagreements.head(SHOWN_ROWS))),
        "disagreement_count": len(disagreements),
        "alive_high": clv.ALIVE_HIGH,
        "alive_low": clv.ALIVE_LOW,
    }
