"""Which engine runs the transaction-level stages, and the few things that differ between engines.

DuckDB (the default, embedded) or Apache Spark, both driven through Ibis; a table on any other
Ibis backend can be read through a connection URL (see source.open_url). Everything engine
specific that the stages need is here: connecting, storing an intermediate table, dropping it,
and the dialect name the parsers use to pick engine functions. pyspark is imported only when
Spark is asked for, so the default build stays light and `--help` instant.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import duckdb
import ibis

from analysis.engine import driver
from analysis.engine.memory import engine_settings, memory_ceiling_bytes
from analysis.errors import DataError

ENGINES = ("duckdb", "spark")
SPARK_INSTALL = "pip install -r requirements-spark.txt (pyspark; needs Java 17)"
SPARK_CONNECT_INSTALL = "'pyspark[connect]' (grpcio, grpcio-status, protobuf, googleapis-common-protos, zstandard)"
# Session settings the stages rely on, so Spark reads and computes like DuckDB: wall-clock
# timestamps without a time zone, NULL (not an error) for a value that does not parse or a
# division by zero, and the current datetime parser (no exception for legacy-only patterns).
SPARK_SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    # results reach the driver as Arrow batches (falling back to rows for a type Arrow lacks)
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
}
# Spark DataFrames behind the tables stored on each connection (to release their cache).
_CACHED: dict[tuple[int, str], object] = {}
# Parquet files behind the DuckDB views stored with a folder (see store).
_FILES: dict[tuple[int, str], Path] = {}
_COUNTER = [0]  # numbers the views of stored tables on Spark


def dialect(con) -> str:
    """The Ibis backend name of `con` ('duckdb', 'pyspark', 'postgres', ...)."""
    return getattr(con, "name", "duckdb")


def spark_session(master: str = "local[*]"):
    """The active Spark session, or a new one: Spark Connect when SPARK_REMOTE is set, else
    `master` (local[*], spark://host:7077, yarn, k8s://...). Settings from SPARK_SESSION_CONF.
    Raises DataError with the install command when pyspark or Java is missing."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise DataError("--engine spark needs pyspark, which is not installed",
                        fix=f"install Spark support: {SPARK_INSTALL}") from None
    builder = SparkSession.builder.appName("segment-report")
    if os.environ.get("SPARK_REMOTE"):
        builder = builder.remote(os.environ["SPARK_REMOTE"])
    else:
        builder = (builder.master(master).config("spark.ui.enabled", "false")
                   .config("spark.ui.showConsoleProgress", "false"))
        if master.startswith("local"):
            # Until the input's size is known (driver.size_shuffles): a few partitions suit one machine.
            builder = builder.config("spark.sql.shuffle.partitions", str(max(4, 2 * (os.cpu_count() or 1))))
    remote = bool(os.environ.get("SPARK_REMOTE"))
    if remote:
        _check_reachable(os.environ["SPARK_REMOTE"])
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # JVM missing or failing to start; py4j's and Spark's own errors
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if remote and (isinstance(exc, ImportError) or re.search(r"grpc|protobuf|googleapis|zstandard|must be "
                                                                  r"installed", first, re.I)):
            raise DataError(f"Spark Connect needs pyspark's connect extra ({first})",
                            fix=f"pip install {SPARK_CONNECT_INSTALL}, or unset SPARK_REMOTE") from None
        if remote:
            raise DataError(f"Spark Connect at {os.environ['SPARK_REMOTE']} could not be reached ({first})",
                            fix="check SPARK_REMOTE and that the Connect server runs, or unset it") from None
        raise DataError(f"Spark could not start ({first})",
                        fix="install Java 17 and check JAVA_HOME, or use --engine duckdb") from None
    if not os.environ.get("SPARK_REMOTE"):
        session.sparkContext.setLogLevel("ERROR")
    for key, value in SPARK_SESSION_CONF.items():
        try:
            session.conf.set(key, value)
        except Exception:  # noqa: BLE001 - a managed service may refuse a setting; the default is kept
            pass
    return session


def day_start(day: dt.date) -> ibis.Value:
    """Midnight at the start of `day` as an engine timestamp: lines before it are the ones dated
    before that day (the as-of date is exclusive everywhere)."""
    return ibis.timestamp(dt.datetime.combine(day, dt.time()))


