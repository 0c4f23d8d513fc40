"""Segment product affinity, category mix and first-purchase predictors on tiny hand-made lines."""

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.studies.products import (AFFINITY_COLUMNS, MIX_COLUMNS, PREDICTOR_COLUMNS, assignments_from,
                               category_mix, first_purchase_predictors, segment_affinity)

PRODUCTS = {"P1": ("MUG", "Kitchen"), "P2": ("PLATE", "Kitchen"), "P3": ("VASE", "Decor"),
            "P4": ("BOWL", None), "P5": ("SPADE", "Garden")}


def lines_table(rows, categories=True):
    """Canonical kept lines from (order_id, customer_id, date, product_id, revenue) tuples."""
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "product_id", "revenue"])
    df["order_ts"] = pd.to_datetime(df["order_ts"])
    df["product_name"] = df["product_id"].map(lambda p: PRODUCTS[p][0])
    df["category"] = df["product_id"].map(lambda p: PRODUCTS[p][1] if categories else None).astype("string")
    df = df.assign(quantity=1.0, unit_price=df["revenue"].astype("float64"), revenue=df["revenue"].astype("float64"),
                   country="United Kingdom")
    df = df[["order_id", "customer_id", "order_ts", "product_id", "product_name", "category", "quantity",
             "unit_price", "revenue", "country"]].astype({c: "string" for c in
                                                          ["order_id", "customer_id", "product_id", "product_name",
                                                           "country"]})
    return ibis.duckdb.connect().create_table("lines", ibis.memtable(df))


# Six customers, one order each. rfm: A, B, C in S1 and D, E, F in S2; cluster: everyone in K.
#   A: P1 10, P2 20, P3 30 | B: P1 10, P3 50 | C: P1 20 | D: P1 10, P2 30 | E: P2 10, P4 40 | F: P2 20
# Revenue: S1 140, S2 110, all 250.  Buyers: P1 A,B,C,D  P2 A,D,E,F  P3 A,B  P4 E.
BASKETS = [("1", "A", "P1", 10), ("1", "A", "P2", 20), ("1", "A", "P3", 30), ("2", "B", "P1", 10),
           ("2", "B", "P3", 50), ("3", "C", "P1", 20), ("4", "D", "P1", 10), ("4", "D", "P2", 30),
           ("5", "E", "P2", 10), ("5", "E", "P4", 40), ("6", "F", "P2", 20)]


# the arithmetic on six customers: every product tested and kept whatever its q (the real
# thresholds, 50 buyers and q < 5%, are tested on generated data below)
UNTESTED = {"min_support": 1, "significance": 1.01}


@pytest.fixture
def baskets():
    return lines_table([(o, c, "2024-03-01 10:00", p, r) for o, c, p, r in BASKETS])


@pytest.fixture
def assignments():
    customers = pd.DataFrame({"customer_id": list("ABCDEF"), "rfm_segment": ["S1"] * 3 + ["S2"] * 3,
                              "cluster_name": ["K"] * 6}).astype("string")
    return assignments_from(customers)


def test_lift_compares_the_share_of_segment_customers_buying_with_the_share_of_all(baskets, assignments):
    got = segment_affinity(baskets, assignments, min_customers=2, **UNTESTED)
    assert list(got.columns) == AFFINITY_COLUMNS
    s1 = got[(got.kind == "rfm") & (got.segment == "S1")]
    # P3: 2 of 3 in S1 vs 2 of 6 overall -> (2/3) / (2/6) = 2.0; P1: 3/3 vs 4/6 -> 1.5
    assert s1["product_id"].tolist() == ["P3", "P1"] and s1["rank"].tolist() == [1, 2]
    assert s1["lift"].tolist() == pytest.approx([2.0, 1.5])
    assert s1["customers"].tolist() == [2, 3]
    assert s1["product_name"].tolist() == ["VASE", "MUG"]
    # P3 brought 30 + 50 = 80 of S1's 140 and of all 250; P1 40 of 140 and 50 of 250
    assert s1["segment_revenue_share"].tolist() == pytest.approx([80 / 140, 40 / 140])
    assert s1["all_revenue_share"].tolist() == pytest.approx([80 / 250, 50 / 250])


