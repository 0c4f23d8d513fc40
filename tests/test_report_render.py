"""The site writer: pages, links, escaping, downloads, determinism and safe replacement.

Built from a tiny hand-made Analysis (tables follow schema.TABLES exactly) so the tests run in
about a second; one test also builds a site end to end from the shared tiny transactions file.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import math
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import analysis
from analysis.schema import TABLES
from analysis.config import make_config
from analysis.errors import DataError
from analysis.result import Analysis, Finding, SourceInfo
from analysis.studies.lists import customer_lists
from analysis.studies.plan import actions
from report import downloads, render
from report import site as site_pages
from report.pages.parts import primary_kind, segments

XSS_PRODUCT = "</script><img src=x onerror=alert(1)>"
FORMULA_ID = '=HYPERLINK("x")'
DOI = "https://doi.org/10.24432/C5BW33"
SEGMENTS = [  # kind, name, slug, colour (the report's: RFM by place in rfm_rules, cluster by number), customer ids
    ("rfm", "Champions", "rfm-champions", "#117733", ["c1", "c2"]),
    ("rfm", "At Risk", "rfm-at-risk", "#882255", [FORMULA_ID, "c4"]),
    ("rfm", "Can't Lose Them", "rfm-can-t-lose-them", "#44AA99", ["c5", "c6"]),
    ("cluster", "Frequent high-spend buyers", "cluster-1-frequent-high-spend-buyers", "#0072B2",
     ["c1", "c2", "c5"]),
    ("cluster", "Lapsed one-off buyers", "cluster-2-lapsed-one-off-buyers", "#E69F00", [FORMULA_ID, "c4", "c6"]),
]
MONTHS = [dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)]
LEDGER = [("kept", "Kept", 20, 300.0), ("bad_date", "Unparseable date", 0, 0.0),
          ("bad_number", "Non-numeric amount", 0, 0.0), ("missing_customer", "Guest order", 3, 15.0),
          ("cancellation", "Cancellation or return", 2, -12.5), ("non_positive_price", "Zero price", 0, 0.0),
          ("non_product", "Non-product line", 0, 0.0), ("duplicate", "Exact duplicate", 1, 5.0),
          ("after_as_of", "After the as-of date", 0, 0.0)]
INPUT_ROWS = sum(r[2] for r in LEDGER)


def _strings(values) -> pd.Series:
    return pd.Series(values, dtype="string")


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Every table of schema.TABLES, small enough to check by eye."""
    ids = ["c1", "c2", FORMULA_ID, "c4", "c5", "c6"]
    rfm = {cid: name for kind, name, _, _, members in SEGMENTS if kind == "rfm" for cid in members}
    cluster = {cid: (i, name) for i, (kind, name, _, _, members) in enumerate(SEGMENTS[3:], start=1)
               for cid in members}
    monetary = [900.0, 700.0, 60.0, 45.5, 400.0, 20.0]
    orders = [9, 7, 2, 1, 4, 1]
    customers = pd.DataFrame({
        "customer_id": _strings(ids),
        "country": _strings(["United Kingdom", "France", "United Kingdom", "Germany", "France", "EIRE"]),
        "first_order_date": [dt.date(2024, 1, 3)] * 6,
        "last_order_date": [dt.date(2024, 3, 20)] * 6,
        "recency_days": pd.Series([2, 5, 40, 60, 70, 80], dtype="int64"),
        "days_since_any_order": pd.Series([2, 5, 40, 60, 70, 80], dtype="int64"),
        "frequency_orders": pd.Series(orders, dtype="int64"),
        "order_days": pd.Series(orders, dtype="int64"),
        "monetary": monetary,
        "revenue_last_365_days": monetary,
        "avg_order_value": [m / o for m, o in zip(monetary, orders)],
        "tenure_days": pd.Series([88] * 6, dtype="int64"),
        "mean_days_between_orders": [9.5, 12.0, 30.0, math.nan, 20.0, math.nan],
        "items_per_order": [3.0, 2.5, 1.0, 4.0, 2.0, 1.0],
        **{c: [1.0, 1.2, 0.9, 1.0, 1.1, 1.0] for c in ("lines_per_order", "price_index")},
        **{c: [0.0, 0.1, 0.2, 0.0, 0.5, 1.0] for c in ("low_price_share", "weekend_share", "evening_share")},
        "gap_cv": [0.2, 0.4, math.nan, math.nan, 0.3, math.nan],
        **{f"share_q{q}": [0.25] * 6 for q in range(1, 5)},
        "distinct_products": pd.Series([12, 9, 2, 1, 5, 1], dtype="int64"),
        "active_days": pd.Series([86, 83, 48, 0, 18, 0], dtype="int64"),
        "item_price": [33.3, 40.0, 30.0, 11.4, 50.0, 20.0],
        "peak_quarter_share": [0.4, 0.5, 0.5, 1.0, 0.5, 1.0],
        "cluster_outlier": [False, False, False, False, False, True],
        "returns_lines": pd.Series([1, 0, 0, 1, 0, 0], dtype="int64"),
        "returns_value": [12.5, 0.0, 0.0, 5.0, 0.0, 0.0],
        "return_rate": [12.5 / 900, 0.0, 0.0, 5.0 / 45.5, 0.0, 0.0],
        "r_score": pd.Series([5, 5, 2, 1, 2, 1], dtype="int64"),
        "f_score": pd.Series([5, 4, 3, 1, 4, 1], dtype="int64"),
        "m_score": pd.Series([5, 5, 2, 1, 4, 1], dtype="int64"),
        "rfm_segment": _strings([rfm[c] for c in ids]),
        "cluster": pd.Series([cluster[c][0] for c in ids], dtype="int64"),
        "cluster_name": _strings([cluster[c][1] for c in ids]),
        "p_alive": [0.99, 0.95, 0.30, 1.0, 0.40, 1.0],
        "expected_purchases_90": [2.0, 1.5, 0.2, 0.1, 0.5, 0.1],
        "expected_purchases_365": [8.0, 6.0, 0.8, 0.4, 2.0, 0.4],
        "clv": [1200.0, 850.0, 30.0, 12.5, 160.0, 8.0],
        "one_time_later_share": [math.nan, math.nan, math.nan, 0.05, math.nan, 0.02],
        "at_risk": [False, False, True, True, True, True],
        "own_rhythm": [True, True, False, False, True, False],
        "expected_gap_days": [9.5, 12.0, 35.0, 35.0, 20.0, 35.0],
        "overdue_days": [0.0, 0.0, 5.0, 25.0, 50.0, 45.0],
        "value_at_risk": [0.0, 0.0, 240.0, 182.0, 1600.0, 80.0],
    })
    total = sum(monetary)
    seg_rows = []
    for kind, name, _slug, _color, members in SEGMENTS:
        m = customers[customers["customer_id"].isin(members)]
        revenue, n_orders = float(m["monetary"].sum()), int(m["frequency_orders"].sum())
        seg_rows.append({
            "kind": kind, "segment": name, "customers": len(m),
            "share_customers": len(m) / 6, "revenue": revenue, "share_revenue": revenue / total,
            "orders": n_orders, "avg_order_value": revenue / n_orders, "revenue_per_customer": revenue / len(m),
            "median_recency_days": float(m["recency_days"].median()),
            "median_frequency_orders": float(m["frequency_orders"].median()),
            "median_monetary": float(m["monetary"].median()), "return_rate": 0.01,
            "rule": f"rule for {name}" if kind == "rfm" else "behaviour cluster",
            "description": f"{name}: a tiny group.", "action": f"Do something for {name}.",
        })
    segments = pd.DataFrame(seg_rows)
    products, countries, features, by_month = [], [], [], []
    features_of = [("recency_days", "Days since last order"), ("frequency_orders", "Orders"),
                   ("monetary", "Revenue"), ("return_rate", "Return rate")]
    for f, label in features_of:
        features.append({"kind": "all", "segment": "All customers", "feature": f, "label": label,
                         "median": float(customers[f].median()), "z": 0.0})
    for kind, name, *_ in SEGMENTS:
        first = XSS_PRODUCT if name == "Champions" else "WHITE MUG"
        products += [{"kind": kind, "segment": name, "rank": 1, "product_id": "P1", "product_name": first,
                      "revenue": 500.0, "quantity": 40.0, "customers": 2},
                     {"kind": kind, "segment": name, "rank": 2, "product_id": "P2", "product_name": "PLATE",
                      "revenue": 50.0, "quantity": 5.0, "customers": 1}]
        countries += [{"kind": kind, "segment": name, "rank": 1, "country": "United Kingdom", "customers": 1,
                       "revenue": 400.0},
                      {"kind": kind, "segment": name, "rank": 2, "country": "France", "customers": 1,
                       "revenue": 100.0}]
        for i, (f, label) in enumerate(features_of):
            features.append({"kind": kind, "segment": name, "feature": f, "label": label,
                             "median": 10.0 + i, "z": 0.5 - 0.4 * i})
        for j, month in enumerate(MONTHS):
            by_month.append({"month": month, "kind": kind, "segment": name, "revenue": 100.0 + 10 * j,
                             "customers": 1 + j})
    edges = []
    for metric, lows in (("recency_days", [61, 41, 6, 3, 1]), ("frequency_orders", [1, 2, 3, 5, 8]),
                         ("monetary", [20, 45, 60, 400, 700])):
        for score, low in enumerate(lows, start=1):
            empty = metric == "frequency_orders" and score == 2
            edges.append({"metric": metric, "score": score, "low": math.nan if empty else float(low),
                          "high": math.nan if empty else float(low), "customers": 0 if empty else 1})
    ledger = pd.DataFrame([{"reason": r, "label": label, "description": f"what {label} means", "rows": rows,
                            "share_rows": rows / INPUT_ROWS, "revenue": revenue}
                           for r, label, rows, revenue in LEDGER])
    return {
        "ledger": ledger.astype({"reason": "string", "label": "string", "description": "string"}),
        "money_ledger": pd.DataFrame([
            ("revenue", "gross", "Gross revenue", "kept lines as bought", 20, 2143.0),
            ("revenue", "returned", "Less returns matched", "at the price paid", 2, -17.5),
            ("revenue", "net", "Net revenue", "what customers kept", 20, 2125.5),
            ("returns", "matched", "Matched to an earlier purchase", "subtracted", 2, -17.5),
            ("returns", "no_purchase", "No earlier purchase in the data", "not subtracted", 1, -4.0),
            ("returns", "total", "All return lines", "the row ledger's cancellations", 3, -21.5)],
            columns=TABLES["money_ledger"]),
        "returned_everything": pd.DataFrame({
            "customer_id": _strings([FORMULA_ID.replace("c", "r")]), "orders": [1],
            "first_order_date": [dt.date(2024, 2, 1)], "last_order_date": [dt.date(2024, 2, 1)],
            "bought_value": [30.0], "returned_value": [30.0]}),
        "mapping": pd.DataFrame({"field": ["customer_id", "order_ts", "revenue"],
                                 "column": ["Customer ID", "InvoiceDate", ""],
                                 "description": ["customer id", "order date", "line amount"]}),
        "customers": customers[TABLES["customers"]],
        "customer_lists": customer_lists(customers),
        "actions": actions(customers, segments, "rfm"),
        # c2 has none; the formula customer's contact is a formula too
        "contacts": pd.DataFrame({"customer_id": _strings(["c1", FORMULA_ID, "c4"]),
                                  "contact": _strings(["ann@example.com", "@SUM(1+1)", "Dan Smith"])}),
        "customer_sample": customers.iloc[:5][list(pd.Index(
            ["customer_id", "recency_days", "frequency_orders", "monetary", "avg_order_value", "rfm_segment",
             "cluster_name"]))].reset_index(drop=True),
        "segments": segments,
        "segment_products": pd.DataFrame(products),
        "segment_countries": pd.DataFrame(countries),
        "segment_features": pd.DataFrame(features),
        "monthly": pd.DataFrame({"month": MONTHS, "revenue": [700.0, 800.0, 625.5], "orders": [8, 9, 7],
                                 "customers": [4, 5, 3], "new_customers": [4, 1, 1]}),
        "monthly_by_segment": pd.DataFrame(by_month),
        "score_edges": pd.DataFrame(edges),
        "rfm_grid": pd.DataFrame({"r_score": [5, 5, 2, 1, 2], "f_score": [5, 4, 3, 1, 4],
                                  "customers": [1, 1, 1, 2, 1], "revenue": [900.0, 700.0, 60.0, 65.5, 400.0],
                                  "rfm_segment": ["Champions", "Champions", "At Risk", "At Risk",
                                                  "Can't Lose Them"]}),
        "rfm_rules": pd.DataFrame({"segment": ["Champions", "Can't Lose Them", "At Risk", "Other"],
                                   "r_scores": ["4-5", "1-2", "1-2", "-"], "f_scores": ["4-5", "4-5", "3-5", "-"],
                                   "m_scores": ["4-5", "4-5", "1-5", "-"],
                                   "rule": ["last order at most 5 days ago", "lapsed big spenders",
                                            "lapsed repeat buyers", "no rule above matched"],
                                   "action": ["Reward them.", "Call them.", "Email them.", "Review by hand."]}),
        "cluster_selection": pd.DataFrame({"method": ["latent", "latent"], "k": [2, 3], "icl": [1234.5, 1200.0],
                                           "smallest_share": [0.33, 0.005], "eligible": [True, False],
                                           "silhouette": [0.61, 0.42], "stability": [0.97, math.nan],
                                           "calinski_harabasz": [120.5, 98.0], "davies_bouldin": [0.55, 0.8],
                                           "chosen": [True, False]}),
        "cluster_features": pd.DataFrame({"feature": ["recency_days", "monetary"],
                                          "label": ["Days since last order", "Net revenue"],
                                          "dimension": ["recency", "spend"], "transform": ["log", "log"],
                                          "weight": [1.0, 1.0]}),
        "cluster_rules": pd.DataFrame({"cluster": [1, 2], "segment": [n for k, n, *_ in SEGMENTS if k == "cluster"],
                                       "rule": ["Orders ≥ 4", f"Orders ≤ 3 and {XSS_PRODUCT}"],
                                       "customers": [3, 3], "rule_customers": [3, 4], "coverage": [1.0, 1.0],
                                       "precision": [1.0, 0.75]}),
        **new_tables(SEGMENTS),
        "crosstab": pd.DataFrame({"rfm_segment": ["Champions", "At Risk", "Can't Lose Them", "Can't Lose Them"],
                                  "cluster_name": ["Frequent high-spend buyers", "Lapsed one-off buyers",
                                                   "Frequent high-spend buyers", "Lapsed one-off buyers"],
                                  "customers": [2, 2, 1, 1]}),
    }


