"""The data-quality page."""

from __future__ import annotations

from analysis.result import Analysis
from report.charts import data_quality as charts
from report.pages.parts import Chart, Column, Kpi, SHOWN_ROWS, Table, records

# the value first: on a phone the descriptions scroll off to the right, the money stays in view
MONEY_COLUMNS = (Column("label", "Item"), Column("value", "Value", "money", numeric=True),
                 Column("lines", "Lines", "int", numeric=True), Column("description", "What it means"))


def data_quality(a: Analysis) -> dict:
    t, s = a.tables, a.source
    money = t["money_ledger"]
    return {
        "kpis": [
            Kpi("Rows read", a.data.rows_read, "int"),
            Kpi("Rows kept", a.data.rows_kept, "int"),
            Kpi("Rows dropped", a.data.rows_dropped, "int"),
            Kpi("Guest-order rows", a.data.guest_rows, "int", "no customer id"),
            Kpi("Gross revenue", a.money.gross_revenue, "money0", "kept lines as bought"),
            Kpi("Returns matched", a.money.returned_value, "money0",
                f"{a.money.returns_lines:,} return lines, from {a.money.returns_customers:,} customers"),
            Kpi("Net revenue", a.money.net_revenue, "money0", "used for every money figure"),
            Kpi("Returns not matched", a.money.unmatched_returns_value, "money0", "not subtracted"),
        ],
        "money_revenue": Table("table-money-revenue", "Money ledger: gross revenue less matched returns is net revenue",
                               MONEY_COLUMNS, records(money[money["section"] == "revenue"])),
        "money_returns": Table("table-money-returns", "Every return line, by what became of it (valued as credited)",
                               MONEY_COLUMNS, records(money[money["section"] == "returns"])),
        "customer_counts": {"with_purchases": a.data.customers_with_purchases, "customers": a.data.customers,
                            "returned_everything": a.data.customers_returned_everything,
                            "only_dropped": a.data.customers_only_dropped_lines},
        "returned_everything": Table(
            "table-returned-everything", "Customers who returned everything they bought", (
                Column("customer_id", "Customer"), Column("orders", "Orders", "int", numeric=True),
                Column("first_order_date", "First order", "date"), Column("last_order_date", "Last order", "date"),
                Column("bought_value", "Bought", "money", numeric=True),
                Column("returned_value", "Returned", "money", numeric=True)),
            records(t["returned_everything"].head(SHOWN_ROWS))),
        "returned_everything_count": len(t["returned_everything"]),
        "shown_rows": SHOWN_ROWS,
        "ledger_chart": Chart("chart-ledger", charts.ledger_rows(t["ledger"]),
                              "Input rows kept and dropped, by reason; the table below lists every reason."),
        "ledger": Table("table-ledger", "Row ledger: every input row, kept or dropped with one reason", (
            Column("label", "Outcome"), Column("description", "What it means"),
            Column("rows", "Rows", "int", numeric=True), Column("share_rows", "Share of rows", "pct", numeric=True),
            Column("revenue", "Value", "money0", numeric=True)), records(t["ledger"])),
        "mapping": Table("table-mapping", "Columns used (field → column in the file)", (
            Column("field", "Field"), Column("column", "Column in the file"),
            Column("description", "Meaning")), records(t["mapping"])),
        "warnings": list(a.warnings),
        "source": s,
    }