def test_segment_product_totals_are_the_same_over_product_numbers_or_product_ids(baskets, assignments, monkeypatch):
    from analysis.engine import rollups
    from analysis.studies import products

    by_numbers = products.segment_product_totals(baskets, assignments)
    s1 = by_numbers[(by_numbers.kind == "rfm") & (by_numbers.segment == "S1")].set_index("product_id")
    assert s1.loc["P1", ["revenue", "customers"]].tolist() == [40.0, 3] and s1.loc["P3", "product_name"] == "VASE"
    monkeypatch.setattr(rollups, "product_keys", lambda lines: None)  # as if two products shared a number
    pd.testing.assert_frame_equal(products.segment_product_totals(baskets, assignments), by_numbers)


def test_products_bought_by_too_few_segment_customers_or_not_over_represented_are_left_out(baskets, assignments):
    got = segment_affinity(baskets, assignments, min_customers=2, **UNTESTED)
    s2 = got[(got.kind == "rfm") & (got.segment == "S2")]
    # P2: 3/3 vs 4/6 -> 1.5. P4 has lift (1/3) / (1/6) = 2 but one buyer; P1 has lift 0.5.
    assert s2["product_id"].tolist() == ["P2"]
    assert s2["lift"].tolist() == pytest.approx([1.5])
    assert s2["segment_revenue_share"].tolist() == pytest.approx([60 / 110])


def test_a_segment_holding_every_customer_has_no_over_represented_products(baskets, assignments):
    got = segment_affinity(baskets, assignments, min_customers=1, **UNTESTED)
    assert got[got.kind == "cluster"].empty  # every lift is exactly 1


def test_top_n_and_min_customers_limit_the_list(baskets, assignments):
    assert segment_affinity(baskets, assignments, top_n=1, min_customers=2, **UNTESTED)["product_id"].tolist() == ["P3", "P2"]
    assert segment_affinity(baskets, assignments, **UNTESTED).empty  # default: at least 5 buyers in the segment


def test_category_mix_gives_each_segments_revenue_by_category(baskets, assignments):
    got = category_mix(baskets, assignments)
    assert list(got.columns) == MIX_COLUMNS
    rows = [tuple(r) for r in got[["kind", "segment", "category", "revenue"]].itertuples(index=False)]
    # K (everyone): Kitchen 10+20+10+20+10+30+10+20 = 130, Decor 80, no category (P4) 40
    # S1: Kitchen 30 + 10 + 20 = 60, Decor 80.  S2: Kitchen 40 + 10 + 20 = 70, none 40
    assert rows == [("cluster", "K", "Kitchen", 130.0), ("cluster", "K", "Decor", 80.0),
                    ("cluster", "K", "(none)", 40.0), ("rfm", "S1", "Decor", 80.0), ("rfm", "S1", "Kitchen", 60.0),
                    ("rfm", "S2", "Kitchen", 70.0), ("rfm", "S2", "(none)", 40.0)]
    assert got["share"].tolist() == pytest.approx([130 / 250, 80 / 250, 40 / 250, 80 / 140, 60 / 140,
                                                   70 / 110, 40 / 110])


def test_category_mix_is_empty_when_no_line_has_a_category(assignments):
    lines = lines_table([(o, c, "2024-03-01 10:00", p, r) for o, c, p, r in BASKETS], categories=False)
    got = category_mix(lines, assignments)
    assert got.empty and list(got.columns) == MIX_COLUMNS