KEY_FEATURES = [("recency_days", "Days since last order"), ("frequency_orders", "Orders"),
                ("monetary", "Revenue"), ("avg_order_value", "Average order value")]


def new_tables(segments) -> dict[str, pd.DataFrame]:
    """The statistics, cohort, product, change and value tables, hand-made and tiny."""
    dist, means, value, affinity, mix, risk = [], [], [], [], [], []
    for kind in ("rfm", "cluster"):
        names = [name for k, name, *_ in segments if k == kind]
        for j, name in enumerate(names):
            for f, _ in KEY_FEATURES:
                base = 10.0 * (j + 1)
                dist.append({"kind": kind, "segment": name, "feature": f, "n": 2, "min": base, "q1": base + 1,
                             "median": base + 2, "q3": base + 3, "max": base + 6, "lower_fence": base,
                             "upper_fence": base + 6, "mean": base + 2.5})
                means.append({"kind": kind, "segment": name, "feature": f, "mean": base + 2.5, "ci_low": base + 1,
                              "ci_high": base + 4, "n": 2})
            for f, m in (("clv", 400.0 / (j + 1)), ("p_alive", 0.9 - 0.2 * j)):
                value.append({"kind": kind, "segment": name, "feature": f, "mean": m, "ci_low": m * 0.8,
                              "ci_high": m * 1.2, "n": 2})
            first = XSS_PRODUCT if name == "Champions" else "RED MUG"
            affinity += [{"kind": kind, "segment": name, "rank": 1, "product_id": "P1", "product_name": first,
                          "segment_revenue_share": 0.3, "all_revenue_share": 0.1, "lift": 3.0, "customers": 2, "q_value": 0.01},
                         {"kind": kind, "segment": name, "rank": 2, "product_id": "P9", "product_name": "TEA TOWEL",
                          "segment_revenue_share": 0.1, "all_revenue_share": 0.08, "lift": 1.5, "customers": 1, "q_value": 0.04}]
            mix += [{"kind": kind, "segment": name, "category": "Kitchen", "revenue": 300.0, "share": 0.75},
                    {"kind": kind, "segment": name, "category": "Garden", "revenue": 100.0, "share": 0.25}]
            risk.append({"kind": kind, "segment": name, "customers": 2, "customers_at_risk": j,
                         "value_at_risk": 500.0 * j, "share_of_value_at_risk": j / 3,
                         "action": f"Act on {name}."})
    cohort_rows = []
    for c, cohort in enumerate(MONTHS):
        size = 4 - c
        for m in range(len(MONTHS) - c):
            customers = size if m == 0 else size - 1
            cohort_rows.append({"cohort_month": cohort, "already_customers": c == 0, "months_since_first": m,
                                "customers": customers,
                                "cohort_size": size, "retention": customers / size, "revenue": 100.0 * customers})
    validation_rows = [{"kind": kind, "segment": name, "customers": 2, "repeat_rate": 0.5, "repeat_low": 0.1,
                        "repeat_high": 0.9, "spend": 40.0, "spend_low": 10.0, "spend_high": 80.0}
                       for kind, name, *_ in segments]
    return {
        "validation_segments": pd.DataFrame(validation_rows),
        "validation_summary": pd.DataFrame({
            "kind": ["rfm", "cluster"], "segments": [3, 2], "customers": [6, 6], "r2_repeat": [0.2, 0.3],
            "r2_spend": [0.25, 0.35], "separation": [0.225, 0.325], "test": ["Kruskal-Wallis"] * 2,
            "statistic": [3.0, 4.0], "p_value": [0.0, 0.04], "p_holm": [0.0, 0.08], "recommended": [False, True]}),
        "segment_distributions": pd.DataFrame(dist),
        "segment_means": pd.DataFrame(means),
        "pairwise_revenue": pd.DataFrame([{
            "feature": "monetary", "a": "Frequent high-spend buyers", "b": "Lapsed one-off buyers", "n_a": 3,
            "n_b": 3, "median_a": 700.0, "median_b": 45.5, "u_statistic": 9.0, "p_value": 0.05, "p_holm": 0.05,
            "effect": 1.0}]),
        "pareto": pd.DataFrame({"top_share": [0.01, 0.05, 0.1, 0.2, 0.5],
                                "revenue_share": [0.42, 0.42, 0.42, 0.61, 0.92]}),
        "lorenz": pd.DataFrame({"customer_share": [0.0, 0.5, 1.0], "revenue_share": [0.0, 0.08, 1.0]}),
        "cohorts": pd.DataFrame(cohort_rows),
        "second_order": pd.DataFrame({"bin": _strings(["0-7", "8-30", ">30"]), "low_days": [0, 8, 31],
                                      "high_days": pd.array([7, 30, None], dtype="Int64"),
                                      "customers": [1, 2, 1], "share": [0.25, 0.5, 0.25]}),
        "new_vs_returning": pd.DataFrame({"month": MONTHS, "new_revenue": [700.0, 100.0, 50.0],
                                          "returning_revenue": [0.0, 700.0, 575.5], "new_customers": [4, 1, 1],
                                          "returning_customers": [0, 4, 2]}),
        "segment_affinity": pd.DataFrame(affinity),
        "category_mix": pd.DataFrame(mix),
        "first_purchase": pd.DataFrame({
            "key": ["Kitchen", "Garden"], "name": ["Kitchen", "Garden"], "customers": [4, 3],
            "repeat_customers": [3, 1], "repeat_rate": [0.75, 1 / 3], "eligible_customers": [6, 6],
            "overall_repeat_rate": [4 / 6, 4 / 6], "lift": [1.125, 0.5], "p_value": [0.01, 0.4],
            "q_value": [0.02, 0.4], "by": ["category", "category"]}),
        "transitions": pd.DataFrame({
            "from_segment": _strings(["(new)", "Champions", "Champions", "Can't Lose Them"]),
            "to_segment": _strings(["Champions", "Champions", "At Risk", "Can't Lose Them"]),
            "customers": [1, 1, 1, 2], "revenue_after": [50.0, 300.0, 0.0, 20.0]}),
        "movers": pd.DataFrame({"customer_id": _strings([FORMULA_ID]), "from_segment": _strings(["Champions"]),
                                "to_segment": _strings(["At Risk"]), "monetary": [60.0], "recency_days": [40]}),
        "revenue_at_risk": pd.DataFrame(risk),
        "segment_value": pd.DataFrame(value),
        "holdout": pd.DataFrame({"frequency_group": _strings(["0", "1", "7+"]), "customers": [2, 2, 2],
                                 "actual_mean": [0.0, 0.5, 3.0], "predicted_mean": [0.2, 0.6, 2.7],
                                 "actual_total": [0, 1, 6], "predicted_total": [0.4, 1.2, 5.4]}),
        "holdout_comparison": pd.DataFrame({"predictor": _strings(["BG/NBD", "Each customer's repeat-purchase rate so far",
                                                                   "Same as the previous window"]),
                                            "mae": [0.3, 0.5, 0.4], "predicted_total": [7.0, 9.0, 6.0],
                                            "actual_total": [7.0, 7.0, 7.0], "total_error": [0.0, 2 / 7, -1 / 7]}),
        "value_distribution": pd.DataFrame({
            "measure": _strings(["clv", "clv", "clv", "p_alive", "p_alive"]), "bin": [0, 1, 2, 0, 1],
            "low": [0.0, 100.0, 1000.0, 0.0, 0.5], "high": [100.0, 1000.0, math.nan, 0.5, 1.0],
            "customers": [2, 3, 1, 1, 5], "share": [2 / 6, 3 / 6, 1 / 6, 1 / 6, 5 / 6]}),
        "alive_threshold": pd.DataFrame({
            "kind": _strings(["rfm", "cluster"]), "segment": _strings(["Champions", SEGMENTS[3][1]]),
            "repeat_customers": [2, 3], "typical_repeat_days": [8.0, 3.0], "p_alive_now": [0.99, 0.6],
            "days_since_last_now": [2.0, 40.0], "below_half_after_days": [200.0, math.nan]}),
    }


