#!/usr/bin/env python3
"""Build a customer-segmentation website from an e-commerce transactions file.

    python build_report.py                      # bundled sample data
    python build_report.py --input sales.csv    # your own data

Thin CLI: options -> Config -> run_analysis -> write_site -> console summary.
Unusable input or options print one clear message and exit with code 2.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time

EXIT_BAD_INPUT = 2
EXIT_BUG = 1
EXIT_INTERRUPTED = 130  # as shells report a Ctrl-C


def _map_pair(text: str) -> tuple[str, str]:
    field, sep, column = text.partition("=")
    if not sep or not field.strip() or not column.strip():
        raise argparse.ArgumentTypeError(f"expected FIELD=COLUMN, e.g. customer_id=CustomerID; got {text!r}")
    return field.strip(), column.strip()


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="build_report.py",
        description="Turn a transactions file into a static customer-segmentation website (site/).",
        epilog="Fields for --map: order_id, customer_id, order_ts, product_id, product_name, category, "
               "quantity, unit_price, revenue, country, currency, contact. Exit code 2 means the input, "
               "options or machine could not be used (the message says how to fix it); 130 interrupted.")
    p.add_argument("--input", metavar="PATH",
                   help="transactions file: CSV/TSV/TXT (any common delimiter), .gz or .zip, or Parquet "
                        "(default: the bundled sample in data/); with --engine spark also a table name; "
                        "or an Ibis connection URL such as 'duckdb:///path/db.duckdb?table=orders'")
    p.add_argument("--engine", choices=["duckdb", "spark"],
                   help="engine for the transaction-level stages (default: duckdb; spark needs "
                        "pip install -r requirements-spark.txt)")
    p.add_argument("--spark-master", metavar="URL",
                   help="Spark master for --engine spark, e.g. local[2] or spark://host:7077 (default: "
                        "local[*]; SPARK_REMOTE, when set, connects to Spark Connect instead)")
    p.add_argument("--output", metavar="DIR", help="folder to write the site to (default: site)")
    p.add_argument("--map", metavar="FIELD=COLUMN", action="append", type=_map_pair, dest="column_map",
                   help="use COLUMN of the file for FIELD, overriding detection; repeatable")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", type=_date,
                   help="analysis date: recency is counted to it and later orders are left out "
                        "(default: the day after the last order or return)")
    p.add_argument("--dayfirst", action="store_true", default=None,
                   help="read ambiguous dates such as 01/02/2011 as day/month/year")
    p.add_argument("--encoding", metavar="NAME",
                   help="text encoding of the input, e.g. utf-8 or cp1252 (default: detected)")
    p.add_argument("--decimal", choices=[".", ","], help="decimal separator of amounts (default: .)")
    p.add_argument("--sheet", metavar="NAME", help="Excel sheet to read (default: the first)")
    p.add_argument("--only-currency", metavar="CODE",
                   help="keep only rows in this currency when the file's currency column holds several; "
                        "other rows are dropped and counted")
    p.add_argument("--strict", action="store_true", default=None,
                   help="fail when any row would be dropped for a reason other than a cancellation or a "
                        "missing customer id")
    p.add_argument("--keep-outlier-dates", action="store_true", default=None,
                   help="keep rows dated more than a year away from the rest of the data (by default they are "
                        "dropped as bad dates, with a warning: a stray 1900 would stretch the period)")
    p.add_argument("--seed", type=int, help="random seed for clustering and sampling (default: 0)")
    p.add_argument("--clusters", type=int, metavar="K",
                   help="number of behaviour clusters (default: chosen from the data between --k-min and --k-max)")
    p.add_argument("--k-min", type=int, metavar="K", help="smallest number of clusters tried (default: 3)")
    p.add_argument("--k-max", type=int, metavar="K", help="largest number of clusters tried (default: 8)")
    p.add_argument("--title", help="report title (default: 'Customer segments')")
    p.add_argument("--currency", metavar="SYMBOL", help="currency symbol shown with amounts, e.g. £ or $ (default: none)")
    p.add_argument("--clv-horizon", type=int, metavar="DAYS",
                   help="horizon of customer lifetime value in days (default: 365)")
    p.add_argument("--discount-rate", type=float, metavar="RATE",
                   help="monthly discount rate for lifetime value (default: 0.01, i.e. 1%% a month)")
    p.add_argument("--top-n", type=int, metavar="N", help="products and countries listed per segment (default: 10)")
    p.add_argument("--config", metavar="FILE",
                   help="options file in TOML (default: report.toml in the current folder, if present); "
                        "flags given here override it")
    p.add_argument("--quiet", action="store_true", help="print only errors and where the site was written")
    p.add_argument("--debug", action="store_true", help="on an error, show the full traceback as well")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Heavy imports only after the options parse, so --help stays instant.
    from analysis import interrupt
    from analysis.config import resolve_config
    from analysis.errors import ConfigError, DataError

    interrupt.install()
    say = (lambda *a: None) if args.quiet else print
    options = {k: v for k, v in vars(args).items() if k not in ("quiet", "config", "debug")}
    options["column_map"] = tuple(args.column_map) if args.column_map else None
    try:
        config = resolve_config(options, args.config)
        from report.output import prepared

        started = time.perf_counter()
        # The output folder is checked (and locked) before any work: a refusal costs no analysis.
        with prepared(config.output) as out:
            from analysis.pipeline import STAGES, run_analysis
            from report.progress import StageBar

            say(f"Reading {config.input} ...")
            bar = StageBar((*STAGES, "site"), say, enabled=False if args.quiet else None)
            try:
                # The site writer's imports (plotly, Jinja) load in the background meanwhile.
                analysis = run_analysis(config, progress=bar, also_import=("report.render", "report.console"))
                from report.console import summary
                from report.render import write_site

                bar.start("site")
                t0 = time.perf_counter()
                write_site(analysis, out)
                bar("site", time.perf_counter() - t0)
            finally:
                bar.close()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except DataError as exc:
        print(f"error: {exc.message()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.debug:
            raise
        return _interrupted()
    except BrokenPipeError:
        raise
    except (OSError, MemoryError) as exc:  # the machine, not the input: disk, permissions, memory
        if args.debug:
            raise
        print(f"error: {_environment_error(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # a bug: one line, and how to see more
        if args.debug:
            raise
        if interrupt.REQUESTED.is_set():  # the engine's own "query interrupted" error
            return _interrupted()
        print(f"error: unexpected {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n"
              "  fix: run again with --debug for the full traceback, and report it", file=sys.stderr)
        return EXIT_BUG
    say(summary(analysis))
    for note in (*analysis.notes, *out.notes):
        say(f"note: {note}")
    print(f"Site written to {config.output}/index.html in {time.perf_counter() - started:.1f} s")
    return 0


def _interrupted() -> int:
    print("interrupted; the previous site is untouched", file=sys.stderr)
    return EXIT_INTERRUPTED


def _environment_error(exc: BaseException) -> str:
    """An error of the machine (disk full, read-only, permissions, memory) as one message with a fix."""
    if isinstance(exc, MemoryError):
        return "ran out of memory\n  fix: free memory, or build on a smaller --input (e.g. a date range)"
    from report.output import os_error

    return os_error(exc, exc.filename or "?", "read or write a file", output=False).message()


def exit_now(code: int) -> None:
    """Exit with `code` once the build is over, skipping the interpreter's teardown of the modules
    it loaded (pandas, Ibis, scikit-learn, Plotly, ...): about 0.3 s that frees memory the
    operating system takes back anyway. By then every file is written and closed, the engine's
    connection closed, and its temporary folder removed; only the console streams need flushing."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or stream: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    try:
        status = main()
    except BrokenPipeError:  # the reader of the output went away (`| head`): stop quietly, as cat does
        status = 1
    exit_now(status)
