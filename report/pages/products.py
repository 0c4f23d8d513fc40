"""The products page."""

from __future__ import annotations

from analysis.result import Analysis
from analysis.studies.products import MIN_SUPPORT
from report.charts import products as charts
from report.pages.parts import Chart, Column, Table, kinds_present, of_kind, records, segments


def products(a: Analysis) -> dict:
    t = a.tables
    seg = segments(a)
    affinity, mix = [], []
    for kind, title in kinds_present(a):
        part = of_kind(t["segment_affinity"], kind).sort_values(["segment", "rank"], kind="stable")
        affinity.append({"kind": kind, "title": title, "chart": Chart(
            f"chart-affinity-{kind}", charts.affinity_bars(t["segment_affinity"], seg, kind),
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
        mpart = of_kind(t["category_mix"], kind)
        if len(mpart):
            mix.append(Chart(f"chart-category-mix-{kind}", charts.category_mix_bars(t["category_mix"], seg, kind),
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
        "first_purchase_by": a.products.first_purchase_by,
        "first_purchase_tested": len(fp),
        "first_purchase_standing": a.products.first_purchase_standing,
        "first_purchase_support": MIN_SUPPORT,
        "first_purchase_chart": Chart(
            "chart-first-purchase", charts.first_purchase_bars(fp),
            "Share of customers who ordered again, by what their first order held, against all eligible customers.",
            Table("table-first-purchase", "First-purchase predictors of a second order", (
                Column("name", "Category" if a.products.first_purchase_by == "category" else "Product"),
                Column("customers", "Customers", "int", numeric=True),
                Column("repeat_customers", "Ordered again", "int", numeric=True),
                Column("repeat_rate", "Repeat rate", "pct", numeric=True),
                Column("overall_repeat_rate", "All eligible", "pct", numeric=True),
                Column("lift", "Lift", "num", numeric=True), Column("p_value", "p", "pvalue", numeric=True),
                Column("q_value", "Adjusted p (q)", "pvalue", numeric=True)),
                records(fp.sort_values("repeat_rate", ascending=False, kind="stable")))) if len(fp) else None,
    }
