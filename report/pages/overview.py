"""The overview page (index.html)."""

from __future__ import annotations

from analysis.result import Analysis
from analysis.studies import plan
from analysis.studies.findings import SHOWN_FINDINGS
from report.charts import overview as charts
from report.formatters import make_money
from report.pages.parts import (KIND_PLURALS, Chart, Column, Kpi, SEGMENT_COLUMNS, Table, finding_rows, records,
                                segment_href, segment_rows, segments)


def overview(a: Analysis) -> dict:
    t, cur = a.tables, a.config.currency
    fmt_money = make_money(cur)
    seg = segments(a)
    rfm_rows = segment_rows(a, "rfm")
    period = (a.data.period_start, a.data.period_end)
    all_rows = segment_rows(a, "rfm") + segment_rows(a, "cluster")
    return {
        "kpis": [
            Kpi("Customers", a.data.customers, "int", "with at least one order that was not returned in full"),
            Kpi("Net revenue", a.money.revenue, "money0",
                f"{fmt_money(a.money.gross_revenue)} bought less {fmt_money(a.money.returned_value)} returned"),
            Kpi("Orders", a.money.orders, "int"),
            Kpi("Average order value", a.money.avg_order_value, "money", "revenue per order"),
            Kpi("Repeat customers", a.money.repeat_customer_share, "pct", "ordered more than once"),
            Kpi("Period", (a.data.period_start, a.data.period_end), "period", "first to last kept order"),
            Kpi("Gini of revenue", a.statistics.gini, "num", "0 = equal spend, 1 = one customer has it all"),
            Kpi("Top 20% of customers", _pareto_share(t["pareto"], 0.2), "pct", "their share of revenue"),
            Kpi("Customers at risk", a.changes.customers_at_risk, "int", "overdue for their next order"),
            Kpi("Value at risk", a.changes.value_at_risk, "money0", "a year: at most what they spent in the last 365 days"),
            Kpi(f"Customer value, next {a.value.clv_horizon_days} days", a.value.clv_total, "money0",
                f"predicted ({a.value.value_predictor} + Gamma–Gamma)" if a.value.value_model_reliable is not False
                else "a naive forecast: the purchase model is not reliable on this data (see Value)"),
        ],
        "plan": plan_rows(a),
        "customers": a.data.customers,
        "findings": finding_rows(a.findings[:SHOWN_FINDINGS]),
        "more_findings": max(len(a.findings) - SHOWN_FINDINGS, 0),
        "recommendation": ({"label": KIND_PLURALS[a.validation.recommended_segmentation],
                            "reason": a.validation.recommendation_reason} if a.validation.recommendation_reason else None),
        "share_chart": Chart("chart-segment-share", charts.segment_share_bars(seg, "rfm"),
                             "Each RFM segment's share of all customers next to its share of all revenue.",
                             Table("table-segment-share", "RFM segments: customers and revenue", (
                                 SEGMENT_COLUMNS[0], SEGMENT_COLUMNS[1], SEGMENT_COLUMNS[2],
                                 SEGMENT_COLUMNS[3], SEGMENT_COLUMNS[4]), rfm_rows)),
        "aov_chart": Chart("chart-avg-order-value", charts.avg_order_value_bars(seg, cur),
                           "Revenue per order for each RFM segment and each behaviour cluster.",
                           Table("table-avg-order-value", "Average order value by segment", (
                               SEGMENT_COLUMNS[0], Column("kind_label", "Kind"), SEGMENT_COLUMNS[5],
                               Column("orders", "Orders", "int", numeric=True)), all_rows)),
        "monthly_chart": Chart("chart-monthly-revenue", charts.monthly_revenue(t["monthly"], cur, period),
                               "Revenue, orders and active customers in each calendar month.",
                               Table("table-monthly", "Revenue per month", (
                                   Column("month", "Month", "date"),
                                   Column("revenue", "Revenue", "money0", numeric=True),
                                   Column("orders", "Orders", "int", numeric=True),
                                   Column("customers", "Active customers", "int", numeric=True),
                                   Column("new_customers", "New customers", "int", numeric=True)),
                                   records(t["monthly"]))),
        "monthly_segment_chart": Chart(
            "chart-monthly-by-segment",
            charts.monthly_revenue_by_segment(t["monthly_by_segment"], seg, cur, "rfm", period),
            "Monthly revenue split by the RFM segment each customer is in today."),
    }


def plan_rows(a: Analysis) -> list[dict]:
    """The actions worth most (analysis.studies.plan): segment, its page and list, money at stake."""
    seg = segments(a).set_index(["kind", "segment"])
    rows = records(a.tables["actions"].head(plan.SHOWN))
    for row in rows:
        dressed = seg.loc[(row["kind"], row["segment"])]
        row["href"] = segment_href(dressed["slug"])
        row["list_href"] = f"downloads/segments/{dressed['slug']}.csv"
        row["list_name"] = f"{dressed['slug']}.csv"
        row["color"] = dressed["color"]
    return rows


def _pareto_share(pareto, top_share: float):
    """The Pareto table's revenue share for one top share of customers (None when not listed)."""
    row = pareto[(pareto["top_share"] - top_share).abs() < 1e-9]
    return float(row["revenue_share"].iloc[0]) if len(row) else None
