#!/usr/bin/env python3
"""Speed and memory benchmark of the report build against the engine's floor.

    python benchmarks/bench_build.py                    # 1M and 10M lines of CSV
    python benchmarks/bench_build.py --sizes 100k       # smoke run
    python benchmarks/bench_build.py --sizes 100M --format parquet   # only on request: ~1 GB of Parquet
    python benchmarks/bench_build.py --sizes 100M       # only on request: ~10 GB of CSV
    python benchmarks/bench_build.py --sizes 100M --format parquet --shape many-customers   # ~9M customers

For each size, on ONE cached data set (benchmarks/out/, made by the project's seeded generator
in data/generate_sample.py), in fresh subprocesses:

  floor   DuckDB alone: read the data, per-customer recency, frequency (distinct orders) and
          monetary (sum quantity * unit_price) for lines with a customer id and quantity > 0,
          fetched to pandas
  build   python build_report.py --input DATA --output TMP/site --quiet  (SOURCE_DATE_EPOCH=0)
  notebook  the peer to beat: pandas read, cleaning, RFM by groupby, k-means over k = 3..8 with
          silhouette, four Plotly pages (child_notebook)
  stages  run_analysis + write_site in-process, printing Analysis.timings and the site time
  --help  python build_report.py --help, best of 5

--shape picks whose lines they are (default shop): shop, the sample's mix of customer groups,
about 85 lines per customer; many-customers, mostly one-off and new customers, about 12 lines
each, for the per-customer half of the build at scale (its own data set,
transactions-<size>-many-customers.*, and results-<size>-many-customers*.json; it prints the
build's peak RSS per million customers and issue 21's target instead of issue 22's).

--format picks the data set (default csv):
  csv      transactions-<size>.csv, one file
  parquet  transactions-<size>.parquet/, a folder with one part-NNNN.parquet per generator chunk,
           written straight from each chunk's DataFrame (never via CSV). Same columns and the same
           lines as the CSV; every part has the same schema (text columns as strings, quantity
           int64, unit_price double), and guest lines have a NULL customer_id where the CSV has an
           empty field, which is what DuckDB reads that field as. DATA is the folder.
Each data set has its metadata next to it (transactions-<size>.json for CSV,
transactions-<size>-parquet.json for Parquet): generator digest, format, lines and bytes on disk.

Wall time is measured around each child; peak RSS is that child's own ru_maxrss from
os.wait4 (no extra dependency, exact per child). Prints a table per size and the targets of
issue 22 that apply to that size and format as met / NOT met (ratios to the floor and to the
notebook measured in the same run; 1M and 10M lines: CSV; 100M lines: Parquet), and writes benchmarks/out/results-<size>.json
(results-<size>-parquet.json for Parquet). Exit code 0 even when a target is missed (benchmarks
report, they do not fail); 1 when a step crashes or times out.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# Only the standard library at module level: children import this file and must stay light.
PROJECT = Path(__file__).resolve().parent.parent
GENERATOR = PROJECT / "data" / "generate_sample.py"
DEFAULT_OUT = PROJECT / "benchmarks" / "out"
SEED = 7                     # the generator's default seed
CHUNK_CUSTOMERS = 25_000     # ~2.9M lines and < 1 GB per generator call; bigger sizes append chunks
FORMATS = ("csv", "parquet")
# Who the lines belong to. shop: the sample's mix of customer groups, ~85 lines per customer.
# many-customers: mostly one-off and new customers, ~12 lines each, so 100M lines hold about 9M
# customers: the per-customer half of the build at scale (issue 21's 10M-customer target).
SHAPES = {"shop": None, "many-customers": {"one_off": 0.55, "new": 0.3, "lapsed_big": 0.1, "loyal": 0.05}}
# Rough bytes on disk per line, for the free-space check before generating (measured at 3M lines:
# CSV ~98, snappy Parquet ~9.2 thanks to dictionary-encoded text columns).
BYTES_PER_LINE = {"csv": 100, "parquet": 12}
GENERATE_S_PER_MILLION = 20  # the generator's own timeout grows with size (10M lines of CSV: ~50 s)
MB = 1_000_000               # sizes and RSS are reported in MB (10^6 bytes), as the issue states them
PLOTLY_JS = "assets/plotly.min.js"
STAGES = ("read", "clean", "customers", "segments", "clusters", "profiles", "statistics", "changes", "value",
          "cohorts", "trends", "products", "site")
BACKGROUND = "background: "  # prefix of Analysis.timings entries for engine queries run alongside the stages

# Targets (issue 22), each a ratio measured in the same run or a constant cost: (size in lines or
# None for every size, format or None for every format, key, label, limit, unit, met when above).
TARGETS = [
    (1_000_000, "csv", "ratio", "1M lines: full build / floor (wall)", 5.0, "x", False),
    (1_000_000, "csv", "notebook", "1M lines: notebook / full build (wall)", 1.5, "x", True),
    (10_000_000, "csv", "ratio", "10M lines: full build / floor (wall)", 3.5, "x", False),
    (10_000_000, "csv", "build_rss_mb", "10M lines: full build peak RSS", 800.0, "MB", False),
    (10_000_000, "csv", "notebook", "10M lines: notebook / full build (wall)", 3.0, "x", True),
    (100_000_000, "parquet", "ratio", "100M lines as Parquet: full build / floor (wall)", 8.0, "x", False),
    (100_000_000, "parquet", "build_rss_mb", "100M lines as Parquet: full build peak RSS (out of core)",
     3000.0, "MB", False),
    (None, None, "help_s", "build_report.py --help start-up", 0.3, "s", False),
    (None, None, "largest_page_bytes", "largest HTML page", 500_000, "bytes", False),
]
# Issue 21: the customer half of the build in bounded memory (--shape many-customers).
CUSTOMER_TARGETS = [
    (100_000_000, "parquet", "build_rss_mb", "100M lines, many customers, as Parquet: full build peak RSS",
     8000.0, "MB", False),
]


# --------------------------------------------------------------------------- sizes

def parse_size(text: str) -> tuple[str, int]:
    """'100k' -> ('100k', 100000); '1.5M' -> ('1.5M', 1500000); '20000' -> ('20000', 20000)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected a size like 100k, 1M or 20000, got {text!r}")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    lines = int(round(float(m.group(1)) * factor))
    if lines < 1000:
        raise argparse.ArgumentTypeError(f"size must be at least 1000 lines, got {text!r}")
    label = m.group(1) + (m.group(2).lower() if m.group(2).lower() == "k" else m.group(2).upper())
    return label, lines


