"""Open the user's transactions as one Ibis table on the engine (DuckDB).

Accepts a file, a folder or a glob of same-shaped files: delimited text (delimiter sniffed),
whitespace-aligned text, .gz, .zip (one file inside), Parquet and Excel .xlsx. Text columns
are read as text so that cleaning can count and report values it cannot parse.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import ibis

from analysis.engine import workdir as workdirs
from analysis.engine.memory import engine_settings
from analysis.errors import DataError
from analysis.read.files import (FIX_FORMAT, Source, detect_encoding, fingerprint_later, first_bad_row, first_lines,
                                 has_header,
                                 is_whitespace_aligned, kind_of_file, read_head, resolve_files, sniff_delimiter,
                                 transcode, unzip_single)

CSV_SAMPLE_ROWS = 20480  # rows DuckDB reads to detect a text file's quoting and line endings
# Public data sets recognised by their header and row count, so reports built from them cite them.
KNOWN_DATASETS = [
    {
        "columns": ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                    "CustomerID", "Country"),
        "rows": 541909,
        "attribution": (
            "Data: UCI Machine Learning Repository, Online Retail (CC BY 4.0), "
            "https://doi.org/10.24432/C5BW33. Chen, D., Sain, S. L., and Guo, K. (2012). Data mining "
            "for the online retail industry: a case study of RFM model-based customer segmentation "
            "using data mining. Journal of Database Marketing and Customer Strategy Management, "
            "19(3), 197-208."
        ),
    },
    {
        "columns": ("customer_id", "date", "number_of_cds", "dollar_value"),
        "rows": 69659,
        "attribution": (
            "Data: the CDNOW customer cohort of Fader, P. S. and Hardie, B. G. S. (2001), "
            "\"Forecasting Repeat Sales at CDNOW\", Interfaces 31(3)."
        ),
    },
]


def _engine_error(exc: Exception, what: str, shown: str, files=()) -> DataError:
    """The engine's error as one line naming the user's file (never a copy in the temporary folder)
    and, for delimited text, the first row that does not fit the header."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    for path in files:
        first = first.replace(str(path), shown)
    first = re.sub(workdirs.PATTERN, shown, first)
    if what == "delimited text" and files:
        bad = first_bad_row(Path(files[0]))
        if bad is not None:
            line, problem, snippet = bad
            return DataError(f"line {line:,} {problem}", file=shown, example=snippet,
                             fix="fix or remove that row (an unclosed quote, or a delimiter inside an unquoted value), "
                                 "then build again")
    return DataError(f"could not be read as {what} ({first})", file=shown,
                     fix="check the file is complete and in one of the supported formats; " + FIX_FORMAT)


