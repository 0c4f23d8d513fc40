"""DuckDB vs Spark (local mode) on the same generated data: full build wall time per engine.

    python benchmarks/bench_engines.py                       # 1M and 10M lines, Spark local[2]
    python benchmarks/bench_engines.py --sizes 100k --spark-master 'local[2]'

Each build runs as its own process (`build_report.py --engine ...`), so Spark's JVM starts and
ends with it, as it does for a user. Data are generated once by bench_build's generator and
cached in benchmarks/out/. Spark in local mode on one machine is expected to lose to DuckDB: it
pays off only when the lines are spread across machines.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "benchmarks"))

import bench_build  # noqa: E402  (the generator and data cache of the build benchmark)

NOTE = ("Spark in local mode runs on this one machine: it starts a JVM and runs every query as "
        "distributed jobs, so it is slower than DuckDB here. Spark pays off only across machines, "
        "when the lines do not fit one; the customers table is the same on both.")


def build(engine: str, path: Path, master: str, timeout: float) -> float:
    """Wall seconds of one full build on `engine` in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="bench-engines-") as tmp:
        cmd = [sys.executable, "build_report.py", "--input", str(path), "--output", str(Path(tmp) / "site"),
               "--engine", engine, "--quiet"]
        if engine == "spark":
            cmd += ["--spark-master", master]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True, timeout=timeout, check=False)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{engine} build failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=bench_build.parse_sizes, default=bench_build.parse_sizes("1M,10M"),
                   help="comma-separated sizes in lines (default: 1M,10M)")
    p.add_argument("--spark-master", default="local[2]", help="Spark master (default: local[2])")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per build")
    p.add_argument("--out", type=Path, default=bench_build.DEFAULT_OUT, help="data cache folder")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"{'lines':>8}  {'DuckDB s':>9}  {'Spark s':>9}  {'Spark/DuckDB':>12}   (Spark {args.spark_master}, "
          f"{os.cpu_count()} cores)")
    for label, lines in args.sizes:
        path, _info = bench_build.ensure_data(args.out, label, lines, args.timeout, lambda *a: None)
        duck = build("duckdb", path, args.spark_master, args.timeout)
        spark = build("spark", path, args.spark_master, args.timeout)
        print(f"{label:>8}  {duck:9.1f}  {spark:9.1f}  {spark / duck:11.1f}x", flush=True)
    print(NOTE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
