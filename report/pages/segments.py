"""The segments page: both segmentations side by side, the clusters' method, the next-90-day check, distributions and concentration."""

from __future__ import annotations

from analysis.result import Analysis
from analysis.studies.products import MIN_SUPPORT
from report.charts import segments as charts
from report.pages.parts import (KIND_PLURALS, Chart, Column, KEY_FEATURE_LABELS, KIND_LABELS, SEGMENT_COLUMNS, Table, feature_rows,
                                kinds_present, primary_kind, records, segment_rows, segments)


def segments_overview(a: Analysis) -> dict:
    t, cur = a.tables, a.config.currency
    seg = segments(a)
    edges = t["score_edges"]
    metric_info = [("recency_days", "Recency: days since last order", "days", "lower is better: 5 = most recent"),
                   ("frequency_orders", "Frequency: orders", "int", "5 = most orders"),
                   ("monetary", "Monetary: revenue per customer", "money", "5 = most revenue")]
    score_edges = [{"metric": m, "title": title, "fmt": fmt, "note": note,
                    "rows": records(edges[edges["metric"] == m].sort_values("score"))}
                   for m, title, fmt, note in metric_info if (edges["metric"] == m).any()]
    selection = t["cluster_selection"].sort_values("k")
    return {
        "primary": KIND_PLURALS[primary_kind(a)],
        "other": KIND_PLURALS["cluster" if primary_kind(a) == "rfm" else "rfm"],
        "recommended": bool(a.validation.recommended_segmentation),
        "rfm": segment_rows(a, "rfm"),
        "clusters": segment_rows(a, "cluster"),
        "rfm_table": Table("table-rfm-segments", "RFM segments in segment-map order",
                           SEGMENT_COLUMNS, segment_rows(a, "rfm")),
        "cluster_table": Table("table-clusters", "Behaviour clusters, most revenue first",
                               SEGMENT_COLUMNS, segment_rows(a, "cluster")),
        "rules": Table("table-segment-map", "Segment map: first matching rule wins", (
            Column("segment", "Segment"), Column("r_scores", "R", nowrap=True),
            Column("f_scores", "F", nowrap=True), Column("m_scores", "M", nowrap=True),
            Column("rule", "Rule for this data"), Column("action", "Action")),
            records(t["rfm_rules"])),
        "score_edges": score_edges,
        "rfm_value_chart": Chart("chart-rfm-value", charts.segment_value_scatter(seg, "rfm", cur),
                                 "Each RFM segment placed by its share of customers and share of revenue."),
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
                                     "Each behaviour cluster placed by its share of customers and of revenue."),
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
                               charts.customer_scatter(t["customer_sample"], seg, a.data.customers, cur),
                               "A sample of customers by days since last order and revenue, coloured by cluster; "
                               "the full list is in customers.csv."),
        "silhouette_chart": Chart("chart-cluster-selection", charts.selection_by_k(selection),
                                  "ICL (the criterion k is chosen by) for each number of clusters tried.") if len(selection) else None,
        "n_clusters": a.clusters.n_clusters,
        "cluster_reason": a.clusters.cluster_reason,
        "outliers": a.clusters.cluster_outliers,
        "stability": a.clusters.cluster_stability,
        "stability_low": not a.clusters.clusters_stable,
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
            Column("icl", "ICL (lower is better)", "int", numeric=True),
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
        **segment_statistics(a),
    }


def segment_statistics(a: Analysis) -> dict:
    t, cur = a.tables, a.config.currency
    seg = segments(a)
    boxes, means = [], []
    for kind, title in kinds_present(a):
        boxes.append(Chart(f"chart-box-{kind}", charts.segment_boxes(
            t["segment_distributions"], seg, kind, KEY_FEATURE_LABELS, cur),
            f"{title}: quartiles and whiskers per segment, from summaries (no customer points are embedded).",
            Table(f"table-box-{kind}", f"{title}: distribution per segment", (
                Column("segment", "Segment"), Column("feature_label", "Measure"),
                Column("n", "Customers", "int", numeric=True), Column("min", "Min", "num", numeric=True),
                Column("q1", "Lower quartile", "num", numeric=True),
                Column("median", "Median", "num", numeric=True),
                Column("q3", "Upper quartile", "num", numeric=True), Column("max", "Max", "num", numeric=True),
                Column("mean", "Mean", "num", numeric=True)),
                feature_rows(t["segment_distributions"], kind, KEY_FEATURE_LABELS))))
        means.append(Chart(f"chart-means-{kind}", charts.segment_means_ci(
            t["segment_means"], seg, kind, KEY_FEATURE_LABELS, cur),
            f"{title}: mean per segment with a bootstrap 95% confidence interval; intervals that do not "
            "overlap point to a real difference.",
            Table(f"table-means-{kind}", f"{title}: means with 95% intervals", (
                Column("segment", "Segment"), Column("feature_label", "Measure"),
                Column("mean", "Mean", "num", numeric=True), Column("ci_low", "From", "num", numeric=True),
                Column("ci_high", "To", "num", numeric=True), Column("n", "Customers", "int", numeric=True)),
                feature_rows(t["segment_means"], kind, KEY_FEATURE_LABELS))))
    pareto = t["pareto"]
    return {
        **validation_check(a),
        "box_charts": boxes,
        "means_charts": means,
        "pairwise_support": MIN_SUPPORT,
        "pairwise_chart": Chart("chart-pairwise-revenue", charts.pairwise_effects(t["pairwise_revenue"], cur),
                                "The cluster pairs whose revenue differs most (Mann–Whitney U, Holm-adjusted).",
                                Table("table-pairwise-revenue", "Largest pairwise revenue differences", (
                                    Column("a", "Cluster"), Column("b", "Compared with"),
                                    Column("median_a", "Median revenue", "money0", numeric=True),
                                    Column("median_b", "Median revenue (second)", "money0", numeric=True),
                                    Column("effect", "Rank-biserial effect", "num", numeric=True),
                                    Column("p_holm", "Holm-adjusted p", "pvalue", numeric=True)),
                                    records(t["pairwise_revenue"]))) if len(t["pairwise_revenue"]) else None,
        "gini": a.statistics.gini,
        "pareto_chart": Chart("chart-pareto", charts.pareto_bars(pareto),
                              "Share of all revenue brought by the biggest-spending customers.",
                              Table("table-pareto", "Revenue share of the top customers", (
                                  Column("top_share", "Top share of customers", "pct", numeric=True),
                                  Column("revenue_share", "Share of revenue", "pct", numeric=True)),
                                  records(pareto))),
        "lorenz_chart": Chart("chart-lorenz", charts.lorenz_curve(t["lorenz"], a.statistics.gini),
                              "Cumulative share of revenue against cumulative share of customers, lowest "
                              "spenders first; the dashed diagonal is equal spend.",
                              Table("table-lorenz", "Lorenz curve points", (
                                  Column("customer_share", "Share of customers", "pct", numeric=True),
                                  Column("revenue_share", "Share of revenue", "pct", numeric=True)),
                                  records(t["lorenz"]))),
    }


def validation_check(a: Analysis) -> dict:
    """The next-90-day check of both segmentations (analysis.studies.validation)."""
    t = a.tables
    summary = t["validation_summary"].assign(kind_label=t["validation_summary"]["kind"].map(KIND_LABELS))
    per_segment = t["validation_segments"].assign(kind_label=t["validation_segments"]["kind"].map(KIND_LABELS))
    return {
        "validation_reason": a.validation.recommendation_reason,
        "validation_from": a.validation.validation_from,
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