def _sql_list(files: list[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in files) + "]"


def _read_text(con, files: list[Path], text: str, shown: str) -> tuple[ibis.Table, str]:
    """Delimited or whitespace-aligned text (already UTF-8) as an all-text table."""
    lines = first_lines(text, 3)
    if b"\x00" in text[:4096].encode("utf-8", "replace") or not lines:
        raise DataError("does not look like a text file (binary content)", file=shown, fix=FIX_FORMAT)
    if is_whitespace_aligned(text):
        first, second = lines[0].split(), (lines[1].split() if len(lines) > 1 else None)
        header = has_header(first, second)
        names = first if header else [f"column{i + 1}" for i in range(len(first))]
        fields = ", ".join(f"f[{i + 1}] AS \"{n.replace(chr(34), '')}\"" for i, n in enumerate(names))
        sql = (f"SELECT {fields} FROM (SELECT regexp_split_to_array(trim(line, ' ' || chr(9) || chr(13)), '\\s+') "
               f"AS f FROM read_csv({_sql_list(files)}, columns={{'line': 'VARCHAR'}}, delim=chr(1), "
               f"header=false, quote='', escape='', strict_mode=false, auto_detect=false, skip={1 if header else 0}) "
               f"WHERE trim(line, ' ' || chr(9) || chr(13)) <> '')")
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW _whitespace AS {sql}")
        return con.table("_whitespace"), "whitespace"
    delim = sniff_delimiter(lines)
    first, second = next(csv.reader([lines[0]], delimiter=delim)), \
        (next(csv.reader([lines[1]], delimiter=delim)) if len(lines) > 1 else None)
    header = has_header(first, second)
    if header:
        dupes = sorted({c for c in first if first.count(c) > 1})
        if dupes:
            raise DataError(f"column '{dupes[0]}' appears {first.count(dupes[0])} times in the header",
                            file=shown, column=dupes[0], fix="rename the repeated columns so each name is unique")
    sniffed = _sniffed_options(con, files[0], delim, header) if len(files) == 1 else None
    if sniffed is not None:
        table = con.read_csv([str(p) for p in files], **sniffed)
    else:
        table = con.read_csv([str(p) for p in files], all_varchar=True, header=header, delim=delim,
                             sample_size=CSV_SAMPLE_ROWS, union_by_name=len(files) > 1)
    return table, {",": "csv", ";": "csv (;)", "\t": "tsv", "|": "csv (|)"}[delim]


def _sniffed_options(con, path: Path, delim: str, header: bool) -> dict | None:
    """DuckDB's reading options for a text file, detected once (sniff_csv) and then given
    explicitly, so that every later query on the file does not detect them again (DuckDB's CSV
    detection costs some 50 ms a query). The same options auto-detection would find each time;
    None when the engine is not DuckDB or detection fails (the caller lets it detect)."""
    if getattr(con, "name", "") != "duckdb":
        return None
    try:
        row = con.con.execute(
            "SELECT Delimiter, Quote, Escape, NewLineDelimiter, Comment, SkipRows, HasHeader, Columns "
            "FROM sniff_csv(?, all_varchar = true, delim = ?, header = ?, sample_size = ?)",
            [str(path), delim, header, CSV_SAMPLE_ROWS]).fetchone()
    except Exception:  # noqa: BLE001 - let read_csv detect, and report, as before
        return None
    empty = lambda v: "" if v == "(empty)" else v  # noqa: E731 - sniff_csv's word for none
    d, quote, escape, new_line, comment, skip, has_header, columns = row
    return {"auto_detect": False, "delim": empty(d), "quote": empty(quote), "escape": empty(escape),
            "new_line": new_line, "comment": empty(comment), "skip": int(skip), "header": bool(has_header),
            "columns": {c["name"]: "VARCHAR" for c in columns}}


def _read_excel(con, files: list[Path], sheet: str | None, shown: str) -> ibis.Table:
    import pandas as pd

    frames = []
    for path in files:
        try:
            frames.append(pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=str))
        except ValueError as exc:
            raise DataError(f"sheet problem ({exc})", file=shown, fix="name an existing sheet with --sheet") from None
        except Exception as exc:  # openpyxl's own errors for corrupt files
            raise _engine_error(exc, "Excel .xlsx", shown) from None
    df = pd.concat(frames, ignore_index=True).astype("string")
    df.columns = [str(c) for c in df.columns]
    from analysis.engine import memtable, store

    return store(con, "_excel", memtable(df))


