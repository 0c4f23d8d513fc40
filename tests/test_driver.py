"""The Spark driver's limits and shuffle sizing, without Spark: sizes read as Spark writes them,
partitions from the input's size, and Spark's own limit errors as one message naming the setting
(the same checks against a running Spark are in tests/test_spark.py)."""

from __future__ import annotations

import ibis
import pytest

from analysis.engine import driver
from analysis.errors import DataError


@pytest.mark.parametrize("text, expected", [("1g", 2**30), ("512m", 512 * 2**20), ("2048k", 2 * 2**20),
                                            ("0", 0), ("1.5g", 1.5 * 2**30), ("4GB", 4 * 2**30), ("100", 100)])
def test_sizes_read_as_spark_writes_them(text, expected):
    assert driver.size_bytes(text) == expected


def test_a_size_spark_would_not_read_is_refused():
    with pytest.raises(ValueError):
        driver.size_bytes("lots")


def test_shuffle_partitions_follow_the_input_size_with_two_per_core_at_least():
    mb = 2**20
    assert driver.shuffle_partitions(10 * mb, cores=2) == 4            # small input: two per core
    assert driver.shuffle_partitions(10 * mb, cores=64) == 128         # a cluster's cores still all work
    assert driver.shuffle_partitions(6_400 * mb, cores=2) == 100       # one per 64 MB of input
    assert driver.shuffle_partitions(10**15, cores=2) == driver.MAX_SHUFFLE_PARTITIONS


def test_a_row_is_estimated_from_its_columns():
    schema = ibis.schema({"customer_id": "string", "orders": "int64", "revenue": "float64", "last": "timestamp"})
    assert driver.row_bytes(schema) == driver.STRING_BYTES + 3 * 8


def test_sparks_own_limit_errors_name_the_setting_to_raise():
    found = driver.driver_error(RuntimeError(
        "Job aborted due to stage failure: Total size of serialized results of 3 tasks (1100.0 MiB) is bigger "
        "than spark.driver.maxResultSize (1024.0 MiB)"))
    assert isinstance(found, DataError) and "maxResultSize" in str(found) and "spark.driver.memory" in found.fix
    heap = driver.driver_error(RuntimeError("py4j.protocol.Py4JJavaError: java.lang.OutOfMemoryError: Java heap space"))
    assert isinstance(heap, DataError) and "out of memory" in str(heap)
    assert driver.driver_error(RuntimeError("a column was not found")) is None