def parse_sizes(text: str) -> list[tuple[str, int]]:
    return [parse_size(part) for part in text.split(",") if part.strip()]


# --------------------------------------------------------------------------- running children

class StepFailed(Exception):
    """A child exited non-zero, timed out, or printed no result."""


def run_child(cmd: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run cmd in its own process group; wall time and the child's own peak RSS via os.wait4.

    Returns {wall_s, cpu_s (user + system), load_1m (after the run), peak_rss_mb, rc, stdout, stderr,
    timed_out, rss_bounded_by_parent}.
    Linux carries the parent's RSS high-water mark into a (v)forked child's ru_maxrss, so a
    child's figure is max(its own peak, this process's peak at spawn time); this script stays
    at ~20 MB, and rss_bounded_by_parent flags the rare case where that bound is all we know.
    """
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=PROJECT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: do not leave the child running in its own session
            _kill_group(proc.pid)
            os.wait4(proc.pid, 0)
            proc.returncode = -1
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "load_1m": os.getloadavg()[0],
                "peak_rss_mb": usage.ru_maxrss * 1024 / MB, "rc": proc.returncode,
                "timed_out": timed_out.is_set(), "rss_bounded_by_parent": usage.ru_maxrss <= parent_peak,
                "stdout": out.read().decode("utf-8", "replace"), "stderr": err.read().decode("utf-8", "replace")}


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)  # the group of the child we started (start_new_session)
    except ProcessLookupError:
        pass


def checked(res: dict, what: str, timeout: float) -> dict:
    if res["timed_out"]:
        raise StepFailed(f"{what}: stopped after the {timeout:.0f} s timeout")
    if res["rc"] != 0:
        tail = "\n".join(res["stderr"].strip().splitlines()[-15:])
        raise StepFailed(f"{what}: exit code {res['rc']}\n{tail}")
    return res


def child_json(res: dict, what: str) -> dict:
    """The last stdout line of a child is its JSON result."""
    lines = [line for line in res["stdout"].splitlines() if line.startswith("{")]
    if not lines:
        raise StepFailed(f"{what}: printed no result\n{res['stdout'][-2000:]}\n{res['stderr'][-2000:]}")
    return json.loads(lines[-1])


def me(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "_child", *args]


# --------------------------------------------------------------------------- children (run in subprocesses)

def child_generate(target_lines: int, seed: int, path: str, fmt: str = "csv", shape: str = "shop") -> None:
    """Write about target_lines lines to path: one generate() call per chunk of customers, each
    with its own seed (seed, seed+1, ...) and shifted customer and invoice numbers. CSV: appended
    to the same file; one chunk (sizes up to ~2.9M lines) gives exactly the bytes of
    `python data/generate_sample.py --lines N --output path`. Parquet: path is a new folder and
    chunk i is its part-<i>.parquet, with the same lines as the CSV (see _parquet_table). `shape`:
    the mix of customer groups (SHAPES)."""
    sys.path.insert(0, str(PROJECT))
    from data.generate_sample import customers_for_lines, generate, write_csv

    mix = SHAPES[shape]
    customers = customers_for_lines(target_lines, seed, mix)
    n_chunks = max(1, math.ceil(customers / CHUNK_CUSTOMERS))
    sizes = [customers // n_chunks + (i < customers % n_chunks) for i in range(n_chunks)]
    lines = cust_offset = 0
    next_invoice = None
    if fmt == "parquet":
        import pyarrow.parquet as pq
        os.mkdir(path)
    for i, n in enumerate(sizes):
        df, truth = generate(n, seed + i, mix)
        if i:
            df = _shift_ids(df, cust_offset, next_invoice)
        number = df["order_id"].str.removeprefix("C").astype("int64")
        next_invoice = int(number.max()) + 1
        if fmt == "parquet":
            pq.write_table(_parquet_table(df), os.path.join(path, f"part-{i:04d}.parquet"), compression="snappy")
        elif i == 0:
            write_csv(df, path)
        else:
            df.to_csv(path, mode="a", header=False, index=False, float_format="%.2f")  # as write_csv
        lines += len(df)
        cust_offset += len(truth)
        del df, truth, number
    print(json.dumps({"lines": lines, "customers": customers, "chunks": n_chunks, "seeds": [seed, seed + n_chunks - 1]}))


def _parquet_table(df):
    """One chunk as an Arrow table with a fixed schema, so every part has the same column types:
    text as string, quantity int64, unit_price double (already rounded to 2 decimals, the CSV's
    %.2f). Guests' '' customer id becomes NULL, as DuckDB reads the CSV's empty field."""
    import pyarrow as pa

    types = {"quantity": pa.int64(), "unit_price": pa.float64()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in df.columns])
    guest = df["customer_id"] == ""
    df = df.assign(customer_id=df["customer_id"].mask(guest))
    return pa.Table.from_pandas(df, schema=schema, preserve_index=False).replace_schema_metadata(None)


def _shift_ids(df, cust_offset: int, first_invoice: int):
    """Customer ids continue after the previous chunks'; invoice numbers continue after theirs."""
    cid = df["customer_id"]
    guest = cid == ""
    shifted = (cid.where(~guest, "0").astype("int64") + cust_offset).astype(str)
    df["customer_id"] = shifted.where(~guest, "")
    oid = df["order_id"]
    cancel = oid.str.startswith("C")
    number = oid.str.removeprefix("C").astype("int64")
    number = (number - int(number.min()) + first_invoice).astype(str)
    df["order_id"] = number.where(~cancel, "C" + number)
    return df


