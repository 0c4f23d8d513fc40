"""RFM scores, the segment map and rules written in real units."""

import numpy as np
import pandas as pd
import pytest

from analysis.config import make_config
from analysis.customers.rfm import (SEGMENT_RULES, assign_segments, lapsing_segments, once_regular_segments,
                                    quintile_edges, rfm_scores, rules_table, score_edges_table, scores,
                                    segment_order)
from analysis.errors import ConfigError


def test_scores_count_the_quintile_edges_below_each_value():
    edges = quintile_edges(pd.Series(np.arange(1, 101)))
    assert edges.tolist() == [20, 40, 60, 80]
    got = scores(pd.Series([1, 20, 21, 80, 81, 100]), edges).tolist()
    assert got == [1, 1, 2, 4, 5, 5]


def test_recency_scores_reward_recent_customers():
    edges = np.array([20.0, 40.0, 60.0, 80.0])
    assert scores(pd.Series([1, 20, 21, 100]), edges, higher_is_better=False).tolist() == [5, 5, 4, 1]


def test_equal_values_always_get_equal_scores():
    freq = pd.Series([1] * 60 + [2] * 20 + [3] * 20)
    s = scores(freq, quintile_edges(freq))
    assert s.groupby(freq).nunique().eq(1).all()
    assert s[freq == 1].iloc[0] == 1 and s[freq == 3].iloc[0] > s[freq == 2].iloc[0]


def test_segment_map_covers_every_score_combination():
    grid = pd.DataFrame([(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)],
                        columns=["r_score", "f_score", "m_score"])
    seg = assign_segments(grid)
    assert (seg != "Other").all()
    assert set(seg) == {r[0] for r in SEGMENT_RULES}


def test_first_matching_rule_wins():
    frame = pd.DataFrame({"r_score": [5, 5, 1, 1], "f_score": [5, 5, 5, 1], "m_score": [5, 1, 5, 1]})
    assert assign_segments(frame).tolist() == ["Champions", "Potential Loyalists", "Can't Lose Them", "Lost"]


def test_rules_are_written_in_days_orders_and_money():
    edges = {"r": np.array([20.0, 40, 60, 80]), "f": np.array([1.0, 1, 3, 6]),
             "m": np.array([100.0, 200, 400, 800])}
    rules = rules_table(edges, "£").set_index("segment")["rule"]
    assert rules["Champions"] == "last order at most 40 days ago; more than 3 orders; spent more than £400.00"
    assert rules["Can't Lose Them"] == "last order more than 60 days ago; more than 3 orders; spent more than £400.00"
    assert rules["New"] == "last order at most 20 days ago; at most 1 order"
    assert rules["Promising"] == "last order 21-40 days ago; at most 1 order"


def test_score_edges_table_gives_each_score_its_range_of_real_values():
    customers = pd.DataFrame({"customer_id": list("abcdefghij"), "recency_days": range(1, 11),
                              "frequency_orders": [1] * 5 + [2, 3, 4, 5, 6], "monetary": np.arange(10.0, 110, 10)})
    frame, _ = rfm_scores(customers)
    table = score_edges_table(customers, frame)
    f = table[table.metric == "frequency_orders"].set_index("score")
    assert f.loc[1, ["low", "high", "customers"]].tolist() == [1, 1, 5]
    assert table.groupby("metric")["customers"].sum().eq(10).all()


def test_the_standard_map_says_which_segments_are_lapsing_and_in_what_order_they_are_shown():
    assert lapsing_segments() == {"Can't Lose Them", "At Risk", "About to Sleep", "Hibernating", "Lost"}
    assert once_regular_segments() == ["Can't Lose Them", "At Risk"]
    assert segment_order() == ["Champions", "Loyal", "Potential Loyalists", "New", "Promising", "Need Attention",
                               "About to Sleep", "Can't Lose Them", "At Risk", "Hibernating", "Lost", "Other"]


def test_a_custom_map_marks_its_lapsing_segments_or_they_follow_from_their_recency_scores():
    config = make_config(segment_map=[
        {"name": "VIP", "r": [4, 5], "f": [4, 5], "m": [4, 5], "action": "Thank them."},
        {"name": "Slipping regulars", "r": [3, 3], "f": [3, 5], "lapsing": True},
        {"name": "Gone", "r": [1, 2]},                       # no flag: R scores at most 2, so lapsing
        {"name": "Everyone else"},
    ])
    rules = config.segment_map
    assert [rule.lapsing for rule in rules] == [False, True, True, False]
    assert lapsing_segments(rules) == {"Slipping regulars", "Gone"}
    assert once_regular_segments(rules) == ["Slipping regulars"]
    assert segment_order(rules) == ["VIP", "Everyone else", "Slipping regulars", "Gone", "Other"]
    with pytest.raises(ConfigError, match="'lapsing' must be true or false"):
        make_config(segment_map=[{"name": "VIP", "lapsing": "yes"}])
