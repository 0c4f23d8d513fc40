"""One segment's page."""

from __future__ import annotations

from analysis.result import Analysis
from report.charts import segment as charts
from report.pages.parts import Chart, Column, KIND_TITLES, Kpi, Table, records, segment_rows, segments


def segment_page(a: Analysis, slug: str) -> dict:
    t, cur = a.tables, a.config.currency
    seg = segments(a)
    row = records(seg[seg["slug"] == slug])[0]
    kind, name = row["kind"], row["segment"]
    mine = lambda table: table[(table["kind"] == kind) & (table["segment"] == name)]  # noqa: E731
    products = mine(t["segment_products"]).sort_values("rank")
    countries = mine(t["segment_countries"]).sort_values("rank")
    rules = t["rfm_rules"]
    rule = records(rules[rules["segment"] == name])[0] if kind == "rfm" and (rules["segment"] == name).any() else None
    other = "cluster_name" if kind == "rfm" else "rfm_segment"
    mine_col = "rfm_segment" if kind == "rfm" else "cluster_name"
    cross = t["crosstab"][t["crosstab"][mine_col] == name].sort_values("customers", ascending=False)
    siblings = segment_rows(a, kind)
    index = [s["slug"] for s in siblings].index(slug)
    return {
        "segment": row,
        "kind_title": KIND_TITLES[kind],
        "previous": siblings[index - 1] if index > 0 else None,
        "next": siblings[index + 1] if index + 1 < len(siblings) else None,
        "kpis": [
            Kpi("Customers", row["customers"], "int"),
            Kpi("Share of customers", row["share_customers"], "pct"),
            Kpi("Revenue", row["revenue"], "money0"),
            Kpi("Share of revenue", row["share_revenue"], "pct"),
            Kpi("Average order value", row["avg_order_value"], "money"),
            Kpi("Revenue per customer", row["revenue_per_customer"], "money"),
            Kpi("Median time since last order", row["median_recency_days"], "days"),
            Kpi("Median orders", row["median_frequency_orders"], "num"),
            Kpi("Median revenue", row["median_monetary"], "money"),
            Kpi("Return rate", row["return_rate"], "pct", "share of what they bought that came back"),
        ],
        "rule": rule,
        "download": f"downloads/segments/{slug}.csv",
        "features_chart": Chart("chart-segment-features",
                                charts.segment_vs_all_features(t["segment_features"], row, cur),
                                "This segment's median per feature next to all customers' median.",
                                Table("table-segment-features", "Feature medians", (
                                    Column("label", "Feature"), Column("median", "Median", "num", numeric=True),
                                    Column("z", "SD from all customers", "num", numeric=True)),
                                    records(mine(t["segment_features"])))),
        "monthly_chart": Chart("chart-segment-monthly",
                               charts.segment_monthly_revenue(t["monthly_by_segment"], row, cur,
                                                               (a.data.period_start, a.data.period_end)),
                               "This segment's revenue in each month.",
                               Table("table-segment-monthly", "Revenue per month", (
                                   Column("month", "Month", "date"),
                                   Column("revenue", "Revenue", "money0", numeric=True),
                                   Column("customers", "Active customers", "int", numeric=True)),
                                   records(mine(t["monthly_by_segment"]).sort_values("month")))),
        "products_chart": Chart("chart-segment-products", charts.segment_top_products(t["segment_products"], row, cur),
                                "The segment's top products by revenue; listed in the table below."),
        "products": Table("table-segment-products", "Top products", (
            Column("rank", "#", "int", numeric=True), Column("product_name", "Product"),
            Column("product_id", "Code"), Column("revenue", "Revenue", "money0", numeric=True),
            Column("quantity", "Units", "int", numeric=True),
            Column("customers", "Customers", "int", numeric=True)), records(products)),
        "countries_chart": Chart("chart-segment-countries",
                                 charts.segment_top_countries(t["segment_countries"], row, cur),
                                 "The segment's top countries by customers; listed in the table below."),
        "countries": Table("table-segment-countries", "Top countries", (
            Column("rank", "#", "int", numeric=True), Column("country", "Country"),
            Column("customers", "Customers", "int", numeric=True),
            Column("revenue", "Revenue", "money0", numeric=True)), records(countries)),
        "crosstab": Table("table-segment-crosstab",
                          "Where these customers sit in the other segmentation", (
                              Column(other, "Behaviour cluster" if kind == "rfm" else "RFM segment"),
                              Column("customers", "Customers", "int", numeric=True)), records(cross)),
    }
