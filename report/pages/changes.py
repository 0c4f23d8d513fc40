"""The changes and risk page."""

from __future__ import annotations

from analysis.result import Analysis
from analysis.studies.changes import AT_RISK_MARGIN, MIN_QUIET_DAYS, ONE_ORDER_QUANTILE, RHYTHM_ORDER_DAYS
from report import downloads
from report.charts import changes as charts
from report.formatters import fmt_days
from report.pages.parts import Chart, Column, Kpi, SHOWN_ROWS, Table, kinds_present, of_kind, records, segments

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
    t, cur = a.tables, a.config.currency
    seg = segments(a)
    movers = t["movers"]
    at_risk = downloads.at_risk_customers(a, SHOWN_ROWS)
    risk_charts = []
    for kind, title in kinds_present(a):
        part = of_kind(t["revenue_at_risk"], kind).sort_values("value_at_risk", ascending=False, kind="stable")
        risk_charts.append(Chart(f"chart-at-risk-{kind}",
                                 charts.revenue_at_risk_bars(t["revenue_at_risk"], seg, kind, cur),
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
            Kpi("Compared with", a.changes.change_from, "date", f"{a.changes.change_days} days before the analysis date"),
            Kpi("Moved into a lapsing segment", len(movers), "int", "customers (see the list below)"),
            Kpi("Customers at risk", a.changes.customers_at_risk, "int", "overdue for their next order"),
            Kpi("Value at risk", a.changes.value_at_risk, "money0", "a year: at most what they spent in the last 365 days"),
        ],
        "change_from": a.changes.change_from,
        "rule": {"quiet_days": MIN_QUIET_DAYS, "rhythm_days": RHYTHM_ORDER_DAYS, "margin": AT_RISK_MARGIN,
                 "quantile": ONE_ORDER_QUANTILE},
        "change_days": a.changes.change_days,
        "transition_chart": Chart("chart-transitions",
                                  charts.transition_heatmap(t["transitions"], seg, a.changes.change_from),
                                  f"Customers by RFM segment {a.changes.change_days} days ago (rows) and now (columns).",
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
            [dict(row, why=_why_at_risk(row)) for row in records(at_risk)]),
        "at_risk_count": downloads.list_length(a, "at_risk"),
    }
