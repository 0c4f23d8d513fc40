"""The cohorts and retention page."""

from __future__ import annotations

from analysis.result import Analysis
from report.charts import cohorts as charts
from report.pages.parts import Chart, Column, Kpi, Table, records


def cohorts(a: Analysis) -> dict:
    t, cur = a.tables, a.config.currency
    cohort_rows = [dict(row, cohort=charts.cohort_label(row["cohort_month"], row["already_customers"]))
                   for row in records(t["cohorts"])]
    quartiles = (a.cohorts.repeat_days_to_second_q1, a.cohorts.repeat_days_to_second_median, a.cohorts.repeat_days_to_second_q3)
    return {
        "kpis": [
            Kpi("Repeat customers", a.cohorts.repeat_customers, "int", "ordered on two or more occasions"),
            Kpi("Repeat rate", a.cohorts.repeat_rate, "pct", "of all customers"),
            Kpi("Median days to second order", a.cohorts.repeat_days_to_second_median, "days",
                f"first to second order, {a.cohorts.repeat_acquired_repeat_customers:,} repeat customers acquired "
                "after the first month"),
            Kpi("Middle half", (a.cohorts.repeat_days_to_second_q1, a.cohorts.repeat_days_to_second_q3), "dayrange",
                "quartiles of days to second order"),
        ],
        "has_cohorts": bool(len(t["cohorts"])),
        "retention_chart": Chart("chart-retention", charts.retention_heatmap(t["cohorts"]),
                                 "Each row is the customers whose first order fell in that month; each cell the share "
                                 "of them who ordered that many months later.",
                                 Table("table-retention", "Retention by cohort", (
                                     Column("cohort", "Cohort"),
                                     Column("months_since_first", "Months since first order", "int", numeric=True),
                                     Column("customers", "Customers ordering", "int", numeric=True),
                                     Column("cohort_size", "Cohort size", "int", numeric=True),
                                     Column("retention", "Retention", "pct", numeric=True)), cohort_rows), wide=True),
        "cohort_revenue_chart": Chart("chart-cohort-revenue", charts.cohort_revenue_heatmap(t["cohorts"], cur),
                                      "Revenue from each acquisition cohort in each month since its first order.",
                                      Table("table-cohort-revenue", "Revenue by cohort", (
                                          Column("cohort", "Cohort"),
                                          Column("months_since_first", "Months since first order", "int",
                                                 numeric=True),
                                          Column("revenue", "Revenue", "money0", numeric=True)), cohort_rows),
                                      wide=True),
        "second_order_chart": Chart("chart-second-order", charts.second_order_histogram(t["second_order"],
                                                                                              quartiles),
                                    "Repeat customers by the days between their first and second order.",
                                    Table("table-second-order", "Days to second order", (
                                        Column("bin", "Days", nowrap=True),
                                        Column("customers", "Repeat customers", "int", numeric=True),
                                        Column("share", "Share", "pct", numeric=True)), records(t["second_order"]))),
        "new_returning_chart": Chart("chart-new-returning",
                                     charts.new_vs_returning_bars(t["new_vs_returning"], cur),
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
