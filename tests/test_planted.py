"""The recovery benchmark's planted data (benchmarks/planted.py): repeatable, within its stated
bounds, and read by the build like any Online Retail II export."""

import ibis
import pytest

from analysis.read import returns
from analysis.read.clean import clean
from analysis.customers.features import customer_features
from analysis.schema import detect_columns
from analysis.read.source import open_source
from benchmarks.planted import COLUMNS, FAMILIES, SHOPPERS, planted


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_family_holds_its_own_groups_3_to_8_in_all_of_2_to_50_percent(family):
    tx, truth = planted(family, seed=4, n_customers=300)
    groups = truth.value_counts(normalize=True)
    assert set(FAMILIES[family].groups) <= set(groups.index) <= set(SHOPPERS)
    assert 3 <= len(groups) <= 8 and groups.min() >= 0.019 and groups.max() <= 0.501
    assert list(tx.columns) == COLUMNS


def test_the_same_seed_gives_the_same_file_and_another_seed_another():
    a, b, c = planted("returns", 1, 200), planted("returns", 1, 200), planted("returns", 2, 200)
    assert a[0].equals(b[0]) and a[1].equals(b[1]) and not a[0].equals(c[0])


@pytest.mark.slow
def test_the_build_reads_a_planted_file_and_finds_every_planted_customer(tmp_path):
    tx, truth = planted("five_groups", seed=3, n_customers=300)
    path = tmp_path / "planted.csv"
    tx.to_csv(path, index=False)
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    mapping = detect_columns(list(src.columns))
    assert (mapping["order_id"], mapping["customer_id"], mapping["unit_price"]) == ("Invoice", "Customer ID", "Price")
    cleaned = clean(src.table, mapping, con, shown=str(path), as_of=None)
    netted = returns.net_of_returns(cleaned, con)
    customers = customer_features(netted.lines, netted.customer_returns, cleaned.as_of)
    ledger = cleaned.ledger.set_index("reason")["rows"]
    assert ledger["cancellation"] > 0 and ledger["missing_customer"] > 0 and ledger["non_product"] > 0
    found = set(customers["customer_id"])
    assert set(truth.index) - found <= set(netted.returned_everything["customer_id"])  # everyone else is there
    assert len(found - set(truth.index)) == 3  # the outliers, of no planted group