def test_segment_totals_give_both_tables_from_one_query_when_each_product_has_one_category(baskets, assignments,
                                                                                          monkeypatch):
    from analysis.studies import products

    want_totals, want_mix = products.segment_product_totals(baskets, assignments), category_mix(baskets, assignments)
    monkeypatch.setattr(products, "category_mix", lambda *a: pytest.fail("category_mix's own query ran"))
    totals, mix = products.segment_totals(baskets, assignments)
    pd.testing.assert_frame_equal(totals, want_totals)
    pd.testing.assert_frame_equal(mix, want_mix)


def test_segment_totals_fall_back_to_category_mix_when_a_product_has_two_categories(assignments, monkeypatch):
    from analysis.studies import products

    lines = lines_table([(o, c, "2024-03-01 10:00", p, r) for o, c, p, r in BASKETS])
    df = lines.execute()
    df.loc[(df.customer_id == "B") & (df.product_id == "P1"), "category"] = "Gifts"  # P1: Kitchen and Gifts in S1
    mixed = ibis.duckdb.connect().create_table("lines", ibis.memtable(df))
    want = category_mix(mixed, assignments)
    assert ("rfm", "S1", "Gifts", 10.0) in [tuple(r) for r in want[["kind", "segment", "category", "revenue"]]
                                            .itertuples(index=False)]
    calls = []
    monkeypatch.setattr(products, "category_mix", lambda *a: calls.append(1) or want)
    totals, mix = products.segment_totals(mixed, assignments)
    assert calls == [1] and mix is want
    pd.testing.assert_frame_equal(totals, products.segment_product_totals(mixed, assignments))


def test_segment_totals_give_an_empty_mix_when_no_line_has_a_category(assignments):
    from analysis.studies import products

    lines = lines_table([(o, c, "2024-03-01 10:00", p, r) for o, c, p, r in BASKETS], categories=False)
    _totals, mix = products.segment_totals(lines, assignments)
    assert mix.empty and list(mix.columns) == MIX_COLUMNS


# First orders (the data ends 2024-12-31; with min_days=90 a first order must be on or before 2024-10-02):
#   A 01-10 P1+P3 (Kitchen, Decor), again 03-01 (P5, Garden: not a first order)  -> repeat
#   B 02-01 P2 (Kitchen), again 05-01                                             -> repeat
#   C 02-15 P1+P2 (Kitchen twice: C counts once for Kitchen)                      -> no
#   D 03-01 P5 (Garden), E 04-01 P5 (Garden)                                      -> no
#   F 05-01 P3 (Decor), again 12-31                                               -> repeat
#   H 10-02 P3 (Decor), exactly 90 days before the end, again 12-01               -> repeat
#   G 11-01 and I 10-03: first order too recent, left out
# Eligible 7 (A B C D E F H), repeaters 4 (A B F H): overall rate 4/7.
FIRSTS = [("1", "A", "2024-01-10", "P1", 5), ("1", "A", "2024-01-10", "P3", 5), ("2", "A", "2024-03-01", "P5", 5),
          ("3", "B", "2024-02-01", "P2", 5), ("4", "B", "2024-05-01", "P2", 5),
          ("5", "C", "2024-02-15", "P1", 5), ("5", "C", "2024-02-15", "P2", 5),
          ("6", "D", "2024-03-01", "P5", 5), ("7", "E", "2024-04-01", "P5", 5),
          ("8", "F", "2024-05-01", "P3", 5), ("9", "F", "2024-12-31", "P1", 5),
          ("10", "H", "2024-10-02", "P3", 5), ("11", "H", "2024-12-01", "P1", 5),
          ("12", "G", "2024-11-01", "P1", 5), ("13", "I", "2024-10-03", "P5", 5)]


@pytest.fixture
def firsts():
    return lines_table(FIRSTS)


