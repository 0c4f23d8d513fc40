"""Chart functions: pure table -> Figure, one colour per segment, readable titles and axes."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from test_report_render import SEGMENTS, XSS_PRODUCT, tiny_tables

from report.charts import changes, cohorts, data_quality, overview, products, segment, segments, value
from report.charts.style import Figure, dressed, trace

# every chart function by name, whichever page's module holds it
chart_functions = SimpleNamespace(**{
    name: getattr(module, name) for module in (overview, segments, segment, data_quality, cohorts, products, changes, value)
    for name in dir(module) if not name.startswith("_")})


class Validated:
    """A chart module whose functions hand back go.Figure(figure.to_dict()): the charts build
    plain dicts, and here Plotly checks every property against its schema and gives the tests
    attribute access (fig.layout.title.text)."""

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name):
        attr = getattr(self.module, name)
        if not callable(attr) or isinstance(attr, type):
            return attr

        def call(*args, **kwargs):
            fig = attr(*args, **kwargs)
            return go.Figure(fig.to_dict()) if isinstance(fig, Figure) else fig
        return call


charts = Validated(chart_functions)

COLOR = {name: color for _, name, _, color, _ in SEGMENTS}


def dressed_tables() -> dict[str, pd.DataFrame]:
    """The tiny tables with the segments as the pages read them (slug and colour added)."""
    t = tiny_tables()
    t["segments"] = dressed(t["segments"], t["rfm_rules"]["segment"].tolist())
    return t


@pytest.fixture
def t() -> dict[str, pd.DataFrame]:
    return dressed_tables()


def segment(t, slug: str) -> dict:
    seg = t["segments"]
    return seg[seg["slug"] == slug].iloc[0].to_dict()


def every_chart(t, currency: str = "£") -> dict[str, go.Figure]:
    seg = t["segments"]
    champions = segment(t, "rfm-champions")
    return {
        "segment_share_bars": charts.segment_share_bars(seg, "rfm"),
        "avg_order_value_bars": charts.avg_order_value_bars(seg, currency),
        "monthly_revenue": charts.monthly_revenue(t["monthly"], currency),
        "monthly_revenue_by_segment": charts.monthly_revenue_by_segment(t["monthly_by_segment"], seg, currency),
        "segment_value_scatter": charts.segment_value_scatter(seg, "cluster", currency),
        "rfm_grid_heatmap": charts.rfm_grid_heatmap(t["rfm_grid"]),
        "selection_by_k": charts.selection_by_k(t["cluster_selection"]),
        "cluster_feature_heatmap": charts.cluster_feature_heatmap(t["segment_features"], seg, currency),
        "customer_scatter": charts.customer_scatter(t["customer_sample"], seg, 6, currency),
        "rfm_cluster_crosstab": charts.rfm_cluster_crosstab(t["crosstab"], seg),
        "segment_top_products": charts.segment_top_products(t["segment_products"], champions, currency),
        "segment_top_countries": charts.segment_top_countries(t["segment_countries"], champions, currency),
        "segment_monthly_revenue": charts.segment_monthly_revenue(t["monthly_by_segment"], champions, currency),
        "segment_vs_all_features": charts.segment_vs_all_features(t["segment_features"], champions, currency),
        "ledger_rows": charts.ledger_rows(t["ledger"]),
        **more_charts(t, currency),
    }


def more_charts(t, currency: str = "£") -> dict[str, go.Figure]:
    seg = t["segments"]
    labels = {"monetary": "Revenue", "frequency_orders": "Orders"}
    return {
        "segment_boxes": charts.segment_boxes(t["segment_distributions"], seg, "rfm", labels, currency),
        "segment_means_ci": charts.segment_means_ci(t["segment_means"], seg, "cluster", labels, currency),
        "pairwise_effects": charts.pairwise_effects(t["pairwise_revenue"], currency),
        "lorenz_curve": charts.lorenz_curve(t["lorenz"], 0.55),
        "pareto_bars": charts.pareto_bars(t["pareto"]),
        "retention_heatmap": charts.retention_heatmap(t["cohorts"]),
        "cohort_revenue_heatmap": charts.cohort_revenue_heatmap(t["cohorts"], currency),
        "second_order_histogram": charts.second_order_histogram(t["second_order"], (9.0, 20.0, 31.5)),
        "new_vs_returning_bars": charts.new_vs_returning_bars(t["new_vs_returning"], currency),
        "affinity_bars": charts.affinity_bars(t["segment_affinity"], seg, "rfm"),
        "category_mix_bars": charts.category_mix_bars(t["category_mix"], seg, "cluster"),
        "first_purchase_bars": charts.first_purchase_bars(t["first_purchase"]),
        "transition_heatmap": charts.transition_heatmap(t["transitions"], seg, "2023-12-22"),
        "revenue_at_risk_bars": charts.revenue_at_risk_bars(t["revenue_at_risk"], seg, "rfm", currency),
        "holdout_bars": charts.holdout_bars(t["holdout"], "2023-12-22"),
    }


def test_every_chart_has_a_title_and_at_least_one_trace(t):
    for name, fig in every_chart(t).items():
        assert isinstance(fig, go.Figure), name  # Plotly accepted every property
        assert fig.layout.title.text, name
        assert len(fig.data) >= 1, name


def test_charts_do_not_change_their_input_tables(t):
    before = {name: frame.copy() for name, frame in t.items()}
    every_chart(t)
    for name, frame in t.items():
        pd.testing.assert_frame_equal(frame, before[name], obj=name)


def test_figures_are_built_the_same_way_every_time(t):
    first = {k: f.to_json() for k, f in every_chart(t).items()}
    second = {k: f.to_json() for k, f in every_chart(dressed_tables()).items()}
    assert first == second


def test_each_segment_is_drawn_in_its_own_colour(t):
    seg = t["segments"]
    bars = charts.segment_share_bars(seg, "rfm")
    assert list(bars.data[1].marker.color) == [COLOR[n] for n in ("Champions", "At Risk", "Can't Lose Them")]
    stacked = charts.monthly_revenue_by_segment(t["monthly_by_segment"], seg, "£", "rfm")
    assert {tr.name: tr.marker.color for tr in stacked.data} == {
        "Champions": COLOR["Champions"], "At Risk": COLOR["At Risk"], "Can't Lose Them": COLOR["Can't Lose Them"]}
    scatter = charts.customer_scatter(t["customer_sample"], seg, 6)
    assert {tr.name: tr.marker.color for tr in scatter.data} == {
        "Frequent high-spend buyers": COLOR["Frequent high-spend buyers"],
        "Lapsed one-off buyers": COLOR["Lapsed one-off buyers"]}
    products = charts.segment_top_products(t["segment_products"], segment(t, "rfm-at-risk"))
    assert products.data[0].marker.color == COLOR["At Risk"]


def test_the_customer_scatter_states_its_sample_size(t):
    fig = charts.customer_scatter(t["customer_sample"], t["segments"], 6)
    assert "5 of 6 customers shown" in fig.layout.title.subtitle.text
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_the_chosen_number_of_clusters_is_marked(t):
    fig = charts.selection_by_k(t["cluster_selection"])
    chosen = [tr for tr in fig.data if tr.name == "Chosen"]
    assert len(chosen) == 1 and list(chosen[0].x) == [2] and chosen[0].text == ("chosen: k = 2",)
    crossed = [tr for tr in fig.data if tr.name.startswith("Not eligible")]
    assert len(crossed) == 1 and list(crossed[0].x) == [3]  # the candidate with a cluster under 1%


def test_money_titles_carry_the_currency_and_drop_it_when_there_is_none(t):
    assert "(£)" in charts.monthly_revenue(t["monthly"], "£").layout.title.text
    plain = every_chart(t, currency="")
    for name, fig in plain.items():
        assert "()" not in fig.layout.title.text, name
    assert plain["monthly_revenue"].layout.yaxis.tickprefix == ""


def test_bars_of_counts_keep_a_linear_axis_however_skewed_and_label_their_values():
    # a bar's length is its count: on a log axis 100,000 rows would look a few times as long as 3
    ledger = pd.DataFrame({"reason": ["kept", "duplicate", "bad_date"], "label": ["Kept", "Duplicate", "Bad"],
                           "description": ["", "", ""], "rows": [100_000, 3, 0], "share_rows": [0.9, 0.1, 0.0],
                           "revenue": [0.0, 0.0, 0.0]})
    fig = charts.ledger_rows(ledger)
    assert fig.layout.xaxis.type in (None, "linear", "-")
    assert list(fig.data[0].y) == ["Kept", "Duplicate"]  # reasons with no rows are left to the table
    assert list(fig.data[0].marker.color) == [charts.ACCENT, charts.MUTED]  # kept highlighted
    assert list(fig.data[0].text) == ["100,000 (90.0%)", "3 (10.0%)"]


def test_skewed_values_get_a_log_axis_with_readable_ticks(t):
    # points, not bars: the customer map spans orders of magnitude, and says so on its axes
    fig = charts.customer_scatter(t["customer_sample"], t["segments"], 6)
    assert fig.layout.xaxis.type == "log" and "log scale" in fig.layout.xaxis.title.text


def test_even_values_keep_a_linear_axis(t):
    assert charts.monthly_revenue(t["monthly"]).layout.yaxis.type in (None, "linear", "-")


def test_the_rfm_grid_hover_names_each_cells_segment(t):
    fig = charts.rfm_grid_heatmap(t["rfm_grid"])
    heat = fig.data[0]
    names = {n for row in heat.customdata for n in row if n}
    assert names == {"Champions", "At Risk", "Can't Lose Them"}
    assert "%{customdata}" in heat.hovertemplate
    assert list(heat.y) == ["R1", "R2", "R5"] and list(heat.x) == ["F1", "F3", "F4", "F5"]  # unused scores left out


def test_the_feature_profile_shows_z_and_medians_per_cluster(t):
    fig = charts.cluster_feature_heatmap(t["segment_features"], t["segments"], "£")
    heat = fig.data[0]
    assert len(heat.z) == 2 and len(heat.z[0]) == 4  # clusters x features
    assert heat.zmid == 0 and "£12.00" in heat.text[0]  # monetary median, money formatted


def test_segment_vs_all_compares_medians_with_all_customers(t):
    fig = charts.segment_vs_all_features(t["segment_features"], segment(t, "rfm-champions"), "£")
    labels = list(fig.data[0].y)  # each measure's name, and under it the two medians
    assert labels[0].endswith(">10 days vs 50 days</span>")  # recency: segment median vs all customers'
    assert ">£12.00 vs £" in labels[2]


def test_product_names_reach_plotly_as_text_not_markup(t):
    fig = charts.segment_top_products(t["segment_products"], segment(t, "rfm-champions"))
    assert any("&lt;/script&gt;&lt;img" in y for y in fig.data[0].y)
    assert not any(XSS_PRODUCT in y for y in fig.data[0].y)


def test_the_crosstab_keeps_segment_and_cluster_order_from_the_segments_table(t):
    fig = charts.rfm_cluster_crosstab(t["crosstab"], t["segments"])
    heat = fig.data[0]
    assert list(heat.y) == ["Champions", "At Risk", "Can't Lose Them"]
    assert list(heat.z[0]) == [2, None]  # Champions: 2 in cluster 1, none in cluster 2


def test_an_empty_cluster_selection_still_gives_a_figure():
    empty = pd.DataFrame(columns=["method", "k", "icl", "smallest_share", "eligible", "silhouette", "stability",
                                  "calinski_harabasz", "davies_bouldin", "chosen"])
    assert isinstance(charts.selection_by_k(empty), go.Figure)


def test_monthly_charts_name_the_data_period_because_end_months_may_be_partial(t):
    fig = charts.monthly_revenue(t["monthly"], "£", ("2024-01-03", "2024-03-20"))
    assert "3 Jan 2024 to 20 Mar 2024; partial months show less" in fig.layout.title.subtitle.text


def test_box_plots_are_drawn_from_the_precomputed_quartiles_never_from_customers(t):
    fig = charts.segment_boxes(t["segment_distributions"], t["segments"], "rfm", {"monetary": "Revenue"})
    box = fig.data[0]
    assert box.type == "box" and box.x is None  # no raw values embedded
    assert (box.q1[0], box.median[0], box.q3[0], box.lowerfence[0], box.upperfence[0]) == (11, 12, 13, 10, 16)
    assert [tr.marker.color for tr in fig.data] == [COLOR[n] for n in ("Champions", "At Risk", "Can't Lose Them")]


def test_confidence_intervals_run_from_ci_low_to_ci_high_through_the_mean(t):
    fig = charts.segment_means_ci(t["segment_means"], t["segments"], "rfm", {"monetary": "Revenue"})
    assert list(fig.data[0].x) == [11.0, 12.5, 14.0] and fig.data[0].line.color == COLOR["Champions"]


def test_a_feature_menu_switches_traces_and_starts_on_the_first_feature(t):
    labels = {"monetary": "Revenue", "frequency_orders": "Orders"}
    fig = charts.segment_boxes(t["segment_distributions"], t["segments"], "rfm", labels)
    assert [tr.visible for tr in fig.data] == [True] * 3 + [False] * 3
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["Revenue", "Orders"]


def test_the_transition_heatmap_puts_new_customers_first_and_counts_in_cells(t):
    heat = charts.transition_heatmap(t["transitions"], t["segments"], "2023-12-22").data[0]
    assert heat.y[0] == "(new)" and heat.z[0][0] == 1
    assert "22 Dec 2023" in charts.transition_heatmap(t["transitions"], t["segments"], "2023-12-22").layout.title.text


def test_value_at_risk_bars_are_sorted_and_leave_out_segments_with_none(t):
    fig = charts.revenue_at_risk_bars(t["revenue_at_risk"], t["segments"], "rfm", "£")
    assert list(fig.data[0].y) == ["Can't Lose Them", "At Risk"]  # Champions has none
    assert list(fig.data[0].marker.color) == [COLOR["Can't Lose Them"], COLOR["At Risk"]]


def test_the_retention_heatmap_pivots_cohorts_by_month_since_first_order(t):
    heat = charts.retention_heatmap(t["cohorts"]).data[0]
    # the data's first month holds the customers already buying when it starts, not a new cohort;
    # month 0 (always 100%) is left out, so the colours span what varies
    assert list(heat.y) == ["Jan 2024: already customers", "Feb 2024"] and list(heat.x) == [1, 2]
    assert list(heat.z[0]) == [0.75, 0.75] and heat.zmax == 0.75


def raw_charts(t, currency: str = "£") -> dict[str, Figure]:
    """every_chart as the chart functions return them (plain-dict figures)."""
    global charts
    try:
        charts = chart_functions
        return every_chart(t, currency)
    finally:
        charts = Validated(chart_functions)


def test_chart_json_is_what_plotly_itself_writes_for_the_same_figure(t):
    for currency in ("£", ""):
        for name, fig in raw_charts(t, currency).items():
            assert isinstance(fig, Figure), name
            expected = json.loads(pio.to_json(go.Figure(fig.to_dict()), validate=False, engine="json"))
            assert fig.to_plotly_json() == expected, name


def test_numeric_arrays_become_typed_arrays_and_nan_becomes_null():
    fig = Figure(layout={"height": 300, "xaxis": {"range": np.array([0.0, 1.0])}})
    fig.add_trace(trace("bar", x=np.array([1.5, np.nan]), y=np.array([1, 300], dtype="int64"),
                        text=["a", "b"], customdata=np.column_stack([["p", "q"], ["r", "s"]]),
                        hovertext=[float("nan"), np.float64(2.5)]))
    spec = fig.to_plotly_json()
    bar = spec["data"][0]
    assert bar["x"]["dtype"] == "f8" and bar["y"]["dtype"] == "i2"  # int64 narrowed like plotly does
    assert bar["customdata"] == [["p", "r"], ["q", "s"]] and bar["hovertext"] == [None, 2.5]
    assert spec["layout"]["xaxis"]["range"] == [0.0, 1.0]  # Plotly never types a range
    assert fig.data[0]["x"].dtype == "float64"  # the figure itself is not changed


def test_figure_keywords_follow_plotly_conventions():
    fig = Figure(layout={"title": {"text": "T"}, "paper_bgcolor": "#FFF"})
    fig.add_trace(trace("bar", x=[1], marker_color="#123456", marker=dict(line=dict(width=1)), customdata=None))
    fig.update_xaxes(title_text="X", type="log")
    fig.update_layout(title=dict(subtitle=dict(text="S")))
    assert fig.data[0] == {"type": "bar", "x": [1], "marker": {"color": "#123456", "line": {"width": 1}}}
    assert fig.layout["paper_bgcolor"] == "#FFF"  # a Plotly name with an underscore is not a path
    assert fig.layout["title"] == {"text": "T", "subtitle": {"text": "S"}}
    assert fig.layout["xaxis"] == {"title": {"text": "X"}, "type": "log"}


def test_updating_a_figure_never_changes_the_shared_template():
    from report.charts.style import TEMPLATE_JSON, figure

    before = json.dumps(TEMPLATE_JSON, sort_keys=True)
    fig = figure("T")
    fig.update_layout(template=dict(layout=dict(font=dict(size=99))))
    assert fig.layout["template"]["layout"]["font"]["size"] == 99
    assert json.dumps(TEMPLATE_JSON, sort_keys=True) == before