FLOOR_SQL = """
SELECT customer_id,
       date_diff('day', last_ts::DATE, (max(last_ts) OVER ())::DATE + 1) AS recency_days,
       frequency, monetary
FROM (
    SELECT customer_id, max(order_date::TIMESTAMP) AS last_ts, count(DISTINCT order_id) AS frequency,
           sum(quantity * unit_price) AS monetary
    FROM {source}
    WHERE customer_id IS NOT NULL AND customer_id <> '' AND quantity > 0
    GROUP BY customer_id
)
"""
# The CSV's order_date is sniffed as TIMESTAMP (the cast is a no-op); Parquet holds the text.
FLOOR_SOURCES = {
    "csv": "read_csv(?, header = true, types = {'order_id': 'VARCHAR', 'customer_id': 'VARCHAR', "
           "'product_id': 'VARCHAR'})",
    "parquet": "read_parquet(?)",
}


def child_floor(path: str, fmt: str = "csv") -> None:
    t0 = time.perf_counter()
    import duckdb
    t1 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")  # a display feature: keep it out of the floor
    param = path if fmt == "csv" else [str(p) for p in data_files(Path(path))]
    frame = con.execute(FLOOR_SQL.format(source=FLOOR_SOURCES[fmt]), [param]).df()
    t2 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "query_s": t2 - t1, "customers": len(frame),
                      "monetary": float(frame["monetary"].sum()), "duckdb": duckdb.__version__}))


