"""Open the user's transactions file as an Ibis table on the engine (DuckDB).

Every column is read as text so that cleaning can count and report values it cannot parse.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import ibis

from analysis.errors import DataError

CSV_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".psv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}

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
]


@dataclass(frozen=True)
class Source:
    table: ibis.Table
    format: str
    sha256: str
    rows: int
    columns: tuple[str, ...]
    attribution: str


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _kind(path: Path) -> tuple[str, str]:
    """(format label, reader) from the file name: csv, csv.gz, zip, parquet."""
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet", "parquet"
    if last == ".zip":
        return "zip", "zip"
    if last == ".gz" and len(suffixes) >= 2 and suffixes[-2] in CSV_SUFFIXES:
        return f"{suffixes[-2].lstrip('.')}.gz", "csv"
    if last in CSV_SUFFIXES:
        return last.lstrip("."), "csv"
    if last == ".gz":
        return "gz", "csv"
    raise DataError(
        f"unsupported file type '{last or '(none)'}'", file=str(path),
        fix="give a .csv/.tsv/.txt file (optionally .gz or .zip) or a .parquet file",
    )


def _unzip_single(path: Path, workdir: Path) -> Path:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
            if len(members) != 1:
                names = ", ".join(m.filename for m in members[:3]) or "none"
                raise DataError(f"zip archive holds {len(members)} files ({names}); expected exactly one",
                                file=str(path), fix="zip a single CSV or Parquet file, or unzip it and pass the file")
            member = members[0]
            target = workdir / Path(member.filename).name
            with zf.open(member) as src, open(target, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            return target
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a readable zip archive ({exc})", file=str(path),
                        fix="check the file is a complete .zip") from None


def _read(con, path: Path, reader: str, shown: str) -> ibis.Table:
    try:
        if reader == "parquet":
            return con.read_parquet(str(path))
        return con.read_csv(str(path), all_varchar=True, header=True, sample_size=20480)
    except Exception as exc:  # the engine's own parse errors: turn them into one clear line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"could not be read as {'Parquet' if reader == 'parquet' else 'CSV'} ({first})",
                        file=shown, fix="check the file is a complete, delimited text file with a header row, "
                        "or a Parquet file") from None


def open_source(path: Path, con, workdir: Path | None = None, shown: str | None = None) -> Source:
    """Open `path` on connection `con`. `workdir` holds unpacked archives for the connection's lifetime."""
    path = Path(path)
    shown = shown or str(path)
    if not path.exists():
        raise DataError("file not found", file=shown, fix="check the path given to --input")
    if path.is_dir():
        raise DataError("is a folder, not a file", file=shown, fix="pass one transactions file to --input")
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror})", file=shown, fix="check the file's permissions") from None
    if path.stat().st_size == 0:
        raise DataError("file is empty", file=shown, fix="export the transactions again; the file has no bytes")
    fmt, reader = _kind(path)
    target = path
    if reader == "zip":
        workdir = Path(workdir or tempfile.mkdtemp(prefix="segment-report-"))
        target = _unzip_single(path, workdir)
        inner, reader = _kind(target)
        fmt = f"zip/{inner}"
    table = _read(con, target, reader, shown)
    try:
        rows = int(table.count().execute())
    except Exception as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(f"could not be read ({first})", file=shown,
                        fix="check the file is complete and not truncated") from None
    columns = tuple(table.columns)
    if rows == 0:
        raise DataError("has a header but no data rows", file=shown, example=", ".join(columns[:5]),
                        fix="export the transactions again with their rows")
    attribution = next((d["attribution"] for d in KNOWN_DATASETS
                        if d["columns"] == columns and d["rows"] == rows), "")
    return Source(table=table, format=fmt, sha256=sha, rows=rows, columns=columns, attribution=attribution)