def connect(engine: str, workdir: Path, spark_master: str = "local[*]"):
    """An Ibis connection for a build: DuckDB on a database file in `workdir`, or Spark."""
    if engine == "spark":
        session = spark_session(spark_master)
        try:
            backend = ibis.pyspark
        except ImportError:  # Ibis' pyspark backend lacks one of its own dependencies
            raise DataError("--engine spark needs Ibis' pyspark backend, which is not installed",
                            fix=f"install Spark support: {SPARK_INSTALL}") from None
        return backend.connect(session)
    return duckdb_connect(workdir)


def _check_reachable(url: str, seconds: float = 10.0) -> None:
    """Refuse a Spark Connect address nothing answers at, at once: the client would retry for
    minutes before it said so."""
    import socket

    found = re.match(r"sc://\[?([^\]/:;]+)\]?(?::(\d+))?", url)
    if not found:
        raise DataError(f"SPARK_REMOTE is not a Spark Connect address: {url!r}",
                        fix="set it like sc://host:15002, or unset it")
    host, port = found.group(1), int(found.group(2) or 15002)
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as exc:
        raise DataError(f"Spark Connect at {host}:{port} could not be reached ({exc.strerror or exc})",
                        fix="check SPARK_REMOTE and that the Connect server runs, or unset it") from None


def memtable(df) -> ibis.Table:
    """A pandas frame as an in-memory table of any engine. Its columns go through Arrow in one
    piece each: pandas keeps a concatenated text column as several Arrow chunks, which Spark
    Connect cannot send (TypeError: Cannot convert pyarrow.lib.ChunkedArray to pyarrow.lib.Array)."""
    import pyarrow as pa

    return ibis.memtable(pa.Table.from_pandas(df, preserve_index=False).combine_chunks())


def describe(con) -> dict[str, str]:
    """Which engine did the transaction-level work, for summary.json: its name, and on Spark the
    master (or the Spark Connect address) and Spark's version."""
    kind = dialect(con)
    if kind != "pyspark":
        return {"name": kind}
    remote = os.environ.get("SPARK_REMOTE")
    session = getattr(con, "_session", None)
    out = {"name": "spark", "version": str(getattr(session, "version", ""))}
    if remote:
        out["remote"] = re.sub(r"(token=)[^;]*", r"\1***", remote)  # never a credential
    else:
        out["master"] = str(session.sparkContext.master) if session is not None else ""
    return out


def size_for_input(con, files: tuple[str, ...], table: ibis.Table) -> int | None:
    """On Spark, set the shuffle partitions from the input's size (driver.size_shuffles): local
    files' bytes, or Spark's own estimate of a table or cluster path. The number set, or None."""
    if dialect(con) != "pyspark":
        return None
    session = con._session
    local = [Path(f) for f in files if Path(f).is_file()]
    if local:
        size = float(sum(p.stat().st_size for p in local))
    else:
        try:
            size = driver.table_bytes(session.sql(con.compile(table)))
        except Exception:  # noqa: BLE001 - no estimate: the session's setting stays
            size = None
    return driver.size_shuffles(session, size)


def duckdb_connect(workdir: Path):
    """A DuckDB database file in the build's temporary folder. Its stored tables are compressed
    and leave memory when the budget is reached, so the engine's memory stays bounded whatever
    the input size; the file goes with the folder."""
    con = ibis.duckdb.connect(str(Path(workdir) / "engine.duckdb"))
    engine_settings(con, workdir)
    return con


def store(con, name: str, expr: ibis.Table, folder: Path | None = None) -> ibis.Table:
    """`expr` computed once and kept as table `name` (replacing one of that name).

    DuckDB: a table in the build's database file, or with `folder`, a Parquet file there (for the
    largest table, the lines: writing Parquet is faster than the database's own storage, which
    keeps every string column in uncompressed form until it compresses it at commit, and reads
    back as fast; benchmarks/bench_build.py measures it). Spark: a cached DataFrame, materialised now and
    registered as a temporary view under a fresh name (`name` plus a number). Views are never
    replaced or dropped there: Spark uncaches, with everything computed from it, the cached data
    of a view that is replaced or dropped. Other backends: a temporary table."""
    kind = dialect(con)
    if kind == "duckdb":
        return with_memory(con, lambda: _store_duckdb(con, name, expr, folder))
    drop(con, name)
    if kind == "pyspark":
        _COUNTER[0] += 1
        view = f"{name}_{_COUNTER[0]}"
        con.create_view(f"{view}_query", expr)  # registers the in-memory tables the query uses
        frame = con.raw_sql(f"SELECT * FROM `{view}_query`").cache()
        frame.count()
        frame.createTempView(view)
        _CACHED[(id(con), name)] = frame
        return con.table(view)
    return con.create_table(name, expr, temp=True, overwrite=True)