def child_notebook(path: str, fmt: str, site: str) -> None:
    """The notebook a data scientist would write for the same question, as a peer to beat: pandas
    reads the file, drops guests, returns, zero prices and exact duplicates, computes recency,
    frequency and monetary per customer with groupby, clusters log R, F, M (standardised) with
    k-means for k = 3..8 and keeps the best silhouette (on a sample of 10,000 customers, as
    scikit-learn's docs advise for large data), and writes four Plotly pages (plotly.js once)."""
    t0 = time.perf_counter()
    import numpy as np
    import pandas as pd
    import plotly.express as px
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler
    t1 = time.perf_counter()
    if fmt == "csv":
        df = pd.read_csv(path, dtype={"order_id": "string", "customer_id": "string", "product_id": "string"})
    else:
        df = pd.concat([pd.read_parquet(p) for p in data_files(Path(path))], ignore_index=True)
    df["order_date"] = pd.to_datetime(df["order_date"])
    df = df[df["customer_id"].notna() & (df["quantity"] > 0) & (df["unit_price"] > 0)
            & ~df["order_id"].str.startswith("C")].drop_duplicates()
    df["revenue"] = df["quantity"] * df["unit_price"]
    as_of = df["order_date"].max().normalize() + pd.Timedelta(days=1)
    rfm = df.groupby("customer_id").agg(last=("order_date", "max"), frequency=("order_id", "nunique"),
                                        monetary=("revenue", "sum"))
    rfm["recency"] = (as_of - rfm["last"].dt.normalize()).dt.days
    x = StandardScaler().fit_transform(np.log1p(rfm[["recency", "frequency", "monetary"]].clip(lower=0)))
    fits = {}
    for k in range(3, 9):
        labels = KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(x)
        fits[k] = (silhouette_score(x, labels, sample_size=min(10_000, len(x)), random_state=0), labels)
    best = max(fits, key=lambda k: fits[k][0])
    rfm["cluster"] = fits[best][1].astype(str)
    t2 = time.perf_counter()
    out = Path(site)
    out.mkdir(parents=True, exist_ok=True)
    monthly = df.set_index("order_date")["revenue"].resample("MS").sum().reset_index()
    sample = rfm.sample(min(5_000, len(rfm)), random_state=0)
    figures = {"revenue.html": px.line(monthly, x="order_date", y="revenue"),
               "recency.html": px.histogram(rfm, x="recency"),
               "clusters.html": px.bar(rfm.groupby("cluster").size().reset_index(name="customers"), x="cluster",
                                       y="customers"),
               "rfm.html": px.scatter(sample, x="frequency", y="monetary", color="cluster", log_x=True, log_y=True)}
    for name, fig in figures.items():
        fig.write_html(out / name, include_plotlyjs="directory")
    rfm.drop(columns="last").to_csv(out / "customers.csv")
    t3 = time.perf_counter()
    print(json.dumps({"import_s": t1 - t0, "analysis_s": t2 - t1, "site_s": t3 - t2, "customers": len(rfm),
                      "k": best}))


def child_stages(path: str, site: str) -> None:
    """run_analysis and write_site in-process: Analysis.timings plus the site time."""
    sys.path.insert(0, str(PROJECT))
    t0 = time.perf_counter()
    from analysis.config import make_config
    from analysis.pipeline import run_analysis
    t1 = time.perf_counter()
    config = make_config(input=path, output=site)
    analysis = run_analysis(config)
    t2 = time.perf_counter()
    result = {"import_s": t1 - t0, "analysis_s": t2 - t1, "timings": dict(analysis.timings),
              "cpu": dict(analysis.cpu_timings),
              "rows": analysis.source.rows, "customers": int(analysis.headline["customers"]),
              "notes": list(analysis.notes)}  # e.g. the engine's memory budget raised for a query
    print(json.dumps(result), flush=True)  # the analysis stages survive a broken site writer
    from report.render import write_site
    t3, cpu3 = time.perf_counter(), time.process_time()
    write_site(analysis, config.output)
    result["timings"]["site"] = time.perf_counter() - t3
    result["cpu"]["site"] = time.process_time() - cpu3
    result["site_import_s"] = t3 - t2
    print(json.dumps(result), flush=True)


def run_child_main(argv: list[str]) -> int:
    kind, *rest = argv
    if kind == "generate":
        child_generate(int(rest[0]), int(rest[1]), rest[2], rest[3], *rest[4:5])
    elif kind == "floor":
        child_floor(rest[0], rest[1])
    elif kind == "stages":
        child_stages(rest[0], rest[1])
    elif kind == "notebook":
        child_notebook(rest[0], rest[1], rest[2])
    else:
        raise SystemExit(f"unknown child {kind!r}")
    return 0


# --------------------------------------------------------------------------- steps (in the parent)

def generator_digest() -> str:
    return hashlib.sha256(GENERATOR.read_bytes()).hexdigest()[:16]


def data_path(out: Path, label: str, fmt: str, shape: str = "shop") -> Path:
    """transactions-<size>.csv, or the folder transactions-<size>.parquet (-<shape> after the size
    for a shape other than shop)."""
    return out / f"transactions-{_named(label, shape)}.{fmt}"


def _named(label: str, shape: str) -> str:
    return label if shape == "shop" else f"{label}-{shape}"


