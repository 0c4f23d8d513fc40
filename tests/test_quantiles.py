"""Exact medians from counts per value agree with pandas on odd, even, tied and missing values."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from analysis.engine.quantiles import median_by, median_of_counts


@pytest.fixture
def con():
    return ibis.duckdb.connect()


def test_median_by_group_matches_pandas_with_ties_even_counts_and_missing_values(con):
    rng = np.random.default_rng(5)
    n = 5_000
    frame = pd.DataFrame({
        "product_id": rng.choice(["a", "b", "c", "d", "e"], size=n),
        "price": rng.choice([0.5, 1.25, 2.0, 3.5, 9.99, 10.0], size=n),  # many ties
    })
    frame.loc[rng.choice(n, 300, replace=False), "price"] = np.nan
    extra = pd.DataFrame({"product_id": ["single", "pair", "pair", "none"], "price": [4.0, 1.0, 2.0, np.nan]})
    frame = pd.concat([frame, extra], ignore_index=True)
    got = median_by(con.create_table("t", ibis.memtable(frame)), "price", ["product_id"]).execute()
    got = got.set_index("product_id")["median"].sort_index()
    want = frame.groupby("product_id")["price"].median().dropna().sort_index()
    assert got.index.tolist() == want.index.tolist()  # a group with no values has no median
    assert np.allclose(got.to_numpy(), want.to_numpy(), rtol=0, atol=1e-12)
    assert got["pair"] == 1.5 and got["single"] == 4.0


@pytest.mark.parametrize("values, expected", [
    ([3.0, 1.0, 2.0], 2.0),
    ([4.0, 1.0, 3.0, 2.0], 2.5),
    ([5.0, 5.0, 5.0, 1.0], 5.0),
    ([7.0], 7.0),
])
def test_overall_median_is_the_middle_value_or_the_mean_of_the_two_middle_ones(values, expected):
    distinct, counts = np.unique(values, return_counts=True)
    assert median_of_counts(distinct[::-1], counts[::-1]) == expected  # in any order


def test_overall_median_of_counts_matches_numpy_on_many_tied_values():
    rng = np.random.default_rng(3)
    for n in (10_001, 10_000):  # odd and even counts
        values = rng.choice([0.5, 1.25, 2.0, 3.5, 9.99], size=n)
        distinct, counts = np.unique(values, return_counts=True)
        assert median_of_counts(distinct, counts) == np.median(values)


def test_overall_median_of_no_values_is_none():
    assert median_of_counts(np.array([np.nan]), np.array([2])) is None
    assert median_of_counts(np.array([]), np.array([])) is None
