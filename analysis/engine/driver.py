"""Spark settings that depend on the data, and the driver's limits.

Shuffle partitions are sized from the input (one per SHUFFLE_BYTES of input, at least two per core
of the cluster), whatever the master: Spark's default of 200 per shuffle makes a small build run
thousands of tasks on a cluster, and one partition per 64 MB keeps each task's share bounded on a
large one. Adaptive execution then merges the ones a shuffle leaves small.

Every collect to the driver is checked first: its rows are counted on the cluster and its size
estimated from its columns; a result larger than spark.driver.maxResultSize is refused with a
message naming the setting, before Spark computes and sends it (Spark would fail after, or the
driver run out of heap). The driver's own out-of-memory error gets the same kind of message.
"""

from __future__ import annotations

import math
import re

from analysis.errors import DataError

SHUFFLE_BYTES = 64 * 2**20      # input bytes per shuffle partition
MAX_SHUFFLE_PARTITIONS = 4000
DEFAULT_RESULT_LIMIT = "1g"     # Spark's default spark.driver.maxResultSize
STRING_BYTES = 32               # assumed size of a text value in a collected row (numbers: 8)
RAISE_FIX = ("raise spark.driver.maxResultSize and spark.driver.memory (spark-defaults.conf, or "
             "PYSPARK_SUBMIT_ARGS='--driver-memory 8g --conf spark.driver.maxResultSize=4g pyspark-shell'), "
             "or build on fewer customers (split the data by country or region)")
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?\s*", re.I)


def size_bytes(text: str) -> float:
    """Spark's size notation ('1g', '512m', '2048k', '0') in bytes; 0 means no limit."""
    found = _SIZE.fullmatch(str(text))
    if not found:
        raise ValueError(f"not a size: {text!r}")
    return float(found.group(1)) * 1024 ** "bkmgtp".index(found.group(2).lower() or "b")


def shuffle_partitions(input_bytes: float, cores: int) -> int:
    """Partitions for every shuffle of a build over `input_bytes` of input on `cores` cores."""
    by_size = math.ceil(max(input_bytes, 0) / SHUFFLE_BYTES)
    return int(min(MAX_SHUFFLE_PARTITIONS, max(2 * max(cores, 1), by_size)))


def size_shuffles(session, input_bytes: float | None) -> int | None:
    """Set spark.sql.shuffle.partitions from the input's size (None: unknown, the session's
    setting is kept). Returns the number set."""
    if input_bytes is None:
        return None
    try:
        cores = int(session.sparkContext.defaultParallelism)
    except Exception:  # noqa: BLE001 - Spark Connect has no SparkContext: the client cannot see the cores
        cores = 8
    partitions = shuffle_partitions(input_bytes, cores)
    session.conf.set("spark.sql.shuffle.partitions", str(partitions))
    return partitions


def table_bytes(frame) -> float | None:
    """Spark's own estimate of a DataFrame's size (files' sizes, catalog statistics), or None
    where it is not available (Spark Connect) or not known."""
    try:
        size = float(frame._jdf.queryExecution().optimizedPlan().stats().sizeInBytes().toString())
    except Exception:  # noqa: BLE001 - no JVM handle on Spark Connect
        return None
    return size if 0 < size < 2**62 else None  # Long.MaxValue: unknown


def result_limit(session) -> float:
    """spark.driver.maxResultSize in bytes (0: no limit)."""
    try:
        text = session.sparkContext.getConf().get("spark.driver.maxResultSize", DEFAULT_RESULT_LIMIT)
    except Exception:  # noqa: BLE001 - Spark Connect: the server's setting, as far as the client can read it
        try:
            text = session.conf.get("spark.driver.maxResultSize", DEFAULT_RESULT_LIMIT)
        except Exception:  # noqa: BLE001
            text = DEFAULT_RESULT_LIMIT
    return size_bytes(text or DEFAULT_RESULT_LIMIT)


def row_bytes(schema) -> int:
    """Estimated bytes of one collected row of an Ibis schema."""
    return sum(STRING_BYTES if t.is_string() or t.is_binary() or t.is_nested() else 8 for t in schema.types)


def check_collect(session, table, what: str = "a result") -> None:
    """Refuse to collect `table` (an Ibis table expression on Spark) when its estimated size is
    above spark.driver.maxResultSize. Counts its rows on the cluster (one job)."""
    limit = result_limit(session)
    if not limit:
        return
    width = row_bytes(table.schema())
    rows = int(table.count().execute())
    if rows * width > limit:
        raise DataError(f"{what} of {rows:,} rows (about {rows * width / 2**20:,.0f} MiB) would be collected to the "
                        f"Spark driver, over spark.driver.maxResultSize ({limit / 2**20:,.0f} MiB)", fix=RAISE_FIX)


def driver_error(exc: Exception) -> DataError | None:
    """A DataError naming the setting for Spark's own errors about the driver's limits, else None."""
    text = str(exc)
    if "maxResultSize" in text:
        first = next((line for line in text.splitlines() if "maxResultSize" in line), text)
        return DataError(f"a result was larger than the Spark driver accepts ({first.strip()[:200]})", fix=RAISE_FIX)
    if "java.lang.OutOfMemoryError" in text:
        return DataError("the Spark driver ran out of memory (java.lang.OutOfMemoryError) while collecting a "
                         "result", fix=RAISE_FIX)
    return None