def open_source(spec, con, workdir: Path | None = None, shown: str | None = None, encoding: str | None = None,
                sheet: str | None = None) -> Source:
    """Open `spec` (file, folder or glob) on connection `con`; `workdir` holds unpacked or re-encoded copies.
    On Spark `spec` may also be a table or a path Spark reads itself (hdfs://, s3a://, ...); a
    connection URL with ?table= reads that table (see open_url)."""
    from analysis import engine
    from analysis.read import spark

    shown = shown or str(spec)
    if workdir is None:  # a caller without a build's folder (tests, benchmarks): removed at exit
        workdir = tempfile.mkdtemp(prefix=workdirs.prefix())
        atexit.register(shutil.rmtree, workdir, True)
    workdir = Path(workdir)
    if is_connection_url(spec):
        return open_url(str(spec), con, shown, workdir)
    on_spark = engine.dialect(con) == "pyspark"
    if on_spark and not spark.is_local(spec):
        return spark.open_remote(str(spec), con, shown)
    engine_settings(con, workdir)
    files = resolve_files(spec, shown)
    kinds = {kind_of_file(p, shown) for p in files}
    if len(kinds) > 1:
        raise DataError(f"mixes file types ({', '.join(sorted(kinds))})", file=shown,
                        fix="put files of one type, with the same columns, in the folder")
    for path in files:
        try:
            if path.stat().st_size == 0:
                raise DataError("file is empty", file=str(path) if len(files) > 1 else shown,
                                fix="export the transactions again; the file has no bytes")
        except OSError as exc:
            raise DataError(f"cannot be read ({exc.strerror})", file=shown, fix="check the file's permissions") from None
    sha = fingerprint_later(files, shown)
    kind = kinds.pop()
    zipped, gzipped, used_encoding = kind == "zip", kind == "gz", "utf-8"
    if zipped:
        files = [unzip_single(p, workdir, shown) for p in files]
        kind = kind_of_file(files[0], shown)
        gzipped = kind == "gz"
    try:
        first_file = None  # of several files, the first alone (Source.head)
        if on_spark and kind != "excel":
            table, fmt, used_encoding, first_file = spark.read_files(con, files, kind, workdir, shown, encoding)
            kind = "parquet" if kind == "parquet" else "text"
        elif kind == "parquet":
            table, fmt = con.read_parquet([str(p) for p in files]), "parquet"
        elif kind == "excel":
            table, fmt = _read_excel(con, files, sheet, shown), "xlsx"
        else:
            head = read_head(files[0], kind, shown)
            used_encoding = detect_encoding(head, encoding)
            if used_encoding.lower().replace("-", "") not in ("utf8", "utf8sig"):
                files = [transcode(p, kind, used_encoding, workdir) for p in files]
                kind = "text"
            text = head.decode(used_encoding if used_encoding.startswith("utf-16") else "utf-8", errors="replace")
            table, fmt = _read_text(con, files, text, shown)
        if len(files) > 1 and kind != "excel" and not on_spark:
            first_file = con.read_parquet(str(files[0])) if kind == "parquet" else _read_text(con, files[:1], text,
                                                                                                 shown)[0]
        # Only whether there is a data row: counting them all would read the whole file once
        # more; cleaning counts every row anyway (the ledger).
        has_rows = bool(table.limit(1).count().execute())
    except DataError:
        raise
    except LookupError:
        raise DataError(f"unknown encoding '{encoding}'", file=shown, fix="use --encoding utf-8 or cp1252") from None
    except Exception as exc:  # the engine's own parse errors: one clear line instead of a traceback
        raise _engine_error(exc, "Parquet" if kind == "parquet" else "delimited text", shown, files) from None
    fmt = ("zip/" if zipped else "") + fmt + (".gz" if gzipped else "") + \
        (f" ({len(files)} files)" if len(files) > 1 else "")
    columns = tuple(table.columns)
    if not has_rows:
        raise DataError("has a header but no data rows", file=shown, example=", ".join(columns[:5]),
                        fix="export the transactions again with their rows")
    return Source(table=table, format=fmt, digest=sha, columns=columns, files=tuple(str(p) for p in files),
                  encoding=used_encoding, kind=kind, head=first_file)


# URL schemes that name files for Spark to read, not Ibis backends.
FILE_SCHEMES = ("file", "hdfs", "s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "dbfs", "viewfs")


def is_connection_url(spec) -> bool:
    """An Ibis connection URL (duckdb:///db.duckdb?table=orders, postgres://..., pyspark://...)."""
    text = str(spec) if isinstance(spec, str) else ""
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    return bool(scheme) and scheme not in FILE_SCHEMES


def url_table(url: str, shown: str) -> tuple[str, str]:
    """(URL without its table parameter, table name) of a connection URL with ?table=NAME."""
    from urllib.parse import parse_qsl, urlencode

    head, _, query_text = url.partition("?")
    query = parse_qsl(query_text, keep_blank_values=True)
    table = next((v for k, v in query if k == "table"), "")
    if not table:
        raise DataError("connection URL names no table", file=shown,
                        fix="add ?table=NAME, e.g. 'duckdb:///path/db.duckdb?table=orders'")
    rest = urlencode([(k, v) for k, v in query if k != "table"])
    return head + (f"?{rest}" if rest else ""), table


def connect_url(url: str, shown: str):
    """The Ibis connection a URL names (not for duckdb://, which is attached to the build's own
    database instead, so that nothing is written to the user's file)."""
    base, _table = url_table(url, shown)
    try:
        return ibis.connect(base)
    except Exception as exc:  # noqa: BLE001 - drivers raise their own errors; one line for the user
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"could not connect ({first})", file=shown,
                        fix="check the URL, and that the backend's driver is installed "
                            "(pip install 'ibis-framework[postgres]', for example)") from None


