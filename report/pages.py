"""The site's pages, listed explicitly, and what each one shows.

Each builder takes the Analysis and returns the template context: figures from `charts`
(turned into HTML by the `figure_html` template global) and tables as lists of dicts with
column specs naming the filter that formats each column. Nothing here computes a number.
"""

from __future__ import annotations

import analysis
from analysis.customers import cluster
from analysis.customers import latent
from analysis.studies import validation
from analysis.studies.findings import SHOWN_FINDINGS
from analysis.result import Analysis
from report import charts, pages_more
from report.formatters import make_money
from report.page_parts import (  # noqa: F401  (re-exported: templates and tests use pages.Column etc.)
    HEX_COLOR,
    KIND_LABELS,
    KIND_TITLES,
    Chart,
    Column,
    Kpi,
    Page,
    Table,
    records,
)


SHOWN_ROWS = pages_more.SHOWN_ROWS  # rows of a customer list shown on a page (the rest: its CSV)


def segment_href(slug: str) -> str:
    return f"segments/{slug}.html"


def _segment_rows(a: Analysis, kind: str) -> list[dict]:
    """Segments of one kind with their page address; a colour that is not a hex code is greyed."""
    rows = records(a.segments(kind))
    for row in rows:
        row["href"] = segment_href(row["slug"])
        row["kind_label"] = KIND_LABELS[kind]
        if not HEX_COLOR.fullmatch(str(row["color"])):
            row["color"] = charts.MUTED
    return rows


SEGMENT_COLUMNS = (
    Column("segment", "Segment", link="href", nowrap=True),
    Column("customers", "Customers", "int", numeric=True),
    Column("share_customers", "Share of customers", "pct", numeric=True),
    Column("revenue", "Revenue", "money0", numeric=True),
    Column("share_revenue", "Share of revenue", "pct", numeric=True),
    Column("avg_order_value", "Average order value", "money", numeric=True),
    Column("revenue_per_customer", "Revenue per customer", "money", numeric=True),
    Column("median_recency_days", "Median days since last order", "num", numeric=True),
    Column("median_frequency_orders", "Median orders", "num", numeric=True),
    Column("return_rate", "Return rate", "pct", numeric=True),
)


# --- pages ---------------------------------------------------------------------------------

