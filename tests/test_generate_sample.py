"""The sample generator plants customer groups whose truth is known, with countable noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data.generate_sample import COLUMNS, GROUPS, generate, write_csv

NON_PRODUCT = {"POST", "DOT", "M", "BANK CHARGES", "AMAZONFEE"}
END = pd.Timestamp("2025-12-31")


@pytest.fixture(scope="module")
def noisy():
    return generate(300, seed=11)


@pytest.fixture(scope="module")
def clean():
    return generate(300, seed=11, noise=False)


def purchases(df: pd.DataFrame) -> pd.DataFrame:
    """Product lines of known customers that are not cancellations."""
    keep = (df["customer_id"] != "") & ~df["order_id"].str.startswith("C") & ~df["product_id"].isin(NON_PRODUCT)
    return df[keep]


def members(truth: pd.Series, group: str) -> pd.Index:
    return truth.index[truth == group]


def order_dates(df: pd.DataFrame) -> pd.DataFrame:
    """One row per purchase order: customer and timestamp."""
    orders = purchases(df).drop_duplicates("order_id")[["customer_id", "order_id", "order_date"]]
    return orders.assign(order_date=pd.to_datetime(orders["order_date"]))


def test_the_same_seed_gives_identical_frames():
    first, second = generate(200, seed=5), generate(200, seed=5)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_series_equal(first[1], second[1])


def test_different_seeds_give_different_frames():
    assert not generate(200, seed=5)[0].equals(generate(200, seed=6)[0])


def test_columns_follow_the_contract(noisy):
    df, truth = noisy
    assert list(df.columns) == COLUMNS
    assert all(pd.api.types.is_string_dtype(df[c]) for c in COLUMNS if c not in ("quantity", "unit_price"))
    assert pd.api.types.is_integer_dtype(df["quantity"]) and pd.api.types.is_float_dtype(df["unit_price"])
    assert (df["unit_price"].round(2) == df["unit_price"]).all()
    assert pd.to_datetime(df["order_date"], format="%Y-%m-%d %H:%M:%S").notna().all()
    assert df["order_id"].str.fullmatch(r"C?\d+").all()
    assert set(truth.unique()) <= set(GROUPS)


def test_lines_are_sorted_by_date_then_order_id(noisy):
    df, _ = noisy
    keys = list(zip(df["order_date"], df["order_id"]))
    assert keys == sorted(keys)


def test_each_order_has_one_timestamp_and_one_customer(noisy):
    per_order = noisy[0].groupby("order_id")[["order_date", "customer_id", "country"]].nunique()
    assert (per_order == 1).all().all()


def test_truth_covers_every_non_guest_customer_exactly_once(noisy):
    df, truth = noisy
    assert truth.index.is_unique and len(truth) == 300
    assert set(df.loc[df["customer_id"] != "", "customer_id"]) == set(truth.index)


def test_mix_sets_the_share_of_each_group_and_missing_groups_get_none():
    _, truth = generate(1000, seed=2, mix={"loyal": 0.7, "one_off": 0.3})
    shares = truth.value_counts(normalize=True)
    assert set(shares.index) == {"loyal", "one_off"}
    assert shares["loyal"] == pytest.approx(0.7, abs=0.01)


def test_default_shares_follow_the_group_specs():
    shares = generate(1000, seed=2, noise=False)[1].value_counts(normalize=True)
    for name, spec in GROUPS.items():
        assert shares[name] == pytest.approx(spec.share, abs=0.01)


def test_a_mix_naming_an_unknown_group_is_refused():
    with pytest.raises(ValueError):
        generate(100, mix={"vip": 1.0})


def test_clean_lines_have_no_cancellations_guests_fees_duplicates_or_bad_prices(clean):
    df, _ = clean
    assert not df["order_id"].str.startswith("C").any()
    assert not (df["customer_id"] == "").any()
    assert not df["product_id"].isin(NON_PRODUCT).any()
    assert not df.duplicated().any()
    assert (df["unit_price"] > 0).all() and (df["quantity"] > 0).all()


def test_noisy_lines_contain_every_kind_of_noise(noisy):
    df, _ = noisy
    assert df["order_id"].str.startswith("C").sum() > 0
    assert 0.03 < (df["customer_id"] == "").mean() < 0.08  # about 5% guest lines
    assert NON_PRODUCT <= set(df["product_id"])
    assert df.duplicated().sum() > 0
    assert (df["unit_price"] == 0).sum() > 0


def test_every_cancellation_undoes_an_earlier_purchase_of_the_same_product_and_price(noisy):
    df, _ = noisy
    cancels = df[df["order_id"].str.startswith("C")].reset_index()
    assert (cancels["quantity"] < 0).all()
    bought = df[~df["order_id"].str.startswith("C") & (df["quantity"] > 0)]
    pairs = cancels.merge(bought, on=["customer_id", "product_id", "unit_price"], suffixes=("", "_bought"))
    earlier = pairs[pairs["order_date_bought"] < pairs["order_date"]]
    assert set(earlier["index"]) == set(cancels["index"])


def test_one_off_customers_have_exactly_one_order(noisy):
    df, truth = noisy
    orders = order_dates(df)
    counts = orders[orders["customer_id"].isin(members(truth, "one_off"))].groupby("customer_id").size()
    assert len(counts) == (truth == "one_off").sum() and (counts == 1).all()


def test_lapsed_big_customers_buy_nothing_in_the_second_half(noisy):
    df, truth = noisy
    theirs = df[df["customer_id"].isin(members(truth, "lapsed_big"))]
    assert pd.to_datetime(theirs["order_date"]).max() < pd.Timestamp("2025-01-01")
    assert order_dates(theirs).groupby("customer_id").size().min() >= 3


def test_new_customers_first_order_is_within_the_last_60_days(noisy):
    df, truth = noisy
    orders = order_dates(df)
    first = orders[orders["customer_id"].isin(members(truth, "new"))].groupby("customer_id")["order_date"].min()
    assert ((END + pd.Timedelta(days=1) - first).dt.days <= 60).all()


def test_wholesale_orders_hold_more_items_than_loyal_ones(noisy):
    df, truth = noisy
    lines = purchases(df)
    items = lines.groupby("order_id").agg(customer=("customer_id", "first"), items=("quantity", "sum"))
    by_group = items.groupby(truth.reindex(items["customer"]).to_numpy())["items"].mean()
    assert by_group["wholesale"] > 5 * by_group["loyal"]


def test_returners_cancel_a_much_larger_share_of_their_spend(noisy):
    df, truth = noisy
    lines = df[(df["customer_id"] != "") & ~df["product_id"].isin(NON_PRODUCT)]
    value = lines["quantity"] * lines["unit_price"]
    cancelled = lines["order_id"].str.startswith("C")
    spent = value[~cancelled].groupby(lines["customer_id"]).sum()
    returned = (-value[cancelled]).groupby(lines["customer_id"]).sum().reindex(spent.index, fill_value=0)
    share = (returned / spent).groupby(truth.reindex(spent.index).to_numpy()).median()
    assert share["returners"] > 0.25
    assert share.drop("returners").max() < 0.05


def test_regular_groups_order_at_their_planted_rhythm(clean):
    df, truth = clean
    orders = order_dates(df).sort_values("order_date")
    gaps = orders.groupby("customer_id")["order_date"].apply(lambda s: s.diff().dt.days.mean())
    median_gap = gaps.groupby(truth.reindex(gaps.index).to_numpy()).median()
    assert median_gap["wholesale"] < median_gap["loyal"] < median_gap["returners"]
    assert np.isnan(median_gap.get("one_off", np.nan))


def test_written_gzip_files_are_byte_identical(tmp_path, clean):
    first, second = tmp_path / "a" / "s.csv.gz", tmp_path / "b" / "s.csv.gz"
    for path in (first, second):
        path.parent.mkdir()
        write_csv(clean[0].head(500), path)
    assert first.read_bytes() == second.read_bytes()
    back = pd.read_csv(first, dtype=str)
    assert list(back.columns) == COLUMNS and len(back) == 500