BGNBD = {"model": "BG/NBD", "names": ["r", "alpha", "a", "b"], "r": 0.5, "alpha": 31.0, "a": 0.09, "b": 4.9,
         "log_likelihood": -1234.5}
NEW_HEADLINE = {
    "cluster_method": "latent", "cluster_stability": 0.97, "gini": 0.55, "repeat_customers": 4,
    "repeat_rate": 4 / 6, "repeat_days_to_second_q1": 9.0, "repeat_days_to_second_median": 20.0,
    "repeat_days_to_second_q3": 31.5, "first_purchase_by": "category", "first_purchase_standing": 1,
    "change_from": "2023-12-22",
    "change_days": 90, "customers_at_risk": 4, "value_at_risk": 2102.0, "clv_horizon_days": 365,
    "discount_rate_monthly": 0.01, "clv_time_unit": "days",
    "purchase_model": BGNBD,
    "purchase_models": {"BG/NBD": BGNBD},
    "value_predictor": "BG/NBD",
    "gamma_gamma": None, "spend_frequency_correlation": math.nan, "holdout_mae": 0.25,
    "holdout_cutoff": "2023-12-22", "clv_total": 2260.5, "holdout_beats_naive": True,
    "value_model_reliable": True, "value_model_doubts": "",
    "cluster_reason": "Best silhouette among the candidates whose every cluster holds at least 20 customers.",
    "cluster_outliers": 1, "clusters_stable": True, "validation_from": "2023-12-22", "recommended_segmentation": "rfm",
    "recommendation_reason": "RFM segments separate what customers did next better.",
    "separation_difference": 0.1, "separation_difference_low": 0.02, "separation_difference_high": 0.18,
}


def sections(headline: dict) -> dict:
    """A flat headline split into the Analysis's typed sections."""
    from dataclasses import fields

    from analysis.result import ClusterFigures, DataFigures, MoneyFigures
    from analysis.studies.changes import ChangeFigures
    from analysis.studies.cohorts import CohortFigures
    from analysis.studies.products import ProductFigures
    from analysis.studies.stats import StatsFigures
    from analysis.studies.validation import ValidationFigures
    from analysis.studies.value.tables import ValueFigures

    kinds = {"data": DataFigures, "money": MoneyFigures, "clusters": ClusterFigures, "statistics": StatsFigures,
             "changes": ChangeFigures, "validation": ValidationFigures, "value": ValueFigures,
             "cohorts": CohortFigures, "products": ProductFigures}
    return {name: kind(**{f.name: headline[f.name] for f in fields(kind)}) for name, kind in kinds.items()}