def _store_duckdb(con, name: str, expr: ibis.Table, folder: Path | None) -> ibis.Table:
    drop(con, name)
    if folder is None:
        return con.create_table(name, expr)
    path = Path(folder) / f"{name}.parquet"
    con.to_parquet(expr, path, compression="zstd")
    _FILES[(id(con), name)] = path
    # a view of the database (not a temporary one), so that Background's connection sees it
    literal = str(path).replace("'", "''")
    con.raw_sql(f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM read_parquet('{literal}')")
    return con.table(name)


def drop(con, name: str) -> None:
    """Drop table `name` stored by `store`, if there is one."""
    kind = dialect(con)
    if kind == "duckdb":
        # Raw SQL: Ibis 12's drop_table(force=True) writes a statement DuckDB 2 cannot parse.
        path = _FILES.pop((id(con), name), None)
        con.raw_sql(f'DROP {"VIEW" if path else "TABLE"} IF EXISTS "{name}"')
        if path:
            path.unlink(missing_ok=True)
    elif kind == "pyspark":
        frame = _CACHED.pop((id(con), name), None)
        if frame is not None:
            frame.unpersist()  # not cascading: tables stored from this one keep their own cache
    else:
        con.drop_table(name, force=True)


def close(con) -> None:
    """Release a build's connection: DuckDB closes; on Spark the stored tables are dropped and
    the session is left to its owner (the process, a notebook, or a test's shared session)."""
    if dialect(con) == "pyspark":
        for key in [k for k in _CACHED if k[0] == id(con)]:
            drop(con, key[1])
        return
    for key in [k for k in _FILES if k[0] == id(con)]:
        del _FILES[key]  # the files go with the build's temporary folder
    con.disconnect()


def read_errors(con) -> tuple[type[Exception], ...]:
    """The engine's own errors for a row it cannot read (DuckDB's are caught by the caller)."""
    if dialect(con) != "pyspark":
        return ()
    from pyspark.errors import PySparkException

    return (PySparkException,)


@ibis.udf.scalar.builtin(name="xxhash64")
def _xxhash64(value) -> int:  # Spark's 64-bit hash (its hash() has 32 bits: many collisions)
    ...


def hash64(value: ibis.Value, kind: str = "duckdb") -> ibis.Value:
    """A 64-bit hash of `value` (a column, or a struct of columns) on engine `kind` (dialect()).

    Grouping by such numbers instead of by text is cheaper, and for DuckDB 2 it is what lets an
    aggregation of tens of millions of groups spill within its memory budget; the stages that do
    so check that the keys they hash are distinct (a collision falls back to the text)."""
    return _xxhash64(value) if kind == "pyspark" else value.hash()


def backref(group: int, kind: str) -> str:
    """Group `group` in a regular-expression replacement: \\1 (RE2, DuckDB) or $1 (Java: Spark)."""
    return f"${group}" if kind in ("pyspark", "trino", "databricks") else f"\\{group}"


# The connection of the background worker thread (see Background); unset on other threads.
_LOCAL = threading.local()


def execute(expr, **kwargs):
    """`expr.execute()`, or inside a Background task, on that task's own connection; with more
    memory when DuckDB runs out of its budget (see with_memory)."""
    con = getattr(_LOCAL, "con", None)
    backend = con if con is not None else _backend(expr)
    if backend is not None and dialect(backend) == "duckdb":  # (a Background task's connection is DuckDB's)
        return with_memory(backend, lambda: _duckdb_result(backend, expr, **kwargs))
    if backend is not None and dialect(backend) == "pyspark":
        return _spark_result(backend, expr, **kwargs)
    return with_memory(backend, lambda: expr.execute(**kwargs))


def _spark_result(backend, expr, **kwargs):
    """expr.execute() on Spark, a table's size checked against the driver's limit first, and the
    driver's own limit errors as one message (see driver)."""
    session = getattr(backend, "_session", None)
    if session is not None and isinstance(expr, ibis.Table):
        driver.check_collect(session, expr)
    try:
        return expr.execute(**kwargs)
    except Exception as exc:
        found = driver.driver_error(exc)
        if found is None:
            raise
        raise found from None


def _duckdb_result(backend, expr, **kwargs):
    """What `backend.execute(expr)` returns (a DataFrame, Series or scalar, with Ibis' types),
    converted from Arrow column by column. Ibis 12's DuckDB execute turns every column that holds
    a NULL into a Python list first: twenty times slower for a million customers' nullable
    features (1.4 s against 0.06 s for ten such columns). Nested and dictionary columns go the
    same way as there (tests/test_engine.py checks the two agree on every type the stages fetch)."""
    import pandas as pd
    import pyarrow.types as pat
    from ibis.backends.duckdb.converter import DuckDBPandasData

    table = expr.as_table()
    arrow = backend.to_pyarrow(table, **kwargs)
    df = pd.DataFrame({
        name: col.to_pylist() if pat.is_nested(col.type) or pat.is_dictionary(col.type) else col.to_pandas()
        for name, col in zip(arrow.column_names, arrow.columns)
    })
    return expr.__pandas_result__(DuckDBPandasData.convert_table(df, table.schema()))


def kind_of(expr) -> str:
    """The dialect of the engine an expression runs on ('duckdb' for one not bound to any)."""
    backend = _backend(expr)
    return dialect(backend) if backend is not None else "duckdb"


def _backend(expr):
    try:
        return expr._find_backend()
    except Exception:  # noqa: BLE001 - an unbound expression (memtables only): run as it is
        return None


# Raises of the engine's memory budget during this process, as sentences (see with_memory).
MEMORY_NOTES: list[str] = []
_MEMORY_LOCK = threading.Lock()
_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
          "TIB": 2**40}