def overview(a: Analysis) -> dict:
    h, t, cur = a.headline, a.tables, a.config.currency
    fmt_money = make_money(cur)
    seg = t["segments"]
    rfm_rows = _segment_rows(a, "rfm")
    period = (h["period_start"], h["period_end"])
    all_rows = _segment_rows(a, "rfm") + _segment_rows(a, "cluster")
    return {
        "kpis": [
            Kpi("Customers", h["customers"], "int", "with at least one order that was not returned in full"),
            Kpi("Net revenue", h["revenue"], "money0",
                f"{fmt_money(h['gross_revenue'])} bought less {fmt_money(h['returned_value'])} returned"),
            Kpi("Orders", h["orders"], "int"),
            Kpi("Average order value", h["avg_order_value"], "money", "revenue per order"),
            Kpi("Repeat customers", h["repeat_customer_share"], "pct", "ordered more than once"),
            Kpi("Period", (h["period_start"], h["period_end"]), "period", "first to last kept order"),
            Kpi("Gini of revenue", h["gini"], "num", "0 = equal spend, 1 = one customer has it all"),
            Kpi("Top 20% of customers", _pareto_share(t["pareto"], 0.2), "pct", "their share of revenue"),
            Kpi("Customers at risk", h["customers_at_risk"], "int", "overdue for their next order"),
            Kpi("Value at risk", h["value_at_risk"], "money0", "a year: at most what they spent in the last 365 days"),
            Kpi(f"Customer value, next {h['clv_horizon_days']} days", h["clv_total"], "money0",
                f"predicted ({h['value_predictor']} + Gamma–Gamma)" if h.get("value_model_reliable") is not False
                else f"purchase model NOT RELIABLE on this data ({h['value_model_doubts']}): a naive forecast "
                     f"('{h['value_predictor']}') instead"),
        ],
        "findings": list(a.findings[:SHOWN_FINDINGS]),
        "more_findings": max(len(a.findings) - SHOWN_FINDINGS, 0),
        "recommendation": ({"label": {"rfm": "RFM segments", "cluster": "behaviour clusters"}[h["recommended_segmentation"]],
                            "reason": h["recommendation_reason"]} if h.get("recommendation_reason") else None),
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


def _pareto_share(pareto, top_share: float):
    """The Pareto table's revenue share for one top share of customers (None when not listed)."""
    row = pareto[(pareto["top_share"] - top_share).abs() < 1e-9]
    return float(row["revenue_share"].iloc[0]) if len(row) else None


def segments_overview(a: Analysis) -> dict:
    t, h, cur = a.tables, a.headline, a.config.currency
    seg = t["segments"]
    edges = t["score_edges"]
    metric_info = [("recency_days", "Recency: days since last order", "days", "lower is better: 5 = most recent"),
                   ("frequency_orders", "Frequency: orders", "int", "5 = most orders"),
                   ("monetary", "Monetary: revenue per customer", "money", "5 = most revenue")]
    score_edges = [{"metric": m, "title": title, "fmt": fmt, "note": note,
                    "rows": records(edges[edges["metric"] == m].sort_values("score"))}
                   for m, title, fmt, note in metric_info if (edges["metric"] == m).any()]
    selection = t["cluster_selection"].sort_values("k")
    return {
        "rfm": _segment_rows(a, "rfm"),
        "clusters": _segment_rows(a, "cluster"),
        "rfm_table": Table("table-rfm-segments", "RFM segments in segment-map order",
                           SEGMENT_COLUMNS, _segment_rows(a, "rfm")),
        "cluster_table": Table("table-clusters", "Behaviour clusters, most revenue first",
                               SEGMENT_COLUMNS, _segment_rows(a, "cluster")),
        "rules": Table("table-segment-map", "Segment map: first matching rule wins", (
            Column("segment", "Segment"), Column("r_scores", "R", nowrap=True),
            Column("f_scores", "F", nowrap=True), Column("m_scores", "M", nowrap=True),
            Column("rule", "Rule for this data"), Column("action", "Action")),
            records(t["rfm_rules"])),
        "score_edges": score_edges,
        "rfm_value_chart": Chart("chart-rfm-value", charts.segment_value_scatter(seg, "rfm", cur),
                                 "Each RFM segment placed by its share of customers and share of revenue.",
                                 wide=True),
        "grid_chart": Chart("chart-rfm-grid", charts.rfm_grid_heatmap(t["rfm_grid"]),
                            "Customers in each recency-score and frequency-score cell.",
                            Table("table-rfm-grid", "RFM grid", (
                                Column("r_score", "R score", "int", numeric=True),
                                Column("f_score", "F score", "int", numeric=True),
                                Column("customers", "Customers", "int", numeric=True),
                                Column("revenue", "Revenue", "money0", numeric=True),
                                Column("rfm_segment", "Main segment")),
                                records(t["rfm_grid"].sort_values(["r_score", "f_score"],
                                                                  ascending=[False, True]))), wide=True),
        "cluster_value_chart": Chart("chart-cluster-value", charts.segment_value_scatter(seg, "cluster", cur),
                                     "Each behaviour cluster placed by its share of customers and of revenue.",
                                     wide=True),
        "profile_chart": Chart("chart-cluster-profile",
                               charts.cluster_feature_heatmap(t["segment_features"], seg, cur),
                               "Median of each feature per cluster, coloured by how far it is from all customers.",
                               Table("table-cluster-profile", "Cluster feature medians", (
                                   Column("segment", "Cluster"), Column("label", "Feature"),
                                   Column("median", "Median", "num", numeric=True),
                                   Column("z", "SD from all customers", "num", numeric=True)),
                                   records(t["segment_features"][t["segment_features"]["kind"] == "cluster"])),
                               wide=True),
        "scatter_chart": Chart("chart-customer-map",
                               charts.customer_scatter(t["customer_sample"], seg, h["customers"], cur),
                               "A sample of customers by days since last order and revenue, coloured by cluster; "
                               "the full list is in customers.csv."),
        "silhouette_chart": Chart("chart-cluster-selection", charts.selection_by_k(selection),
                                  "BIC for each number of clusters tried.") if len(selection) else None,
        "n_clusters": h["n_clusters"],
        "cluster_reason": h["cluster_reason"],
        "outliers": h["cluster_outliers"],
        "stability": h["cluster_stability"],
        "stability_low": not h["clusters_stable"],
        "cluster_rules": Table("table-cluster-rules", "Rules that pick out each cluster", (
            Column("segment", "Cluster"), Column("rule", "Rule"),
            Column("customers", "Customers", "int", numeric=True),
            Column("coverage", "Takes in", "pct", numeric=True),
            Column("precision", "Precise", "pct", numeric=True)), records(t["cluster_rules"])),
        "weights": Table("table-cluster-weights", "What the clusters were found on, and each measure's weight", (
            Column("dimension", "Dimension"), Column("label", "Measure"), Column("transform", "Transform"),
            Column("weight", "Weight", "num3", numeric=True)), records(t["cluster_features"])),
        "selection": Table("table-cluster-selection", "Model quality per number of clusters (k)", (
            Column("k", "k", "int", numeric=True),
            Column("bic", "BIC (lower is better)", "int", numeric=True),
            Column("smallest_share", "Smallest cluster", "pct", numeric=True),
            Column("eligible", "Eligible", "yesno"),
            Column("silhouette", "Silhouette (higher is better)", "num3", numeric=True),
            Column("stability", "Stability, bootstrap ARI (higher is better)", "num3", numeric=True),
            Column("calinski_harabasz", "Calinski–Harabasz (higher is better)", "int", numeric=True),
            Column("davies_bouldin", "Davies–Bouldin (lower is better)", "num3", numeric=True),
            Column("chosen", "Chosen", "yes")), records(selection)),
        "crosstab_chart": Chart("chart-crosstab", charts.rfm_cluster_crosstab(t["crosstab"], seg),
                                "How many customers of each RFM segment fall in each behaviour cluster.",
                                Table("table-crosstab", "RFM segment by behaviour cluster", (
                                    Column("rfm_segment", "RFM segment"), Column("cluster_name", "Cluster"),
                                    Column("customers", "Customers", "int", numeric=True)),
                                    records(t["crosstab"])), wide=True),
        **pages_more.segment_statistics(a),
    }


def segment_page(a: Analysis, slug: str) -> dict:
    t, cur = a.tables, a.config.currency
    seg = t["segments"]
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
    siblings = _segment_rows(a, kind)
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
                                                               (a.headline["period_start"], a.headline["period_end"])),
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