def data_files(path: Path) -> list[Path]:
    """The CSV itself, or the folder's Parquet parts in order."""
    return sorted(path.glob("part-*.parquet")) if path.is_dir() else [path]


def data_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in data_files(path))


def ensure_data(out: Path, label: str, lines: int, timeout: float, log, fmt: str = "csv",
                shape: str = "shop") -> tuple[Path, dict]:
    """The cached data set for this size, format and shape, generated on first use (again if the
    generator changed). Metadata written before the Parquet format existed is CSV metadata, and
    before shapes existed of the shop shape."""
    path = data_path(out, label, fmt, shape)
    name = _named(label, shape)
    meta_path = out / (f"transactions-{name}.json" if fmt == "csv" else f"transactions-{name}-{fmt}.json")
    wanted = {"target_lines": lines, "seed": SEED, "chunk_customers": CHUNK_CUSTOMERS,
              "generator_sha256": generator_digest()}
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if (all(meta.get(k) == v for k, v in wanted.items()) and meta.get("format", "csv") == fmt
                and meta.get("shape", "shop") == shape
                and meta.get("bytes") == data_bytes(path) and len(data_files(path)) == meta.get("parts", 1)):
            return path, dict(meta, cached=True)
    need = lines * BYTES_PER_LINE[fmt] * 1.2
    free = shutil.disk_usage(out).free
    if free < need:
        raise StepFailed(f"generate: about {need / 1e9:.1f} GB needed for {label} lines of {fmt}, "
                         f"{free / 1e9:.1f} GB free in {out}")
    log(f"  generating {label} lines of {fmt} -> {path} (once; cached for later runs) ...")
    tmp = path.with_name(path.name + ".part")
    _remove(tmp)
    gen_timeout = max(timeout, GENERATE_S_PER_MILLION * lines / 1e6)
    res = checked(run_child(me("generate", str(lines), str(SEED), str(tmp), fmt, shape), gen_timeout), "generate",
                  gen_timeout)
    info = child_json(res, "generate")
    _remove(path)  # a stale folder: os.replace cannot replace a non-empty one
    os.replace(tmp, path)
    meta = dict(wanted, **info, format=fmt, shape=shape, parts=len(data_files(path)), bytes=data_bytes(path),
                wall_s=res["wall_s"], peak_rss_mb=res["peak_rss_mb"])
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return path, dict(meta, cached=False)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def warm(path: Path) -> None:
    """Read the file, or every part in the folder, once so every step finds it in the page cache."""
    for part in data_files(path):
        with open(part, "rb") as fh:
            while fh.read(1 << 23):
                pass