def url_route(url: str) -> str:
    """How a connection URL's table reaches the build: 'attach' (a DuckDB file, attached read-only to
    the build's DuckDB), 'engine' (Spark reads it itself) or 'copy' (any other backend: PostgreSQL,
    MySQL, ...; copied into the build's own DuckDB, see _copy_table)."""
    scheme = url.split("://", 1)[0].lower()
    return "attach" if scheme == "duckdb" else "engine" if scheme in ("pyspark", "spark") else "copy"


def _copy_table(url: str, name: str, con, workdir: Path, shown: str) -> ibis.Table:
    """The warehouse table streamed once, in Arrow batches, into a Parquet file of the build's
    folder, and read from there by the build's DuckDB: the warehouse only answers one SELECT (nothing
    is created or written there), and every later stage runs on the engine the project tests."""
    import pyarrow.parquet as pq

    remote = connect_url(url, shown)
    *schema, leaf = name.split(".")  # 'orders' or 'public.orders'
    table = remote.table(leaf, database=schema[-1] if schema else None)
    path = workdir / "input-table.parquet"
    writer = None
    try:
        for batch in table.to_pyarrow_batches(chunk_size=100_000):
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_batch(batch)
    finally:
        if writer is not None:
            writer.close()
        with contextlib.suppress(Exception):
            remote.disconnect()
    if writer is None:
        raise DataError(f"table '{name}' has no rows", file=shown, example=", ".join(table.columns[:5]),
                        fix="point ?table= at the transactions table")
    return con.read_parquet(str(path))


def open_url(url: str, con, shown: str, workdir: Path | None = None) -> Source:
    """The table named by `url`'s ?table= parameter: on a DuckDB file, attached read-only to the
    build's DuckDB; on another warehouse, copied into the build's folder (_copy_table); on Spark,
    read by Spark."""
    base, name = url_table(url, shown)
    try:
        route = url_route(url)
        if route == "attach":
            path = base.split("://", 1)[1].split("?", 1)[0]  # duckdb:///abs/path or duckdb://relative
            if not Path(path).is_file():
                raise DataError("database file not found", file=shown, fix="check the path in the URL")
            con.raw_sql("DETACH DATABASE IF EXISTS _input")
            con.raw_sql(f"ATTACH '{path.replace(chr(39), chr(39) * 2)}' AS _input (READ_ONLY)")
            *schema, leaf = name.split(".")  # 'orders' or 'sales.orders' (schema.table)
            table = con.table(leaf, database=("_input", schema[-1]) if schema else "_input")
        elif route == "copy" and workdir is not None:
            table = _copy_table(url, name, con, workdir, shown)
        else:
            *db, leaf = name.split(".")
            table = con.table(leaf, database=tuple(db) if len(db) > 1 else (db[0] if db else None))
        has_rows = bool(table.limit(1).count().execute())
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - the backend's own errors: one clear line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"table '{name}' could not be read ({first})", file=shown,
                        fix="check the table name given with ?table=") from None
    columns = tuple(table.columns)
    if not has_rows:
        raise DataError(f"table '{name}' has no rows", file=shown, example=", ".join(columns[:5]),
                        fix="point ?table= at the transactions table")
    digest = hashlib.sha256(f"{shown}".encode()).hexdigest()
    return Source(table=table, format=f"table ({getattr(con, 'name', 'engine')})", digest=digest,
                  columns=columns, kind="table")


def attribution_for(columns: tuple[str, ...], rows: int) -> str:
    """The citation of a known public data set with exactly these columns and rows, else ''."""
    return next((d["attribution"] for d in KNOWN_DATASETS if d["columns"] == columns and d["rows"] == rows), "")


def engine_error(exc: Exception, source: Source, shown: str) -> DataError:
    """The clear message for an error the engine raised while reading `source`'s rows."""
    return _engine_error(exc, "Parquet" if source.kind == "parquet" else "delimited text", shown, source.files)