# the value first: on a phone the descriptions scroll off to the right, the money stays in view
MONEY_COLUMNS = (Column("label", "Item"), Column("value", "Value", "money", numeric=True),
                 Column("lines", "Lines", "int", numeric=True), Column("description", "What it means"))


def data_quality(a: Analysis) -> dict:
    t, h, s = a.tables, a.headline, a.source
    money = t["money_ledger"]
    return {
        "kpis": [
            Kpi("Rows read", h["rows_read"], "int"),
            Kpi("Rows kept", h["rows_kept"], "int"),
            Kpi("Rows dropped", h["rows_dropped"], "int"),
            Kpi("Guest-order rows", h["guest_rows"], "int", "no customer id"),
            Kpi("Gross revenue", h["gross_revenue"], "money0", "kept lines as bought"),
            Kpi("Returns matched", h["returned_value"], "money0",
                f"{h['returns_lines']:,} return lines, from {h['returns_customers']:,} customers"),
            Kpi("Net revenue", h["net_revenue"], "money0", "used for every money figure"),
            Kpi("Returns not matched", h["unmatched_returns_value"], "money0", "not subtracted"),
        ],
        "money_revenue": Table("table-money-revenue", "Money ledger: gross revenue less matched returns is net revenue",
                               MONEY_COLUMNS, records(money[money["section"] == "revenue"])),
        "money_returns": Table("table-money-returns", "Every return line, by what became of it (valued as credited)",
                               MONEY_COLUMNS, records(money[money["section"] == "returns"])),
        "customer_counts": {"with_purchases": h["customers_with_purchases"], "customers": h["customers"],
                            "returned_everything": h["customers_returned_everything"],
                            "only_dropped": h["customers_only_dropped_lines"]},
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


def methodology(a: Analysis) -> dict:
    features = a.tables["segment_features"]
    return {
        "config": a.config,
        "feature_labels": features.loc[features["kind"] == "all", "label"].tolist(),
        "bins": latent.BINS,
        "timing_orders": cluster.TIMING_ORDERS,
        "weights": records(a.tables["cluster_features"]),
        "window_days": validation.WINDOW_DAYS,
        "ledger_reasons": records(a.tables["ledger"], ["label", "description"]),
    }


PAGES = (
    Page("index.html", "Overview", "index.html", "Overview", overview),
    Page("segments.html", "Segments", "segments.html", "Segments", segments_overview),
    Page("cohorts.html", "Cohorts and retention", "cohorts.html", "Cohorts", pages_more.cohorts),
    Page("products.html", "Products", "products.html", "Products", pages_more.products),
    Page("changes.html", "Changes and risk", "changes.html", "Changes", pages_more.changes),
    Page("value.html", "Customer value", "value.html", "Value", pages_more.value),
    Page("data-quality.html", "Data quality", "data-quality.html", "Data quality", data_quality),
    Page("methodology.html", "Methodology", "methodology.html", "Methodology", methodology),
)


def segment_pages(a: Analysis) -> list[Page]:
    """One page per segment of both kinds, in the segments table's order."""
    seg = a.tables["segments"]
    return [Page(segment_href(slug), name, "segment.html", name,
                 lambda a, slug=slug: segment_page(a, slug))
            for slug, name in zip(seg["slug"].tolist(), seg["segment"].tolist())]


def site_context(a: Analysis) -> dict:
    """What every page shows: title, navigation, footer."""
    h = a.headline
    return {
        "site_title": a.config.title,
        "nav": [(p.file, p.nav_label) for p in PAGES],
        "segment_nav": [(KIND_TITLES[kind], _segment_rows(a, kind)) for kind in KIND_TITLES
                        if (a.tables["segments"]["kind"] == kind).any()],
        "period": (h["period_start"], h["period_end"]),
        "build_date": h["build_date"],
        "tool": f"{analysis.TOOL_NAME} {analysis.__version__}",
        "attribution": a.source.attribution,
    }