def site_weight(site: Path) -> dict:
    pages = {str(p.relative_to(site)): p.stat().st_size for p in site.rglob("*.html") if p.is_file()}
    files = [p for p in site.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    plotly = site / PLOTLY_JS
    biggest = max(pages, key=pages.get) if pages else None
    return {"pages": len(pages), "largest_page": biggest, "largest_page_bytes": pages.get(biggest, 0),
            "html_bytes": sum(pages.values()), "files": len(files), "total_bytes": total,
            "total_bytes_without_plotly": total - (plotly.stat().st_size if plotly.exists() else 0),
            "largest_files": [[str(p.relative_to(site)), p.stat().st_size]
                              for p in sorted(files, key=lambda p: (-p.stat().st_size, str(p)))[:5]]}


def measure_help(timeout: float, repeats: int = 5) -> dict:
    runs = []
    for _ in range(repeats):
        res = checked(run_child([sys.executable, "build_report.py", "--help"], timeout), "--help", timeout)
        runs.append(res["wall_s"])
    return {"best_s": min(runs), "runs_s": runs}


def best_of(n: int, fn):
    """Run fn n times; keep the fastest run, and the highest peak RSS seen."""
    return _best([fn() for _ in range(n)])


def best_interleaved(n: int, steps: dict) -> dict:
    """Run the steps in turn, n rounds (floor, build, floor, build, ...: a machine whose speed
    drifts slows both alike): per step its best_of, or the StepFailed that stopped it."""
    runs: dict = {name: [] for name in steps}
    failed: dict = {}
    for _ in range(n):
        for name, fn in steps.items():
            if name not in failed:
                try:
                    runs[name].append(fn())
                except StepFailed as exc:
                    failed[name] = exc
    return {name: failed[name] if name in failed else _best(runs[name]) for name in steps}


def _best(results: list) -> dict:
    best = min(results, key=lambda r: r["wall_s"])
    return dict(best, peak_rss_mb=max(r["peak_rss_mb"] for r in results), runs_s=[r["wall_s"] for r in results],
                rss_bounded_by_parent=all(r["rss_bounded_by_parent"] for r in results))


def bench_size(label: str, lines: int, args, help_result: dict | None, log) -> dict:
    out: Path = args.out
    fmt, shape = args.format, args.shape
    result: dict = {"size": label, "format": fmt, "shape": shape, "target_lines": lines, "errors": [], "steps": {},
                    "machine": machine()}
    steps = result["steps"]

    def fail(exc: Exception, step: str):
        steps[step] = {"error": str(exc)}
        result["errors"].append(str(exc))
        log(f"  ! {exc}")

    try:
        path, meta = ensure_data(out, label, lines, args.timeout, log, fmt, shape)
    except (StepFailed, OSError) as exc:
        fail(exc, "generate")
        return result
    steps["generate"] = meta
    result.update(file=str(path), file_mb=data_bytes(path) / MB, parts=len(data_files(path)), lines=meta["lines"],
                  customers=meta["customers"])
    warm(path)

    env = dict(os.environ, SOURCE_DATE_EPOCH="0")
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        site = Path(tmp) / "site"
        cmd = [sys.executable, "build_report.py", "--input", str(path), "--output", str(site), "--quiet"]
        notebook_site = Path(tmp) / "notebook-site"
        best = best_interleaved(args.repeat, {
            "floor": lambda: checked(run_child(me("floor", str(path), fmt), args.timeout), "floor", args.timeout),
            "build": lambda: checked(run_child(cmd, args.timeout, env), "full build", args.timeout),
            "notebook": lambda: checked(run_child(me("notebook", str(path), fmt, str(notebook_site)), args.timeout),
                                        "notebook", args.timeout),
        })
        if isinstance(best["notebook"], StepFailed):
            fail(best["notebook"], "notebook")
        else:
            steps["notebook"] = _step(best["notebook"]) | child_json(best["notebook"], "notebook")
        if isinstance(best["floor"], StepFailed):
            fail(best["floor"], "floor")
        else:
            steps["floor"] = _step(best["floor"]) | child_json(best["floor"], "floor")
        res = best["build"]
        if isinstance(res, StepFailed):
            fail(res, "build")
        else:
            steps["build"] = _step(res) | {"command": " ".join(cmd[1:]), "stdout_bytes": len(res["stdout"]),
                                           "duckdb_progress_bar": "\u2588" in res["stdout"] + res["stderr"]}
            result["site"] = site_weight(site)

        stage_site = Path(tmp) / "stages-site"
        res = run_child(me("stages", str(path), str(stage_site)), args.timeout, env)
        try:
            info = child_json(res, "stages")  # partial when only the site writer failed
            steps["stages"] = _step(res) | info
            checked(res, "stages", args.timeout)
            if "site" not in result and stage_site.exists():
                result["site"] = site_weight(stage_site)
        except StepFailed as exc:
            steps.setdefault("stages", {}).update(error=str(exc))
            result["errors"].append(str(exc))
            log(f"  ! {exc}")

    if help_result is not None:
        steps["help"] = help_result
    floor, build = steps.get("floor", {}), steps.get("build", {})
    if "wall_s" in floor and "wall_s" in build:
        result["ratio_full_to_floor"] = build["wall_s"] / floor["wall_s"]
        result["ratio_full_to_floor_query"] = build["wall_s"] / floor["query_s"]
    if "peak_rss_mb" in build and result.get("customers"):
        result["build_rss_mb_per_million_customers"] = build["peak_rss_mb"] / result["customers"] * 1e6
    if "wall_s" in steps.get("notebook", {}) and "wall_s" in build:
        result["notebook_to_full"] = steps["notebook"]["wall_s"] / build["wall_s"]
    result["targets"] = check_targets(result)
    return result


def _step(res: dict) -> dict:
    return {k: res[k] for k in ("wall_s", "cpu_s", "load_1m", "peak_rss_mb", "rc", "runs_s",
                                   "rss_bounded_by_parent") if k in res}


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "load_avg_1m_at_start": os.getloadavg()[0]}


def check_targets(result: dict) -> list[dict]:
    steps = result["steps"]
    values = {"build_wall_s": steps.get("build", {}).get("wall_s"),
              "build_rss_mb": steps.get("build", {}).get("peak_rss_mb"),
              "ratio": result.get("ratio_full_to_floor"), "notebook": result.get("notebook_to_full"),
              "help_s": steps.get("help", {}).get("best_s"),
              "largest_page_bytes": result.get("site", {}).get("largest_page_bytes")}
    checks = []
    shape = result.get("shape", "shop")
    for size, fmt, key, label, limit, unit, above in (TARGETS if shape == "shop" else CUSTOMER_TARGETS):
        if (size is not None and size != result["target_lines"]) or \
                (fmt is not None and fmt != result.get("format", "csv")):
            continue
        value = values[key]
        checks.append({"target": label, "limit": limit, "unit": unit, "value": value,
                       "met": None if value is None else (value >= limit if above else value < limit),
                       "at_least": above})
    return checks


