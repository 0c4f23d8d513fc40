"""DuckDB vs Spark (local mode) on the same generated data: full build wall time per engine.

    python benchmarks/bench_engines.py                       # 1M and 10M lines, Spark local[2]
    python benchmarks/bench_engines.py --sizes 100k --spark-master 'local[2]'
    python benchmarks/bench_engines.py --sizes 24M --format parquet --shape many-customers --driver-memory 2g
                                          # issue 21: 2M customers on Spark with a 2 GB driver

Each build runs as its own process (`build_report.py --engine ...`), so Spark's JVM starts and
ends with it, as it does for a user. Data are generated once by bench_build's generator and
cached in benchmarks/out/ (--format and --shape as for bench_build.py). Each build's wall time
and peak RSS are printed (the build's process, or its largest child: for Spark the driver's JVM
or the Python side, whichever is larger). --driver-memory sets Spark's driver heap for the
Spark build (PYSPARK_SUBMIT_ARGS), as a user would. Spark in local mode on one machine is
expected to lose to DuckDB: it pays off only when the lines are spread across machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "benchmarks"))

import bench_build  # noqa: E402  (the generator and data cache of the build benchmark)

NOTE = ("Spark in local mode runs on this one machine: it starts a JVM and runs every query as "
        "distributed jobs, so it is slower than DuckDB here. Spark pays off only across machines, "
        "when the lines do not fit one; the customers table is the same on both.")


def build(engine: str, path: Path, master: str, timeout: float, driver_memory: str | None = None) -> dict:
    """One full build on `engine` in a fresh process: bench_build.run_child's wall_s and peak_rss_mb."""
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        cmd = [sys.executable, "build_report.py", "--input", str(path), "--output", str(Path(tmp) / "site"),
               "--engine", engine, "--quiet"]
        env = dict(os.environ, SOURCE_DATE_EPOCH="0")
        if engine == "spark":
            cmd += ["--spark-master", master]
            if driver_memory:
                env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {driver_memory} pyspark-shell"
        done = bench_build.run_child(cmd, timeout, env)
    if done["rc"] != 0:
        raise SystemExit(f"{engine} build failed ({done['rc']}): {done['stderr'].strip()[-500:]}")
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=bench_build.parse_sizes, default=bench_build.parse_sizes("1M,10M"),
                   help="comma-separated sizes in lines (default: 1M,10M)")
    p.add_argument("--spark-master", default="local[2]", help="Spark master (default: local[2])")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per build")
    p.add_argument("--out", type=Path, default=bench_build.DEFAULT_OUT, help="data cache folder")
    p.add_argument("--format", choices=bench_build.FORMATS, default="csv", help="data set format (default: csv)")
    p.add_argument("--shape", choices=list(bench_build.SHAPES), default="shop",
                   help="whose lines (see bench_build.py; default: shop)")
    p.add_argument("--driver-memory", default=None, metavar="SIZE",
                   help="Spark driver heap for the Spark build, e.g. 2g (default: Spark's own, 1g)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'lines':>8} {'customers':>10}  {'DuckDB s':>9} {'peak MB':>8}  {'Spark s':>9} {'peak MB':>8}  "
          f"{'Spark/DuckDB':>12}   (Spark {args.spark_master}, driver memory {args.driver_memory or 'default'}, "
          f"{os.cpu_count()} cores; {args.format}, {args.shape})")
    for label, lines in args.sizes:
        path, info = bench_build.ensure_data(args.out, label, lines, args.timeout, lambda *a: None, args.format,
                                             args.shape)
        duck = build("duckdb", path, args.spark_master, args.timeout)
        spark = build("spark", path, args.spark_master, args.timeout, args.driver_memory)
        print(f"{label:>8} {info['customers']:>10,}  {duck['wall_s']:9.1f} {duck['peak_rss_mb']:8.0f}  "
              f"{spark['wall_s']:9.1f} {spark['peak_rss_mb']:8.0f}  {spark['wall_s'] / duck['wall_s']:11.1f}x",
              flush=True)
    print(NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