def tiny_analysis(**config) -> Analysis:
    """A hand-made Analysis: 6 customers, 3 RFM segments, 2 clusters, hostile strings included."""
    headline = {
        "rows_read": INPUT_ROWS, "rows_kept": 20, "rows_dropped": INPUT_ROWS - 20, "customers": 6,
        "customers_with_purchases": 7, "orders": 24, "revenue": 2125.5, "avg_order_value": 2125.5 / 24,
        "revenue_per_customer": 2125.5 / 6, "repeat_customer_share": 4 / 6, "median_days_between_orders": math.nan,
        "period_start": "2024-01-03", "period_end": "2024-03-20", "as_of": "2024-03-21", "n_clusters": 2,
        "silhouette": 0.61, "returns_lines": 2, "returns_customers": 3, "guest_rows": 3,
        "customers_returned_everything": 1, "customers_only_dropped_lines": 0, "gross_revenue": 2143.0,
        "returned_value": 17.5, "net_revenue": 2125.5,
        "unmatched_returns_value": 4.0, "orders_returned_in_full": 1,
        "repeat_acquired_customers": 5, "repeat_acquired_repeat_customers": 3,
        "build_date": "2024-03-20", "date_format": "YYYY-MM-DD", **NEW_HEADLINE,
    }
    return Analysis(
        config=make_config(title="Tiny shop", currency="£", **config),
        source=SourceInfo(path="data/tiny.csv", format="csv", sha256="ab" * 32, rows=INPUT_ROWS,
                          columns=("Customer ID", "InvoiceDate", "Amount"),
                          mapping={"customer_id": "Customer ID", "order_ts": "InvoiceDate"},
                          attribution=f"Data: a tiny shop (CC BY 4.0), {DOI}."),
        tables=tiny_tables(), **sections(headline),
        findings=(Finding("Champions bring most revenue.", "75%", "segments"),
                  Finding("Few rows were dropped.", "77%", "ledger"),
                  Finding("4 customers are overdue.", "£2,102", "revenue_at_risk"),
                  Finding("Predicted value.", "£2,260", "holdout_comparison")),
        warnings=("3 rows had a <b>bad</b> date.",), timings={"read": 0.123},
    )


@pytest.fixture
def tiny() -> Analysis:
    return tiny_analysis()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """One site built from the tiny Analysis, shared by the tests that only read it."""
    return render.write_site(tiny_analysis(), tmp_path_factory.mktemp("built") / "site")


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