# --------------------------------------------------------------------------- output

def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(result: dict) -> str:
    steps, lines = result["steps"], result.get("lines")
    parts = f" in {result['parts']} part file(s)" if result.get("format") == "parquet" and "parts" in result else ""
    shape = "" if result.get("shape", "shop") == "shop" else f" ({result['shape']})"
    out = [f"== {result['size']} lines of {result.get('format', 'csv')}{shape}: {fmt(lines, ',')} lines, "
           f"{fmt(result.get('customers'), ',')} customers, {fmt(result.get('file_mb'), '.1f')} MB{parts}  "
           f"({result.get('file', '-')})"]
    gen = steps.get("generate", {})
    if gen.get("cached"):
        out.append(f"   data: cached (generated in {fmt(gen.get('wall_s'), '.1f')} s, "
                   f"peak RSS {fmt(gen.get('peak_rss_mb'), '.0f')} MB, {gen.get('chunks')} chunk(s))")
    elif "wall_s" in gen:
        out.append(f"   data: generated in {gen['wall_s']:.1f} s, peak RSS {gen['peak_rss_mb']:.0f} MB, "
                   f"{gen.get('chunks')} chunk(s)")
    floor_wall = steps.get("floor", {}).get("wall_s")
    header = f"   {'step':<28} {'wall s':>8} {'CPU s':>7} {'peak RSS MB':>12} {'rows/s':>12} {'x floor':>8} {'load':>5}"
    out += [header, "   " + "-" * (len(header) - 3)]

    def row(name, wall, cpu=None, rss=None, load=None):
        rate = lines / wall if lines and wall else None
        vs = wall / floor_wall if wall and floor_wall else None
        out.append(f"   {name:<28} {fmt(wall, '8.2f')} {fmt(cpu, '7.2f')} {fmt(rss, '12.0f')} {fmt(rate, '12,.0f')} "
                   f"{fmt(vs, '8.1f')} {fmt(load, '5.1f')}")

    for key, name in (("floor", "floor (DuckDB alone)"), ("build", "full build (build_report.py)"),
                      ("notebook", "notebook (pandas+sklearn)"), ("stages", "stages run (in-process)")):
        s = steps.get(key, {})
        if "error" in s and "wall_s" not in s:
            out.append(f"   {name:<28} FAILED")
            continue
        row(name, s.get("wall_s"), s.get("cpu_s"), s.get("peak_rss_mb"), s.get("load_1m"))
    floor = steps.get("floor", {})
    if "query_s" in floor:
        out.append(f"     floor query alone {floor['query_s']:.2f} s (import duckdb {floor['import_s']:.2f} s), "
                   f"{floor['customers']:,} customers")
    stages = steps.get("stages", {})
    timings = stages.get("timings", {})
    if timings:
        main = {k: v for k, v in timings.items() if not k.startswith(BACKGROUND)}
        cpu = stages.get("cpu", {})
        total, cpu_total = sum(main.values()), sum(cpu.values())
        out.append(f"     {'imports':<26} {fmt(stages.get('import_s', 0) + stages.get('site_import_s', 0), '8.2f')}")
        for name in [*STAGES, *sorted(set(main) - set(STAGES))]:
            if name in main:
                share = f"{100 * main[name] / total:5.1f}% of stages' wall"
                if cpu_total and name in cpu:
                    share += f", {100 * cpu[name] / cpu_total:5.1f}% of their CPU"
                rate = lines / main[name] if lines and main[name] else None
                out.append(f"     {name:<26} {main[name]:8.2f} {fmt(cpu.get(name), '7.2f')} {'':>12} "
                           f"{fmt(rate, '12,.0f')}   {share}")
        queued = {k[len(BACKGROUND):]: v for k, v in timings.items() if k.startswith(BACKGROUND)}
        if queued:
            out.append(f"     engine queries in the background, alongside segments..products "
                       f"({sum(queued.values()):.2f} s in all; those stages wait for them):")
            out.append("       " + ", ".join(f"{name} {secs:.2f}" for name, secs in queued.items()))
    if timings:
        notes = stages.get("notes") or ["none (the engine kept its starting memory budget)"]
        out.append("     build notes: " + "; ".join(notes))
    if "build_rss_mb_per_million_customers" in result:
        out.append(f"   full build peak RSS per million customers: {result['build_rss_mb_per_million_customers']:,.0f} MB "
                   "(the build process or its largest child; the value models' process runs beside it)")
    if "ratio_full_to_floor" in result:
        out.append(f"   ratio full/floor: {result['ratio_full_to_floor']:.1f}x wall "
                   f"({result['ratio_full_to_floor_query']:.1f}x the floor's query time alone)")
    book = steps.get("notebook", {})
    if "analysis_s" in book:
        out.append(f"     notebook: imports {book['import_s']:.2f} s, read+clean+RFM+k-means {book['analysis_s']:.2f} s, "
                   f"pages {book['site_s']:.2f} s; {book['customers']:,} customers, k = {book['k']}")
    if "notebook_to_full" in result:
        out.append(f"   ratio notebook/full: {result['notebook_to_full']:.2f}x wall (above 1: the build is faster)")
    site = result.get("site")
    if site:
        out.append(f"   site: {site['pages']} pages, largest {site['largest_page']} {site['largest_page_bytes'] / 1e3:,.0f} kB; "
                   f"total {site['total_bytes'] / MB:.1f} MB ({site['total_bytes_without_plotly'] / MB:.1f} MB without "
                   f"{PLOTLY_JS})")
        out.append("   largest files: " + ", ".join(f"{name} {size / MB:.1f} MB" for name, size in site["largest_files"][:3]))
    help_ = steps.get("help")
    if help_:
        out.append(f"   build_report.py --help: best of {len(help_['runs_s'])} {help_['best_s']:.3f} s")
    for t in result.get("targets", []):
        verdict = "n/a (step failed)" if t["met"] is None else ("met" if t["met"] else "NOT met")
        value = t["value"]
        shown = ("-" if value is None else f"{value / 1e3:,.0f} kB" if t["unit"] == "bytes"
                 else f"{value:.2f} {t['unit']}")
        limit = f"{t['limit'] / 1e3:,.0f} kB" if t["unit"] == "bytes" else f"{t['limit']:g} {t['unit']}"
        out.append(f"   target {t['target']} {'>=' if t.get('at_least') else '<'} {limit}: {shown} -> {verdict}")
    for err in result["errors"]:
        out.append(f"   ERROR {err.splitlines()[0]}")
    return "\n".join(out)