def test_repeat_rate_per_first_order_category_against_the_overall_rate(firsts):
    got = first_purchase_predictors(firsts, min_customers=1)
    assert list(got.columns) == PREDICTOR_COLUMNS
    # Decor: A F H, all repeat -> 1.0, lift 7/4. Kitchen: A B C, 2 repeat -> 2/3, lift 7/6. Garden: D E -> 0.
    assert got["key"].tolist() == ["Decor", "Kitchen", "Garden"]
    assert got["customers"].tolist() == [3, 3, 2]
    assert got["repeat_customers"].tolist() == [3, 2, 0]
    assert got["repeat_rate"].tolist() == pytest.approx([1.0, 2 / 3, 0.0])
    assert got["overall_repeat_rate"].tolist() == pytest.approx([4 / 7] * 3)
    assert got["lift"].tolist() == pytest.approx([7 / 4, 7 / 6, 0.0])


def test_p_value_compares_the_keys_customers_with_the_other_eligible_customers(firsts):
    got = first_purchase_predictors(firsts, min_customers=1).set_index("key")
    # Decor: 3 of 3 repeat vs 1 of the other 4; a pooled z-test equals chi-square without correction.
    expected = stats.chi2_contingency([[3, 0], [1, 3]], correction=False).pvalue
    assert got.loc["Decor", "p_value"] == pytest.approx(expected)
    assert got.loc["Garden", "p_value"] == pytest.approx(
        stats.chi2_contingency([[0, 2], [4, 1]], correction=False).pvalue)


def test_customers_whose_first_order_is_too_recent_are_left_out(firsts):
    got = first_purchase_predictors(firsts, min_customers=1, min_days=60).set_index("key")
    # With 60 days (first order on or before 2024-11-01) G (Kitchen, no repeat) and I (Garden) count too.
    assert got.loc["Kitchen", "customers"] == 4 and got.loc["Garden", "customers"] == 3
    assert got["overall_repeat_rate"].iloc[0] == pytest.approx(4 / 9)


def test_keys_with_too_few_customers_are_left_out(firsts):
    assert first_purchase_predictors(firsts, min_customers=3)["key"].tolist() == ["Decor", "Kitchen"]


def test_predictors_by_product_name_each_product_of_the_first_order(firsts):
    got = first_purchase_predictors(firsts, by="product", min_customers=1)
    # P3 VASE: A F H all repeat; P1 MUG: A C -> 1/2; P2 PLATE: B C -> 1/2 (tie: key order); P5 SPADE: D E -> 0
    assert got["key"].tolist() == ["P3", "P1", "P2", "P5"]
    assert got["name"].tolist() == ["VASE", "MUG", "PLATE", "SPADE"]
    assert got["repeat_rate"].tolist() == pytest.approx([1.0, 0.5, 0.5, 0.0])


def test_an_explicit_end_date_moves_the_eligibility_cutoff(firsts):
    got = first_purchase_predictors(firsts, min_customers=1, end=dt.date(2024, 12, 30))
    assert got.set_index("key").loc["Decor", "customers"] == 2  # H's 10-02 is now 89 days before


def test_unknown_grouping_is_refused(firsts):
    with pytest.raises(ValueError, match="by must be"):
        first_purchase_predictors(firsts, by="brand")


