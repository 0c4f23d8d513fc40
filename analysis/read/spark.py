"""Reading the input on Spark: files the way DuckDB reads them (text columns as text), Parquet
typed, and tables or paths that only the cluster can see (a catalog table, hdfs://, s3a://).

Only used with --engine spark; source.open_source calls it. The delimiter and header are found
from the first lines exactly as for DuckDB, so both engines see the same columns and values.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import ibis

from analysis.errors import DataError

TEXT_FORMATS = {",": "csv", ";": "csv (;)", "\t": "tsv", "|": "csv (|)"}


def is_local(spec) -> bool:
    """A file, folder or glob on this machine (read as for DuckDB), rather than a table name or
    a path only Spark can open. A missing path with a data file's suffix counts as local, so that
    the user hears 'file not found'."""
    from analysis.read.files import EXCEL_SUFFIXES, PARQUET_SUFFIXES, TEXT_SUFFIXES

    text = str(spec)
    if "://" in text:
        return False
    if any(ch in text for ch in "*?["):
        return True
    path = Path(text)
    return path.exists() or path.suffix.lower() in {*TEXT_SUFFIXES, *PARQUET_SUFFIXES, *EXCEL_SUFFIXES, ".gz", ".zip"}


def _columns(table: ibis.Table, header: bool, bom: bool) -> ibis.Table:
    """DuckDB's column names: column0, column1, ... without a header; a UTF-8 BOM left out."""
    if not header:
        return table.rename({f"column{i}": c for i, c in enumerate(table.columns)})
    if bom and table.columns and table.columns[0].startswith("\ufeff"):
        return table.rename({table.columns[0][1:]: table.columns[0]})
    return table


def _csv(con, paths: list[str], delim: str, header: bool) -> ibis.Table:
    """All-text columns, RFC 4180 quoting ("" inside quotes), nothing trimmed: like DuckDB's
    read_csv(all_varchar=true)."""
    return con.read_csv(paths, header=header, sep=delim, inferSchema=False, quote='"', escape='"',
                        encoding="UTF-8", mode="PERMISSIVE")


def _parquet(con, paths: list[str]) -> ibis.Table:
    """Parquet files as one table. Ibis's read_parquet takes one path on Spark (a list became a
    malformed glob, so a folder of parts could not be read); Spark's own reader takes several."""
    if len(paths) == 1:
        return con.read_parquet(paths[0])
    name = ibis.util.gen_name("read_parquet")
    con._session.read.parquet(*paths).createOrReplaceTempView(name)
    return con.table(name)


def read_files(con, files: list[Path], kind: str, workdir: Path, shown: str,
               encoding: str | None) -> tuple[ibis.Table, str, str, ibis.Table | None]:
    """Local files on Spark: (table, format, encoding used, the first file alone when there are
    several: Source.head). Text is all text columns; Parquet keeps its types. Non-UTF-8 text is
    re-encoded to UTF-8 in `workdir` first, like for DuckDB."""
    from analysis.read import files as on_disk

    if kind == "parquet":
        first_file = _parquet(con, [str(files[0])])
        if len(files) == 1:
            return first_file, "parquet", "utf-8", None
        return _parquet(con, [str(p) for p in files]), "parquet", "utf-8", first_file
    head = on_disk.read_head(files[0], kind, shown)
    used = on_disk.detect_encoding(head, encoding)
    if used.lower().replace("-", "") not in ("utf8", "utf8sig"):
        files = [on_disk.transcode(p, kind, used, workdir) for p in files]
    text = head.decode(used if used.startswith("utf-16") else "utf-8", errors="replace")
    lines = on_disk.first_lines(text, 3)
    if b"\x00" in text[:4096].encode("utf-8", "replace") or not lines:
        raise DataError("does not look like a text file (binary content)", file=shown, fix=on_disk.FIX_FORMAT)
    if on_disk.is_whitespace_aligned(text):
        raise DataError("whitespace-aligned text is read by the DuckDB engine only", file=shown,
                        fix="build with --engine duckdb, or convert the file to CSV or Parquet")
    delim = on_disk.sniff_delimiter(lines)
    first = next(csv.reader([lines[0].lstrip("\ufeff")], delimiter=delim))
    second = next(csv.reader([lines[1]], delimiter=delim)) if len(lines) > 1 else None
    header = on_disk.has_header(first, second)
    if header:
        dupes = sorted({c for c in first if first.count(c) > 1})
        if dupes:
            raise DataError(f"column '{dupes[0]}' appears {first.count(dupes[0])} times in the header",
                            file=shown, column=dupes[0], fix="rename the repeated columns so each name is unique")
    bom = text.startswith("\ufeff")
    table = _columns(_csv(con, [str(p) for p in files], delim, header), header, bom)
    first_file = _columns(_csv(con, [str(files[0])], delim, header), header, bom) if len(files) > 1 else None
    return table, TEXT_FORMATS[delim], used, first_file


def open_remote(spec: str, con, shown: str):
    """A catalog table (db.table) or a path only Spark can read (hdfs://, s3a://, a folder on the
    cluster's storage): Parquet by its suffix or folder of Parquet parts, else text."""
    from analysis.read.files import Source

    session_sql = con.raw_sql
    suffix = spec.lower().rstrip("/").rsplit(".", 1)[-1] if "." in spec.rsplit("/", 1)[-1] else ""
    try:
        if "://" not in spec and "/" not in spec and _table_exists(con, spec):
            frame, fmt = session_sql(f"SELECT * FROM {spec}"), "table (spark)"
            frame.createOrReplaceTempView("_input")
            table = con.table("_input")
        elif suffix in ("parquet", "pq") or suffix == "":
            table, fmt = con.read_parquet(spec, table_name="_input"), "parquet (spark)"
        else:
            head = [r[0] for r in session_sql(f"SELECT value FROM text.`{spec}` LIMIT 3").collect()]
            delim = _sniff(head)
            first = next(csv.reader([head[0]], delimiter=delim)) if head else []
            second = next(csv.reader([head[1]], delimiter=delim)) if len(head) > 1 else None
            from analysis.read.files import has_header

            header = has_header(first, second)
            table = _columns(_csv(con, [spec], delim, header), header, bool(head) and head[0].startswith("\ufeff"))
            fmt = TEXT_FORMATS[delim] + " (spark)"
        has_rows = bool(table.limit(1).count().execute())
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - Spark's analysis errors: one clear line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"is neither a local file nor a table or path Spark can read ({first})", file=shown,
                        fix="give a local file, a Spark table (db.table) or a path such as "
                            "hdfs://... or s3a://... to a Parquet folder or CSV file") from None
    columns = tuple(table.columns)
    if not has_rows:
        raise DataError("has no data rows", file=shown, example=", ".join(columns[:5]),
                        fix="point --input at the transactions")
    # The bytes are on the cluster: the fingerprint is of the name, not of the content.
    digest = hashlib.sha256(spec.encode()).hexdigest()
    return Source(table=table, format=fmt, digest=digest, columns=columns, kind="table")


def _table_exists(con, name: str) -> bool:
    try:
        con.raw_sql(f"DESCRIBE TABLE {name}").collect()
        return True
    except Exception:  # noqa: BLE001 - not a table: read as a path
        return False


def _sniff(lines: list[str]) -> str:
    from analysis.read.files import DELIMITERS

    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return max(DELIMITERS, key=lambda d: lines[0].count(d)) if lines else ","

