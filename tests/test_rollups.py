"""Orders and products summed from the kept lines of the twelve-line file, against values worked
out by hand; stored or not, they are the same tables."""

import ibis
import pandas as pd
import pytest

from analysis.engine import rollups
from analysis.read.clean import clean
from analysis.schema import detect_columns
from analysis.read.source import open_source

# Kept lines of the twelve-line file (conftest.TINY_LINES):
#   A 1001 P1 MUG 2 x 5 = 10, 1001 P2 PLATE 1 x 20 = 20, 1007 P3 VASE 1 x 30 = 30 (United Kingdom)
#   B 1002 P1 MUG 4 x 5 = 20, 1010 P1 MUG 2 x 5 = 10 (France)


@pytest.fixture
def kept(tiny_csv):
    con = ibis.duckdb.connect()
    src = open_source(tiny_csv, con)
    cleaned = clean(src.table, detect_columns(list(src.columns)), con, shown="tiny", as_of=None)
    return con, cleaned.lines


def frame(table: ibis.Table, keys: list[str]) -> pd.DataFrame:
    return table.execute().sort_values(keys).reset_index(drop=True)


def test_orders_sum_lines_per_customer_and_order(kept):
    _, lines = kept
    got = frame(rollups.orders(lines), ["customer_id", "order_id"])
    assert got["order_id"].tolist() == ["1001", "1007", "1002", "1010"]
    assert got["revenue"].tolist() == [30.0, 30.0, 20.0, 10.0]
    assert got["items"].tolist() == [3.0, 1.0, 4.0, 2.0] and got["n_lines"].tolist() == [2, 1, 1, 1]
    assert got["country"].tolist() == ["United Kingdom"] * 2 + ["France"] * 2
    assert str(got["order_ts"].iloc[0]) == "2024-01-05 10:00:00"


def test_products_carry_their_name_and_median_price(kept):
    _, lines = kept
    got = frame(rollups.products(lines), ["product_id"])
    assert got.to_dict("list") == {"product_id": ["P1", "P2", "P3"], "product_name": ["MUG", "PLATE", "VASE"],
                                   "median_price": [5.0, 20.0, 30.0]}


def test_stored_tables_are_the_same_as_the_expressions_and_are_forgotten_on_request(kept):
    con, lines = kept
    keys = {"orders": ["customer_id", "order_id"], "products": ["product_id"]}
    expected = {name: frame(getattr(rollups, name)(lines), keys[name]) for name in rollups.NAMES}
    rollups.store(con, lines)
    try:
        for name in rollups.NAMES:
            table = getattr(rollups, name)(lines)
            assert table.get_name().endswith("._" + name)  # read from the stored table
            pd.testing.assert_frame_equal(frame(table, keys[name]), expected[name])
    finally:
        rollups.forget(lines)
    with pytest.raises(AttributeError):  # an expression again, not a named table
        rollups.orders(lines).get_name()