def test_benjamini_hochberg_matches_the_adjustment_worked_by_hand():
    from analysis.studies.products import benjamini_hochberg

    # sorted 0.01 0.03 0.04 0.5 -> p x 4 / rank: 0.04 0.06 0.0533 0.5, then the running minimum from the top
    got = benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5, np.nan]))
    np.testing.assert_allclose(got[:4], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(got[4])


def random_first_orders(customers: int, products: int, seed: int, effect: dict | None = None):
    """Lines in which each customer's first order holds one random product and whether they order
    again is a coin with chance 0.6, or effect[product] for the products in `effect`."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(customers):
        product = f"P{rng.integers(products)}"
        day = dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(0, 200)))
        rows.append((f"o{i}a", f"c{i}", day, product))
        if rng.random() < (effect or {}).get(product, 0.6):
            rows.append((f"o{i}b", f"c{i}", day + dt.timedelta(days=30), "P0"))
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "product_id"])
    df = df.assign(order_ts=pd.to_datetime(df["order_ts"]), product_name=df["product_id"], category=pd.NA,
                   quantity=1.0, unit_price=5.0, revenue=5.0, country="United Kingdom")
    df = df.astype({c: "string" for c in ["order_id", "customer_id", "product_id", "product_name", "category", "country"]})
    return ibis.duckdb.connect().create_table("lines", ibis.memtable(df))


def test_with_no_real_effect_some_raw_p_values_are_small_but_nothing_survives_the_adjustment():
    from analysis.studies.products import SIGNIFICANCE

    got = first_purchase_predictors(random_first_orders(12_000, 120, seed=1), by="product")
    assert len(got) > 100 and got["customers"].min() >= 50          # every product tested had the support
    assert (got["p_value"] < SIGNIFICANCE).sum() >= 2               # the best of many tests looks like a finding...
    assert (got["q_value"] >= SIGNIFICANCE).all()                   # ...and is not one
    # one product per first order: the products' customers add up to the base every row is compared with
    assert got["eligible_customers"].nunique() == 1 and got["customers"].sum() == got["eligible_customers"].iloc[0]


def test_a_real_effect_survives_the_adjustment_and_keys_under_the_support_are_not_tested():
    got = first_purchase_predictors(random_first_orders(12_000, 120, seed=2, effect={"P7": 0.9}), by="product")
    best = got.sort_values("q_value").iloc[0]
    assert best["key"] == "P7" and best["q_value"] < 0.001 and best["repeat_rate"] > 0.8
    few = first_purchase_predictors(random_first_orders(600, 30, seed=3), by="product")
    assert few.empty                                                  # 20 customers a product: under 50


def random_baskets(customers: int, products: int, seed: int, planted: str | None = None):
    """Each customer in segment S0..S3 at random buys three random products; with `planted`, every
    customer of S1 also buys that product with chance 0.5. Returns (lines, assignments)."""
    rng = np.random.default_rng(seed)
    rows, segments = [], []
    for i in range(customers):
        segment = f"S{rng.integers(4)}"
        segments.append(segment)
        bought = {f"P{p}" for p in rng.choice(products, size=3, replace=False)}
        if planted and segment == "S1" and rng.random() < 0.5:
            bought.add(planted)
        rows += [(f"o{i}", f"c{i}", "2024-03-01 10:00", p) for p in sorted(bought)]
    df = pd.DataFrame(rows, columns=["order_id", "customer_id", "order_ts", "product_id"])
    df = df.assign(order_ts=pd.to_datetime(df["order_ts"]), product_name=df["product_id"], category=pd.NA,
                   quantity=1.0, unit_price=5.0, revenue=5.0, country="United Kingdom")
    df = df.astype({c: "string" for c in ["order_id", "customer_id", "product_id", "product_name", "category", "country"]})
    lines = ibis.duckdb.connect().create_table("lines", ibis.memtable(df))
    people = pd.DataFrame({"customer_id": [f"c{i}" for i in range(customers)], "rfm_segment": segments,
                           "cluster_name": segments}).astype("string")
    return lines, assignments_from(people)


def test_segment_products_with_no_real_effect_have_lifts_above_one_but_none_survives_the_adjustment():
    lines, people = random_baskets(8_000, 100, seed=4)
    raw = segment_affinity(lines, people, top_n=100, significance=1.01)        # every product tested, none dropped
    assert (raw["lift"] > 1.15).any() and raw["q_value"].notna().all()          # chance makes some lifts look big...
    assert segment_affinity(lines, people, top_n=100).empty                     # ...and none is a finding


def test_a_product_planted_in_one_segment_survives_and_is_the_only_one():
    lines, people = random_baskets(8_000, 100, seed=5, planted="P7")
    got = segment_affinity(lines, people, top_n=100)
    assert set(got["segment"]) == {"S1"} and set(got["product_id"]) == {"P7"}
    assert (got["q_value"] < 1e-6).all() and (got["lift"] > 2).all()