def _memory_limit(raw) -> float:
    """DuckDB's memory_limit in bytes."""
    text = raw.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    number, unit = re.fullmatch(r"\s*([\d.]+)\s*([A-Za-z]*)\s*", text).groups()
    return float(number) * _UNITS[(unit or "B").upper()]


def with_memory(backend, run):
    """run(), and when DuckDB runs out of memory within its budget, run it again with twice the
    budget, up to memory.ENGINE_MEMORY_SHARE of the machine's memory. The budget is where the
    engine starts spilling, and most work spills within it; a few aggregations of many string
    groups cannot (DuckDB's own limits, met at the largest sizes benchmarks/bench_build.py builds),
    and a build that needs more should get it rather than fail. Each raise is noted in
    MEMORY_NOTES; the error is raised again once the budget is at its ceiling."""
    if backend is None or dialect(backend) != "duckdb":
        return run()

    raw = backend.con
    while True:
        seen = _memory_limit(raw)
        try:
            return run()
        except duckdb.OutOfMemoryException:
            with _MEMORY_LOCK:
                current = _memory_limit(raw)
                if current <= seen:  # (another thread may have raised it meanwhile)
                    target = min(2 * current, memory_ceiling_bytes())
                    if target <= current * 1.01:
                        raise
                    raw.execute(f"SET memory_limit = '{int(target // 2**20)}MiB'")
                    MEMORY_NOTES.append(f"The engine needed more memory than its budget of {current / 2**20:,.0f} MiB: "
                                        f"raised to {target / 2**20:,.0f} MiB (SEGMENT_REPORT_ENGINE_MB sets the "
                                        "starting budget).")


class Background:
    """Engine queries run in one worker thread while the caller does customer-level work (which
    mostly leaves the engine's threads idle): `submit(fn, *args)` gives a Future of fn(*args).

    A task's queries (through `execute`) go to a connection of its own on the same DuckDB
    database: one connection cannot run two queries at once. Tasks run one at a time, in the
    order submitted, and may only read (stored tables must be views or tables of the database,
    not temporary ones, which another connection cannot see). On other engines a task runs at
    once, on the caller's thread."""

    def __init__(self, con):
        self._con = con
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine") \
            if dialect(con) == "duckdb" else None
        self._cursor = None
        self.timings: dict[str, float] = {}  # seconds spent per task function (for benchmarks)

    def submit(self, fn, *args, **kwargs) -> Future:
        if self._pool is None:
            future = Future()
            try:
                future.set_result(self._timed(fn, args, kwargs))
            except Exception as exc:  # noqa: BLE001 - raised again by future.result(), where it is awaited
                future.set_exception(exc)
            return future
        return self._pool.submit(self._run, fn, args, kwargs)

    def _run(self, fn, args, kwargs):
        if self._cursor is None:
            self._cursor = self._con.con.cursor()
            _LOCAL.con = ibis.duckdb.from_connection(self._cursor)
        return self._timed(fn, args, kwargs)

    def _timed(self, fn, args, kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            name = getattr(fn, "__name__", "task")
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start

    def close(self) -> None:
        """Stop: tasks not started are dropped, a running query is interrupted."""
        if self._pool is None:
            return
        if self._cursor is not None:
            try:
                self._cursor.interrupt()
            except Exception:  # noqa: BLE001 - nothing running, or already closed
                pass
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._cursor is not None:
            self._cursor.close()