def results_name(label: str, fmt: str, shape: str = "shop") -> str:
    """results-<size>.json for CSV (as before the format existed), results-<size>-<format>.json
    otherwise; -<shape> after the size for a shape other than shop."""
    name = _named(label, shape)
    return f"results-{name}.json" if fmt == "csv" else f"results-{name}-{fmt}.json"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_child"]:
        return run_child_main(argv[1:])
    p = argparse.ArgumentParser(description="Benchmark the report build against DuckDB's floor.")
    p.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1M,10M"),
                   help="comma-separated line counts, e.g. 100k,1M,10M (default: 1M,10M; 100M only on request)")
    p.add_argument("--format", choices=FORMATS, default="csv",
                   help="data to build from: csv, one transactions-<size>.csv; parquet, a folder "
                        "transactions-<size>.parquet/ of part files, one per generator chunk, never via CSV "
                        "(the 100M lines target is for parquet) (default: csv)")
    p.add_argument("--shape", choices=list(SHAPES), default="shop",
                   help="whose lines: shop, the sample's customer mix (~85 lines per customer); many-customers, "
                        "mostly one-off buyers (~12 lines each), for the per-customer half at scale (issue 21's "
                        "target: --sizes 100M --format parquet --shape many-customers) (default: shop)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for the cached data sets and results-<size>.json, or results-<size>-parquet.json "
                        f"with --format parquet (default: {DEFAULT_OUT.relative_to(PROJECT)})")
    p.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="run the floor and the full build N times, in turn, and keep the fastest of each "
                        "(default: 1)")
    p.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                   help="stop any one step after this long and report it as failed; generating the data "
                        f"gets at least {GENERATE_S_PER_MILLION} s per million lines (default: 900)")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    log(f"benchmark: sizes {', '.join(label for label, _ in args.sizes)} of {args.format}; {os.cpu_count()} CPUs; "
        f"python {platform.python_version()}; out {args.out}")
    if os.getloadavg()[0] > 0.5:
        log(f"  note: load average {os.getloadavg()[0]:.2f}: other work is running; times will be noisy "
            "(--repeat N keeps the fastest of N runs)")
    failed = False
    try:
        help_result = measure_help(args.timeout)
    except StepFailed as exc:
        help_result, failed = None, True
        log(f"  ! {exc}")
    for label, lines in args.sizes:
        log(f"-- {label} ...")
        result = bench_size(label, lines, args, help_result, log)
        failed |= bool(result["errors"])
        results = args.out / results_name(label, args.format, args.shape)
        results.write_text(json.dumps(result, indent=2) + "\n")
        log(report(result))
        log(f"   results: {results}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