class Links(HTMLParser):
    """Collects href/src values, element ids, headings and chart divs of one page."""

    def __init__(self):
        super().__init__()
        self.links, self.ids, self.headings, self.charts, self.scripts = [], set(), [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("href", "src"):
            if a.get(key):
                self.links.append((tag, a[key]))
        if "id" in a:
            self.ids.add(a["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if "chart" in (a.get("class") or "").split():
            self.charts.append(a)
        if tag == "script":
            self.scripts.append(a.get("src"))


def parse(path: Path) -> Links:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def html_pages(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


# --- pages and links -----------------------------------------------------------------------

def test_every_page_is_written_one_per_segment_of_the_recommended_segmentation(site):
    expected = {"index.html", "segments.html", "cohorts.html", "products.html", "changes.html", "value.html",
                "data-quality.html", "downloads.html", "methodology.html", "glossary.html"}
    expected |= {f"segments/{slug}.html" for kind, _, slug, _, _ in SEGMENTS if kind == "rfm"}
    assert {str(p.relative_to(site)) for p in html_pages(site)} == expected
    for name in (".nojekyll", ".segment-report", "assets/style.css", "assets/plotly.min.js",
                 "downloads/customers.csv", "downloads/segments.csv", "downloads/ledger.csv",
                 "downloads/summary.json", "downloads/movers.csv", "downloads/at_risk.csv",
                 "downloads/top_clv.csv", "downloads/p_alive_disagreements.csv", "downloads/money_ledger.csv",
                 "downloads/returned_everything.csv"):
        assert (site / name).is_file(), name
    for _, _, slug, _, _ in SEGMENTS:
        assert (site / "downloads" / "segments" / f"{slug}.csv").is_file()


def test_every_link_and_anchor_resolves_relative_to_its_page(site):
    for page in html_pages(site):
        for tag, link in parse(page).links:
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, fragment = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            assert target.is_file(), f"{page.relative_to(site)}: {tag} {link} does not exist"
            assert site.resolve() in target.parents, f"{link} leaves the site"
            if fragment:
                assert fragment in parse(target).ids, f"{page.relative_to(site)}: no #{fragment} in {path}"


def test_pages_under_segments_link_back_up_with_a_relative_prefix(site):
    links = [link for _, link in parse(site / "segments" / "rfm-champions.html").links]
    assert "../assets/style.css" in links and "../index.html" in links
    assert "../downloads/segments/rfm-champions.csv" in links
    assert not any(link.startswith("/") for link in links)


def test_nav_on_every_page_lists_every_page_and_every_segment(site):
    for page in html_pages(site):
        root = "../" if page.parent != site else ""
        links = {link for _, link in parse(page).links}
        for file, _label in [(p.file, p.nav_label) for p in site_pages.PAGES]:
            assert root + file in links, f"{page.name} misses {file}"
        for kind, _, slug, _, _ in SEGMENTS:  # the recommended segmentation's pages; the other has none
            assert (f"{root}segments/{slug}.html" in links) == (kind == "rfm")


def test_plotly_js_is_written_once_and_every_page_loads_it_relatively(site):
    bundles = sorted(str(p.relative_to(site)) for p in site.rglob("*.js"))
    assert bundles == ["assets/plotly.min.js", "assets/site.js"]
    for page in html_pages(site):
        parsed = parse(page)
        sources = [s for s in parsed.scripts if s]
        assert len(sources) == 2 and sources[0].endswith("assets/plotly.min.js") and sources[1].endswith("site.js")
        assert (page.parent / sources[0]).resolve() == (site / "assets" / "plotly.min.js").resolve()
        assert (page.parent / sources[1]).resolve() == (site / "assets" / "site.js").resolve()


def test_no_script_or_style_is_fetched_from_the_network(site):
    for page in html_pages(site):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', text), page.name
        external = [link for tag, link in parse(page).links if link.startswith(("http:", "https:"))]
        assert set(external) <= {DOI}, external  # only the data citation's DOI
    assert "cdn.plot.ly" not in (site / "index.html").read_text(encoding="utf-8")


def test_footer_shows_period_build_date_tool_version_and_attribution(site):
    for page in html_pages(site):
        text = page.read_text(encoding="utf-8")
        footer = text[text.index('<footer'):]
        assert "3 Jan 2024 – 20 Mar 2024" in footer and "report built 20 Mar 2024" in footer
        assert f"{analysis.TOOL_NAME} {analysis.__version__}" in footer
        assert f'<a href="{DOI}" rel="external">{DOI}</a>' in footer


def test_key_findings_link_to_their_charts(site):
    links = [link for _, link in parse(site / "index.html").links]
    assert "segments.html#rfm-segments" in links and "data-quality.html#ledger" in links


def test_every_chart_has_a_title_label_and_a_fixed_unique_id(site):
    for page in html_pages(site):
        charts = parse(page).charts
        ids = [c["id"] for c in charts]
        assert len(ids) == len(set(ids))
        for c in charts:
            assert c.get("role") == "img" and c.get("aria-label", "").strip(), (page.name, c)
            assert re.fullmatch(r"chart-[a-z0-9-]+", c["id"])


def test_headings_start_at_one_h1_and_never_skip_a_level(site):
    for page in html_pages(site):
        levels = parse(page).headings
        assert levels[0] == 1 and levels.count(1) == 1, page.name
        for before, after in zip(levels, levels[1:]):
            assert after <= before + 1, f"{page.name}: h{before} then h{after}"


def test_methodology_renders_its_markdown_with_tables(site, tiny):
    text = (site / "methodology.html").read_text(encoding="utf-8")
    assert "<table>" in text and "1 + the number of edges below" in text
    assert "Guest order" in text  # the ledger reasons come from the Analysis
    assert f"with {tiny.config.k_min} to {tiny.config.k_max} clusters" in text  # k range from the config


def test_a_segment_page_shows_rule_action_products_and_its_download(site):
    text = (site / "segments" / "rfm-champions.html").read_text(encoding="utf-8")
    assert "last order at most 5 days ago" in text and "Reward them." not in text  # rule from rfm_rules
    assert "Do something for Champions." in text  # action from segments
    assert "PLATE" in text and "£500" in text
    assert 'href="../downloads/segments/rfm-champions.csv"' in text


def test_values_are_formatted_with_the_currency_and_separators(site):
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "£2,126" in text  # revenue, rounded to whole pounds
    assert "£88.56" in text  # average order value
    assert "66.7%" in text   # repeat customers


def test_a_score_that_no_customer_holds_is_shown_as_empty(site):
    assert "no customers" in (site / "segments.html").read_text(encoding="utf-8")


# --- escaping ------------------------------------------------------------------------------

def test_a_product_name_with_markup_is_shown_literally_never_run(site):
    text = (site / "segments" / "rfm-champions.html").read_text(encoding="utf-8")
    assert "<img src=x" not in text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in text  # the products table
    assert text.count("</script>") == text.count("<script")  # no script is closed early


def test_chart_json_escapes_script_breaking_characters_and_plotly_markup(site):
    text = (site / "segments" / "rfm-champions.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>\(function\(\)\{var f=(.*?);Plotly\.newPlot", text, flags=re.S)
    assert scripts
    for payload in scripts:
        assert "<" not in payload and ">" not in payload and "&" not in payload
    figures = [json.loads(p) for p in scripts]
    labels = [y for f in figures for trace in f["data"] for y in (trace.get("y") or []) if isinstance(y, str)]
    # Plotly decodes these entities and shows the name as text, never as an <img> element
    assert any("&lt;/script&gt;&lt;img" in y for y in labels)


def test_a_formula_like_customer_id_is_escaped_in_the_page(site):
    text = (site / "segments.html").read_text(encoding="utf-8")
    assert '=HYPERLINK(\\"x\\")' in text  # inside chart JSON, quotes escaped
    assert '=HYPERLINK("x")' not in text


def test_warnings_from_the_data_are_escaped(site):
    assert "3 rows had a &lt;b&gt;bad&lt;/b&gt; date." in (site / "data-quality.html").read_text(encoding="utf-8")


def test_figure_html_escapes_line_separators_and_is_deterministic(tiny):
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=["a\u2028b</script>"], y=[1]), layout={"title": {"text": "T & <b>U</b>"}})
    first, second = render.figure_html(fig, "chart-x"), render.figure_html(fig, "chart-x")
    assert first == second
    assert "\u2028" not in first and "\\u2028" in first and "</script><" not in first
    assert 'aria-label="T &amp; U"' in first
    with pytest.raises(ValueError):
        render.figure_html(fig, 'x" onload="alert(1)')


# --- downloads -----------------------------------------------------------------------------

def read_csv_rows(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_customers_csv_neutralises_formulas_and_keeps_numbers_numeric(site):
    raw = (site / "downloads" / "customers.csv").read_text(encoding="utf-8")
    assert "\r" not in raw
    rows = read_csv_rows(site / "downloads" / "customers.csv")
    assert list(rows[0])[:4] == ["customer_id", "rfm_segment", "cluster", "cluster_name"]
    ids = [r["customer_id"] for r in rows]
    assert "'" + FORMULA_ID in ids and FORMULA_ID not in ids
    assert all(float(r["monetary"]) > 0 and not r["monetary"].startswith("'") for r in rows)
    assert rows[0]["frequency_orders"] == "9" and rows[0]["first_order_date"] == "2024-01-03"


def test_negative_numbers_in_csv_stay_numbers(site):
    ledger = {r["reason"]: r for r in read_csv_rows(site / "downloads" / "ledger.csv")}
    assert ledger["cancellation"]["line_amount"] == "-12.5"


def test_each_segment_csv_holds_exactly_its_customers(site):
    rows = read_csv_rows(site / "downloads" / "segments" / "cluster-2-lapsed-one-off-buyers.csv")
    assert sorted(r["customer_id"] for r in rows) == sorted(["'" + FORMULA_ID, "c4", "c6"])
    assert {r["segment"] for r in rows} == {"Lapsed one-off buyers"} and "rfm_segment" in rows[0]
    assert {r["action"] for r in rows} == {"Do something for Lapsed one-off buyers."}  # the cluster's, on every row
    values = [float(r["clv_365"]) for r in rows if r["clv_365"]]
    assert values == sorted(values, reverse=True)  # most valuable first


def pandas_csv(frame: pd.DataFrame) -> bytes:
    """How the site wrote a CSV before the fast writer: pandas, cell by cell (numbers at their unit's
    decimals)."""
    from report.dictionary import decimals
    from report.downloads import FLOAT_FORMAT, safe_for_spreadsheets

    places = {c: decimals(c) for c in frame.columns if decimals(c) is not None}
    return safe_for_spreadsheets(frame.round(places)).to_csv(index=False, lineterminator="\n",
                                                             float_format=FLOAT_FORMAT).encode("utf-8")


HOSTILE_TEXT = ["=1+1", "+1", "-1", "@A1", "\tx", "a,b", 'say "hi"', "two\nlines", "plain", "", None,
                "Ünïcode – ok", " =not first", "'quoted", '=HYPERLINK("x","y")']


def hostile_frame() -> pd.DataFrame:
    n = len(HOSTILE_TEXT)
    return pd.DataFrame({
        "text": pd.Series(HOSTILE_TEXT, dtype="string"),
        "str": pd.Series(HOSTILE_TEXT, dtype="str"),
        "obj": pd.Series(HOSTILE_TEXT, dtype=object),
        "amount": [-1.5, 0.0, -0.0, math.nan, math.inf, 1e-5, 123456789012.0, 0.1 + 0.2, 2 / 3, -1e20,
                   5.0, 1234.5678901234, -0.000123456789, 7.0, 1e15][:n],
        "count": pd.Series(range(-7, n - 7), dtype="int64"),
        "maybe": pd.array([1, None] * (n // 2) + [3] * (n % 2), dtype="Int64"),
        "flag": [i % 2 == 0 for i in range(n)],
        "maybe_flag": pd.array([True, None, False] * (n // 3) + [True] * (n % 3), dtype="boolean"),
        "day": [dt.date(2024, 1, 1 + i) if i % 4 else None for i in range(n)],
    })


def test_the_fast_csv_writer_writes_what_pandas_wrote():
    from report.downloads import to_csv_bytes

    frame = hostile_frame()
    assert to_csv_bytes(frame) == pandas_csv(frame)
    assert to_csv_bytes(frame.iloc[:0]) == pandas_csv(frame.iloc[:0])  # header only
    odd = pd.DataFrame({"a,b": [1], 'c"d': [2.5]})
    assert to_csv_bytes(odd) == pandas_csv(odd) == b'"a,b","c""d"\n1,2.5\n'


def test_float_cells_are_what_python_percent_g_writes_on_every_kind_of_double():
    from report.downloads import FLOAT_FORMAT, float_cells

    rng = np.random.default_rng(11)
    many = rng.normal(0, 1, 50_000) * 10.0 ** rng.integers(-320, 300, 50_000)  # subnormals to huge
    special = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, 0.1 + 0.2, 1e-5, 1e16, 123456789012.0, 9999999999.5, math.inf,
               -math.inf, 5e-324, 1.7976931348623157e308, np.round(2 / 3, 6)]
    values = np.concatenate([special, many, np.round(many, 2)])
    got = float_cells({"x": values, "half": values / 2})
    assert got["x"].to_pylist() == [FLOAT_FORMAT % v for v in values.tolist()]
    assert got["half"].to_pylist() == [FLOAT_FORMAT % v for v in (values / 2).tolist()]
    assert float_cells({"nan": np.array([math.nan, 1.0])})["nan"].to_pylist() == ["", "1"]


def test_csv_text_cells_are_neutralised_and_quoted_and_numbers_never_are():
    from report.downloads import to_csv_bytes

    rows = list(csv.reader(io.StringIO(to_csv_bytes(hostile_frame()).decode("utf-8"), newline="")))
    text = [r[0] for r in rows[1:]]
    assert text[:9] == ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "a,b", 'say "hi"', "two\nlines", "plain"]
    assert text[9:11] == ["", ""] and text[12:14] == [" =not first", "'quoted"]
    assert text[14] == '\'=HYPERLINK("x","y")'
    assert [r[1] for r in rows[1:]] == text and [r[2] for r in rows[1:]] == text  # string, str, object
    assert [r[3] for r in rows[1:4]] == ["-1.5", "0", "-0"]  # negative numbers stay numbers
    assert rows[0][4] == "count" and rows[1][4] == "-7"


def test_a_carriage_return_inside_a_text_cell_is_quoted_so_the_row_stays_whole():
    from report.downloads import to_csv_bytes

    frame = pd.DataFrame({"name": pd.Series(["a\rb", "\rstart", "ok"], dtype="string"), "n": [1, 2, 3]})
    raw = to_csv_bytes(frame)
    assert raw == b'name,n\n"a\rb",1\n"\'\rstart",2\nok,3\n'
    back = pd.read_csv(io.BytesIO(raw), dtype={"name": "string"})
    assert back["name"].tolist() == ["a\rb", "'\rstart", "ok"] and back["n"].tolist() == [1, 2, 3]


def test_a_single_column_of_empty_cells_keeps_its_rows():
    from report.downloads import to_csv_bytes

    frame = pd.DataFrame({"only": pd.Series(["", None, "x"], dtype="string")})
    assert to_csv_bytes(frame) == pandas_csv(frame) == b'only\n""\n""\nx\n'


def test_a_column_type_the_fast_writer_does_not_know_is_written_by_pandas():
    from report.downloads import CsvCells, to_csv_bytes

    frame = pd.DataFrame({"when": pd.to_datetime(["2024-01-01 10:00", None]), "name": ["=x", "y"]})
    assert CsvCells.of(frame) is None
    assert to_csv_bytes(frame) == pandas_csv(frame) == b"when,name\n2024-01-01 10:00:00,'=x\n,y\n"


def test_customer_files_are_cut_from_one_table_exactly_as_each_table_was_written(tiny):
    from report import downloads

    files = downloads.customer_files(tiny)
    assert files["downloads/customers.csv"] == pandas_csv(downloads.customers_table(tiny))
    for name, table in (("at_risk", downloads.at_risk_customers(tiny)), ("top_clv", downloads.top_clv_customers(tiny))):
        named = table.set_axis(downloads.file_names(tiny, list(table.columns)), axis=1)
        assert files[f"downloads/{name}.csv"] == pandas_csv(named)
    seg = segments(tiny)
    for kind, name, slug in zip(seg["kind"], seg["segment"], seg["slug"]):
        assert files[f"downloads/segments/{slug}.csv"] == pandas_csv(downloads.segment_customers(tiny, kind, name))
    assert b"clv_365" in files["downloads/customers.csv"].split(b"\n")[0]


def test_customer_files_written_a_few_rows_at_a_time_are_the_same_bytes(tiny, monkeypatch):
    # memory stays bounded at any number of customers: each file is made a batch of rows at a time
    from report import downloads

    whole = downloads.customer_files(tiny)  # each column formatted once for every file
    monkeypatch.setattr(downloads, "BATCH_ROWS", 2)
    monkeypatch.setattr(downloads, "CACHE_ROWS", 0)  # as for a table of many customers: again for each file
    chunked = {path: list(chunks) for path, chunks in downloads.customer_file_items(tiny)}
    customers = len(tiny.tables["customers"])
    assert len(chunked["downloads/customers.csv"]) == 1 + -(-customers // 2)  # the header, then every 2 rows
    assert {path: b"".join(chunks) for path, chunks in chunked.items()} == whole


def test_segment_lists_carry_each_customers_contact_when_the_input_has_one(tiny):
    from report import downloads

    files = downloads.customer_files(tiny)
    rows = {}
    for path, data in files.items():
        if path.startswith("downloads/segments/"):
            table = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
            assert list(table.columns[:3]) == ["customer_id", "contact", "segment"]
            rows.update(zip(table["customer_id"], table["contact"]))
    # c2 has no contact: an empty cell; a formula-looking contact is neutralised like any cell
    assert rows["c1"] == "ann@example.com" and rows["c2"] == "" and rows["c4"] == "Dan Smith"
    assert rows["'" + FORMULA_ID] == "'@SUM(1+1)"
    assert "contact" not in files["downloads/customers.csv"].split(b"\n")[0].decode()
    assert "contact" in downloads.file_columns(tiny)["segments/<slug>.csv"]
    # without a contact column the lists have none
    bare = dataclasses.replace(tiny, tables={**tiny.tables, "contacts": tiny.tables["contacts"].iloc[:0]})
    header = downloads.customer_files(bare)["downloads/segments/rfm-champions.csv"].split(b"\n")[0]
    assert header.startswith(b"customer_id,segment,action,")
    assert "contact" not in downloads.file_columns(bare)["segments/<slug>.csv"]


def test_a_segment_without_customers_gets_a_csv_with_only_the_header(tiny):
    from report import downloads

    customers = tiny.tables["customers"]
    emptied = customers.assign(cluster_name=customers["cluster_name"].where(
        customers["cluster_name"] != "Lapsed one-off buyers", "Frequent high-spend buyers"))
    a = dataclasses.replace(tiny, tables={**tiny.tables, "customers": emptied})
    files = downloads.customer_files(a)
    header = files["downloads/segments/cluster-1-frequent-high-spend-buyers.csv"].split(b"\n")[0]
    assert header.startswith(b"customer_id,contact,segment,action,rfm_segment,")
    assert files["downloads/segments/cluster-2-lapsed-one-off-buyers.csv"] == header + b"\n"


def test_summary_json_ledger_sums_to_the_input_rows(site):
    summary = json.loads((site / "downloads" / "summary.json").read_text(encoding="utf-8"))
    assert sum(summary["ledger"].values()) == summary["input"]["rows"] == summary["headline"]["rows_read"]
    assert summary["tool"] == {"name": analysis.TOOL_NAME, "version": analysis.__version__}
    assert summary["engine"] == {} and "pyspark" in summary["versions"]  # a hand-made analysis: no engine ran
    assert summary["input"]["sha256"] == "ab" * 32 and summary["input"]["mapping"]["order_ts"] == "InvoiceDate"
    assert summary["headline"]["median_days_between_orders"] is None  # NaN -> null
    assert summary["config"]["currency"] == "£" and summary["attribution"].endswith(f"{DOI}.")
    assert "timings" not in summary  # run times would break byte-identical builds


# --- determinism and safe replacement ------------------------------------------------------

def test_two_writes_of_the_same_analysis_give_byte_identical_trees(tmp_path, tiny):
    first = tree(render.write_site(tiny, tmp_path / "a"))
    second = tree(render.write_site(tiny_analysis(), tmp_path / "b"))
    assert first == second
    again = tree(render.write_site(tiny, tmp_path / "a"))  # replacing its own earlier build
    assert again == first


def test_a_failed_build_leaves_the_previous_site_untouched(tmp_path, tiny, monkeypatch):
    out = render.write_site(tiny, tmp_path / "site")
    before = tree(out)

    def broken(a, slug):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(site_pages, "segment_page", broken)
    with pytest.raises(RuntimeError, match="template exploded"):
        render.write_site(tiny, out)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary folder left


def test_a_failure_while_writing_files_removes_the_half_written_copy(tmp_path, tiny, monkeypatch):
    out = render.write_site(tiny, tmp_path / "site")
    before = tree(out)
    calls = []
    real = Path.write_bytes

    def flaky(self, data):
        calls.append(self)
        if len(calls) == 5:
            raise OSError("disk full")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(DataError, match="cannot write the site: disk full"):
        render.write_site(tiny, out)
    monkeypatch.undo()
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_failure_in_the_downloads_thread_leaves_the_previous_site_untouched(tmp_path, tiny, monkeypatch):
    # the downloads are written into the temporary copy while the pages render, one by one
    out = render.write_site(tiny, tmp_path / "site")
    before = tree(out)
    written = {}
    downloads.write_downloads(tiny, lambda path, data: written.__setitem__(
        path, data if isinstance(data, bytes) else b"".join(data)))
    assert {f"downloads/{p.relative_to(out / 'downloads')}" for p in (out / "downloads").rglob("*") if p.is_file()} \
        == set(written)
    assert all(written[path] == (out / path).read_bytes() for path in written)

    def broken(a):
        raise RuntimeError("movers exploded")

    monkeypatch.setattr(downloads, "movers_table", broken)
    with pytest.raises(RuntimeError, match="movers exploded"):
        render.write_site(tiny, out)
    assert tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_refuses_to_replace_a_folder_that_is_not_a_site(tmp_path, tiny):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(DataError) as err:
        render.write_site(tiny, out)
    assert ".segment-report" in str(err.value) and "thesis.docx" in str(err.value) and "fix:" in str(err.value)
    assert (out / "thesis.docx").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents"]


def test_refuses_to_replace_a_file(tmp_path, tiny):
    out = tmp_path / "site"
    out.write_text("not a folder")
    with pytest.raises(DataError):
        render.write_site(tiny, out)
    assert out.read_text() == "not a folder"


def test_a_folder_holding_only_the_projects_own_site_readme_may_be_replaced(tmp_path, tiny):
    # a fresh clone's site/ holds the committed README.md only: the first build replaces it
    out = tmp_path / "site"
    out.mkdir()
    (out / "README.md").write_bytes(render.COMMITTED_README.read_bytes())
    render.write_site(tiny, out)
    assert (out / "index.html").is_file()
    # anyone else's README, or a README beside a .gitkeep, is theirs
    for files in ({"README.md": "my notes"}, {"README.md": render.COMMITTED_README.read_text(), ".gitkeep": ""}):
        other = tmp_path / f"other{len(files)}"
        other.mkdir()
        for name, text in files.items():
            (other / name).write_text(text)
        with pytest.raises(DataError, match="not a report site"):
            render.write_site(tiny, other)
        assert {p.name: p.read_text() for p in other.iterdir()} == files


def test_the_marker_lists_every_file_the_build_wrote(tmp_path, tiny):
    out = render.write_site(tiny, tmp_path / "site")
    lines = (out / ".segment-report").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("This folder is a generated segment-report site")
    assert lines[1:] == sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_the_site_readme_is_the_committed_one(site):
    committed = render.COMMITTED_README
    if committed.is_file():
        assert (site / "README.md").read_bytes() == committed.read_bytes()
    else:
        assert not (site / "README.md").exists()


def test_nothing_is_written_outside_the_output_folder(tmp_path, tiny):
    parent = tmp_path / "deep" / "parent"
    render.write_site(tiny, parent / "site")
    assert sorted(p.name for p in parent.iterdir()) == ["site"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]


def test_a_segment_named_like_a_path_gets_a_safe_page_inside_the_site(tmp_path):
    tables = tiny_tables()
    for row in (0, 3):  # an RFM segment (it has a page) and a cluster (a list only)
        old, tables["segments"].loc[row, "segment"] = tables["segments"].loc[row, "segment"], "../../Escape/..\\here"
        kind = tables["segments"].loc[row, "kind"]
        actions = tables["actions"]
        actions["segment"] = actions["segment"].where((actions["kind"] != kind) | (actions["segment"] != old),
                                                      "../../Escape/..\\here")
    a = dataclasses.replace(tiny_analysis(), config=make_config(), tables=tables)
    out = render.write_site(a, tmp_path / "site")
    assert (out / "segments" / "rfm-escape-here.html").is_file()
    assert (out / "downloads" / "segments" / "rfm-escape-here.csv").is_file()
    assert (out / "downloads" / "segments" / "cluster-1-escape-here.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


# --- end to end ----------------------------------------------------------------------------

def test_a_site_builds_from_the_tiny_transactions_file(tmp_path, tiny_csv):
    from analysis.pipeline import run_analysis

    a = run_analysis(make_config(input=tiny_csv, output=tmp_path / "site"))
    out = render.write_site(a, tmp_path / "site")
    assert (out / "index.html").is_file()
    seg = segments(a)
    for kind, slug in zip(seg["kind"], seg["slug"]):
        assert (out / "segments" / f"{slug}.html").is_file() == (kind == primary_kind(a))
        assert (out / "downloads" / "segments" / f"{slug}.csv").is_file()
    summary = json.loads((out / "downloads" / "summary.json").read_text(encoding="utf-8"))
    assert sum(summary["ledger"].values()) == summary["input"]["rows"] == 12


# --- the new pages: statistics, cohorts, products, changes, customer value -----------------

NEW_PAGE_CHARTS = {
    "segments.html": ["chart-box-rfm", "chart-box-cluster", "chart-means-rfm", "chart-means-cluster",
                      "chart-pairwise-revenue", "chart-pareto", "chart-lorenz"],
    "cohorts.html": ["chart-second-order", "chart-retention", "chart-cohort-revenue", "chart-new-returning"],
    "products.html": ["chart-affinity-rfm", "chart-affinity-cluster", "chart-category-mix-rfm",
                      "chart-category-mix-cluster", "chart-first-purchase"],
    "changes.html": ["chart-transitions", "chart-at-risk-rfm", "chart-at-risk-cluster"],
    "value.html": ["chart-clv-rfm", "chart-clv-cluster", "chart-holdout"],
}


def test_each_new_page_is_in_the_navigation_and_shows_its_charts(site):
    for page, ids in NEW_PAGE_CHARTS.items():
        parsed = parse(site / page)
        assert [c["id"] for c in parsed.charts if c["id"] in ids] == ids, page
        assert {"index.html", "cohorts.html", "products.html", "changes.html", "value.html"} <= {
            link for tag, link in parsed.links if tag == "a"}, page


def test_every_new_chart_has_a_caption_and_its_numbers(site):
    for page, ids in NEW_PAGE_CHARTS.items():
        text = (site / page).read_text(encoding="utf-8")
        for chart_id in ids:
            block = text[text.index(f'id="{chart_id}"'):]
            block = block[:block.index("</figure>")]
            assert "<figcaption>" in block and "Show the numbers" in block, (page, chart_id)


def test_templates_never_compute_a_number():
    expressions = re.compile(r"{{(.*?)}}|{%(.*?)%}", flags=re.S)
    quoted = re.compile(r"'[^']*'|\"[^\"]*\"")
    aggregates = re.compile(r"\|\s*(sum|max|min|round|length|count|abs)\b")
    for template in sorted(render.TEMPLATES.rglob("*.html")) + sorted(render.TEMPLATES.rglob("*.md")):
        for match in expressions.finditer(template.read_text(encoding="utf-8")):
            code = quoted.sub("''", match.group(1) or match.group(2)).strip("-").strip()
            assert not re.search(r"[-+*/%]", code), (template.name, match.group(0))
            assert not aggregates.search(code), (template.name, match.group(0))


def test_the_segments_page_reports_the_next_90_day_check_the_rules_the_choice_of_k_and_the_gini(site):
    text = (site / "segments.html").read_text(encoding="utf-8")
    assert "Kruskal" not in text.split('id="differences"')[1].split("</table>")[0]  # no circular test table
    assert "as the data stood on 2023-12-22" in text and "separate what customers did next better" in text
    assert "&lt; 1e-300" in text  # an adjusted p-value of exactly 0
    words = re.sub(r'</?a\b[^>]*>', "", text)  # glossary links removed
    assert "Orders ≥ 4" in words and "Best silhouette among the candidates" in words
    assert "&lt;/script&gt;&lt;img src=x" in text and "<img src=x" not in text  # hostile text in a rule stays text
    assert ">no<" in text  # the candidate with a tiny cluster is marked not eligible
    assert "<strong>0.55</strong>" in text  # Gini from the headline


def test_the_overview_says_which_segmentation_to_act_on_and_why(site):
    text = re.sub(r'</?a\b[^>]*>', "", (site / "index.html").read_text(encoding="utf-8"))  # glossary links removed
    assert "Act on the RFM segments." in text and "separate what customers did next better" in text


def test_the_overview_opens_with_what_to_do_for_whom_worth_how_much_and_the_list(site, tiny):
    text = (site / "index.html").read_text(encoding="utf-8")
    assert text.index('id="plan"') < text.index('id="headline"') < text.index('id="findings"')
    plan = text[text.index('id="plan"'):text.index('id="headline"')]
    rows = re.findall(r'<tr>\s*<td class="nowrap"><a href="(segments/[^"]+)">.*?</span>(.*?)</a></td>'
                      r'\s*<td class="num">([\d,]+)<.*?<a href="(downloads/segments/[^"]+)" download>', plan, re.S)
    want = tiny.tables["actions"]
    assert [html.unescape(r[1]) for r in rows] == want["segment"].tolist() and len(rows) > 0
    for (page, name, customers, listed), n in zip(rows, want["customers"]):
        assert (site / page).is_file() and int(customers.replace(",", "")) == n
        members = read_csv_rows(site / listed)
        assert len(members) == n and {m["segment"] for m in members} == {html.unescape(name)}


def test_the_changes_page_lists_movers_and_the_at_risk_customers_by_value(site):
    text = (site / "changes.html").read_text(encoding="utf-8")
    assert 'href="downloads/movers.csv"' in text and 'href="downloads/at_risk.csv"' in text
    rows = read_csv_rows(site / "downloads" / "at_risk.csv")
    assert [r["customer_id"] for r in rows] == ["c5", "'" + FORMULA_ID, "c4", "c6"]  # value at risk, largest first
    assert list(rows[0])[:4] == ["customer_id", "rfm_segment", "cluster", "cluster_name"]
    # why each is on the list: their last order against the gap expected of them
    assert {"value_at_risk", "revenue_last_365_days", "days_since_any_order", "order_days", "own_rhythm",
            "expected_gap_days", "overdue_days", "p_alive", "clv_365"} <= set(rows[0])
    assert "ordered on 4 days, about every 20 days; last order 70 days ago" in text  # c5, own rhythm
    assert "ordered on 2 days; 90% of customers who come back do so within 35 days; last order 40 days ago" in text
    movers = read_csv_rows(site / "downloads" / "movers.csv")
    assert [r["customer_id"] for r in movers] == ["'" + FORMULA_ID]


def test_the_value_page_states_the_model_units_the_one_time_caveat_and_the_clv_formula(site):
    text = (site / "value.html").read_text(encoding="utf-8")
    assert "probability alive 1 until they buy again" in text and "one_time_later_share" in text
    assert "(1 + 1.0%)<sup>month</sup>" in text and "365 days" in text
    assert "α (alpha)" in text and ">days<" in text  # alpha's unit
    assert "<strong>0.25</strong>" in text  # holdout MAE
    rows = read_csv_rows(site / "downloads" / "top_clv.csv")
    assert [r["customer_id"] for r in rows][:2] == ["c1", "c2"] and float(rows[0]["clv_365"]) == 1200.0


def test_summary_json_records_the_models_with_units_and_missing_values_as_null(site):
    summary = json.loads((site / "downloads" / "summary.json").read_text(encoding="utf-8"))
    model = summary["models"]["purchase_model"]
    assert model["time_unit"] == "days" and model["r"] == 0.5 and model["model"] == "BG/NBD" and model["reliable"]
    assert summary["models"]["purchase_models"]["BG/NBD"]["in_use"] is True
    assert summary["models"]["gamma_gamma"] is None and summary["headline"]["gamma_gamma"] is None
    assert summary["headline"]["spend_frequency_correlation"] is None  # NaN -> null
    holdout = summary["models"]["holdout"]
    assert (holdout["mae"], holdout["cutoff"], holdout["beats_naive"]) == (0.25, "2023-12-22", True)
    assert [row["predictor"] for row in holdout["comparison"]][0] == "BG/NBD"
    assert summary["headline"]["gini"] == 0.55 and summary["headline"]["value_at_risk"] == 2102.0


def test_customers_csv_carries_the_value_and_risk_columns_with_clv_named_by_its_horizon(site):
    rows = read_csv_rows(site / "downloads" / "customers.csv")
    assert {"p_alive", "expected_purchases_90", "expected_purchases_365", "one_time_later_share", "at_risk",
            "value_at_risk"} <= set(rows[0])
    assert "clv_365" in rows[0] and "clv" not in rows[0]


def test_the_category_mix_is_replaced_by_a_note_when_there_are_no_categories(tmp_path):
    tables = tiny_tables()
    tables["category_mix"] = tables["category_mix"].iloc[0:0]
    base = tiny_analysis()
    a = dataclasses.replace(base, tables=tables)
    text = render.render_pages(a)["products.html"]
    assert "chart-category-mix" not in text and "no product category column" in text


def test_the_data_quality_page_reconciles_the_money_and_lists_who_returned_everything(site):
    text = (site / "data-quality.html").read_text(encoding="utf-8")
    for figure in ("£2,143.00", "-£17.50", "£2,125.50", "-£21.50"):  # gross, matched, net; all return lines
        assert figure in text
    assert 'href="downloads/returned_everything.csv"' in text
    assert "Customers who returned everything" in text
    ledger = read_csv_rows(site / "downloads" / "money_ledger.csv")
    assert [r["item"] for r in ledger][:3] == ["gross", "returned", "net"]
    gone = read_csv_rows(site / "downloads" / "returned_everything.csv")
    assert [r["customer_id"] for r in gone] == ["'" + FORMULA_ID.replace("c", "r")]  # a formula, neutralised
    summary = json.loads((site / "downloads" / "summary.json").read_text(encoding="utf-8"))
    money = {r["item"]: r["value"] for r in summary["money_ledger"]}
    assert money["gross"] + money["returned"] == money["net"] == summary["headline"]["revenue"]


def test_the_report_labels_exactly_the_measures_the_analysis_summarises():
    from analysis.studies.stats import KEY_FEATURES as SUMMARISED
    from report.pages.parts import KEY_FEATURE_LABELS as LABELLED

    assert set(LABELLED) == set(SUMMARISED)


def test_every_column_of_every_download_is_in_the_data_dictionary_page_and_readme(site, tiny):
    from report import dictionary
    from report.downloads import file_columns

    readme = (site / "downloads" / "README.md").read_text(encoding="utf-8")
    page = (site / "downloads.html").read_text(encoding="utf-8")
    entries = dictionary.columns(365)
    described = file_columns(tiny)
    written: dict[str, list[str]] = {}
    for path in sorted((site / "downloads").rglob("*.csv")):
        name = "segments/<slug>.csv" if path.parent.name == "segments" else path.name
        header = path.read_text(encoding="utf-8").split("\n")[0].split(",")
        written.setdefault(name, [])
        written[name] += [c for c in header if c not in written[name]]
    assert set(written) == set(described) == set(dictionary.FILES)
    for name, header in written.items():
        assert set(header) == set(described[name]), name
        assert f"`{name}`" in readme and html.escape(name) in page
        for column in header:
            assert column in entries, f"{name}: {column} is not in the data dictionary"
            assert f"| `{column}` |" in readme and f'id="col-{column}"' in page


def test_money_is_written_to_2_decimals_and_shares_and_probabilities_to_3(site):
    from report import dictionary

    checked = 0
    for path in sorted((site / "downloads").rglob("*.csv")):
        for row in read_csv_rows(path):
            for column, cell in row.items():
                places = dictionary.decimals(column)
                if places is None or not cell or "." not in cell:
                    continue
                assert len(cell.split(".")[1]) <= places, (path.name, column, cell)
                checked += 1
    assert checked > 50


def unexplained_terms(site_root: Path) -> dict[str, set[str]]:
    """Per page, the glossary terms its text uses (outside navigation, scripts, styles and code)
    that it does not link to the glossary."""
    from report import glossary

    out = {}
    for page in html_pages(site_root):
        if page.name == glossary.PAGE:
            continue
        text = page.read_text(encoding="utf-8")
        main = text[text.find("<main"):text.rfind("</main>")]
        words = re.sub(r"<(nav|script|style|code)\b.*?</\1>", " ", main, flags=re.S)
        used = glossary.used_terms(html.unescape(re.sub(r"<[^>]+>", " ", words)))
        linked = set(re.findall(r'href="(?:\.\./)*glossary\.html#term-([a-z0-9-]+)"', main))
        if used - linked:
            out[str(page.relative_to(site_root))] = used - linked
    return out


def test_every_technical_term_on_a_page_links_to_its_glossary_entry_with_the_meaning_on_hover(site):
    from report import glossary

    assert unexplained_terms(site) == {}
    text = (site / "segments.html").read_text(encoding="utf-8")
    link = re.search(r'<a class="term" href="glossary\.html#term-icl" title="([^"]+)">ICL</a>', text)
    assert link and html.unescape(link.group(1)) == glossary.BY_KEY["icl"].meaning
    assert text.count('href="glossary.html#term-icl"') == 1  # the first use only
    entries = (site / "glossary.html").read_text(encoding="utf-8")
    assert all(f'id="term-{t.key}"' in entries for t in glossary.TERMS)


def test_terms_are_never_linked_inside_links_scripts_or_code():
    from report.glossary import link_terms

    page = ('<main><p>The ICL and <a href="x">RFM segments</a></p><script>var s = "ICL RFM";</script>'
            '<code>RFM</code><p>RFM again, ICL again</p></main>')
    out = link_terms(page, "")
    assert out.count('class="term"') == 2 and '<a href="x">RFM segments</a>' in out
    assert 'var s = "ICL RFM"' in out and "<code>RFM</code>" in out
    assert '>RFM</a> again, ICL again' in out  # RFM's first linkable use is here; ICL was linked above
