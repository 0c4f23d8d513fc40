"""Files on disk before any engine reads them: which kind a file is, its first bytes, its text
encoding, delimiter and header, unpacking and re-encoding copies, and its fingerprint. Shared by
the DuckDB reader (source.py) and the Spark reader (spark.py)."""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import hashlib
import io
import re
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import ibis

from analysis.errors import DataError

TEXT_SUFFIXES = {".csv", ".tsv", ".txt", ".tab", ".psv", ".dat"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
HEAD_BYTES = 1 << 16
DELIMITERS = [",", ";", "\t", "|"]
FIX_FORMAT = "give a .csv/.tsv/.txt file (optionally .gz or .zip), a .parquet or an .xlsx file"


@dataclass(frozen=True)
class Source:
    table: ibis.Table
    format: str
    digest: Future | str  # the fingerprint, or a Future of it (see sha256)
    columns: tuple[str, ...]
    files: tuple[str, ...] = ()
    encoding: str = "utf-8"
    kind: str = "text"  # text, parquet or excel: what the engine reads
    head: ibis.Table | None = None  # of several files, the first alone: its first rows are the same on every
                                    # engine (Spark orders a read's parts by size), for samples

    @property
    def sha256(self) -> str:
        """The input's fingerprint (see fingerprint); for files it is worked out in a background
        thread while the engine reads them, and waited for here. Raises DataError when a file
        cannot be read."""
        return self.digest if isinstance(self.digest, str) else self.digest.result()


def resolve_files(spec: str | Path, shown: str) -> list[Path]:
    """A file, every data file in a folder, or the files matching a glob; sorted."""
    text = str(spec)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise DataError("no file matches the pattern", file=shown, fix="check the pattern given to --input")
        return files
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                       and kind_of_file(p, shown, strict=False) is not None)
        if not files:
            raise DataError("folder holds no data files", file=shown, fix=FIX_FORMAT)
        return files
    if not path.exists():
        raise DataError("file not found", file=shown, fix="check the path given to --input")
    return [path]


def kind_of_file(path: Path, shown: str, strict: bool = True) -> str | None:
    """'text', 'gz', 'zip', 'parquet' or 'excel' from the file name."""
    suffixes = [s.lower() for s in path.suffixes]
    last = suffixes[-1] if suffixes else ""
    kind = ("parquet" if last in PARQUET_SUFFIXES else "excel" if last in EXCEL_SUFFIXES
            else "zip" if last == ".zip" else "gz" if last == ".gz" else "text" if last in TEXT_SUFFIXES
            else None)
    if kind is None and strict:
        hint = " (old .xls: save it as .xlsx or CSV)" if last == ".xls" else ""
        raise DataError(f"unsupported file type '{last or '(none)'}'{hint}", file=shown or str(path), fix=FIX_FORMAT)
    return kind


def fingerprint(files: list[Path]) -> str:
    """sha256 of the file's bytes; for several files, of their names and digests in order."""
    digests = []
    for path in files:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        digests.append(digest.hexdigest())
    if len(files) == 1:
        return digests[0]
    return hashlib.sha256("".join(f"{p.name}:{d}\n" for p, d in zip(files, digests)).encode()).hexdigest()


def fingerprint_later(files: list[Path], shown: str) -> Future:
    """fingerprint(files) in a background thread (hashlib leaves the interpreter free while it
    hashes): a Future of the digest, or of a DataError when a file cannot be read."""
    def work() -> str:
        try:
            return fingerprint(files)
        except OSError as exc:
            raise DataError(f"cannot be read ({exc.strerror})", file=shown,
                            fix="check the file's permissions") from None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fingerprint")
    future = pool.submit(work)
    pool.shutdown(wait=False)
    return future


def read_head(path: Path, kind: str, shown: str) -> bytes:
    try:
        opener = gzip.open if kind == "gz" else open
        with opener(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except PermissionError:
        raise DataError("cannot be read: permission denied", file=shown,
                        fix="check the file's permissions (or copy it somewhere you can read it)") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"could not be read ({exc})", file=shown,
                        fix="check the file is complete and not truncated") from None


def utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when `head` looks like UTF-16 text with no byte-order mark
    (every other byte zero), else None."""
    sample = head[:4096 - (len(head[:4096]) % 2)]
    if len(sample) < 8:
        return None
    odd, even = sample[1::2], sample[0::2]
    for name, zeros, chars in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros.count(0) >= 0.9 * len(zeros) and chars.count(0) <= 0.1 * len(chars):
            return name
    return None


def first_bad_row(path: Path, limit: int = 1_000_000) -> tuple[int, str, str] | None:
    """The first row of a delimited text file that does not fit its header, within the first
    `limit` rows: (line number, what is wrong, the start of the row), or None."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
            head = [fh.readline() for _ in range(3)]
            lines = [line.rstrip("\r\n") for line in head if line.strip()]
            if not lines:
                return None
            delim = sniff_delimiter(lines)
            fh.seek(0)
            reader = csv.reader(fh, delimiter=delim, strict=True)
            width, start = None, 1
            for n, row in enumerate(reader):
                if n >= limit:
                    return None
                if width is None:
                    width = len(row)
                elif row and len(row) != width:
                    text = delim.join(row).replace("\n", " ")
                    what = ("starts a quoted value that is never closed" if reader.line_num - start > 1 and
                            len(row) < width else f"has {len(row)} fields where the header has {width}")
                    return start, what, text[:60]
                start = reader.line_num + 1
    except csv.Error as exc:
        what = "starts a quoted value that is never closed" if "end of data" in str(exc) else \
            f"cannot be split into fields ({exc})"
        return start, what, _line(path, opener, start)[:60]
    except (OSError, EOFError, UnicodeError):
        return None
    return None


def _line(path: Path, opener, number: int) -> str:
    """Line `number` (1 first) of a text file, as read."""
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as fh:
        for n, line in enumerate(fh, start=1):
            if n == number:
                return line.rstrip("\r\n")
    return ""


def detect_encoding(head: bytes, given: str | None) -> str:
    if given:
        return given
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if found := utf16_without_bom(head):  # exported without a byte-order mark: every other byte is zero
        return found
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:  # a character cut by the end of the sample
            return "utf-8"
        return "cp1252"


def first_lines(text: str, n: int = 50) -> list[str]:
    return [ln for ln in text.splitlines()[:n] if ln.strip()]


def is_whitespace_aligned(text: str) -> bool:
    """No usual delimiter, and every line splits on runs of spaces into the same 2+ fields."""
    lines = first_lines(text)
    if not lines or any(d in ln for ln in lines for d in DELIMITERS):
        return False
    counts = {len(ln.split()) for ln in lines[:-1] or lines}
    return len(counts) == 1 and counts.pop() >= 2


def _looks_numeric(value: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[\d.,:/ ]+", value.strip()))


def has_header(first: list[str], second: list[str] | None) -> bool:
    """A header when some first-row field is text where the second row has a number."""
    if second is None or len(second) != len(first):
        return not all(_looks_numeric(f) for f in first)
    return any(not _looks_numeric(a) and _looks_numeric(b) for a, b in zip(first, second)) or \
        all(not _looks_numeric(a) for a in first)


def transcode(path: Path, kind: str, encoding: str, workdir: Path) -> Path:
    """Copy a non-UTF-8 text file as UTF-8 (cp1252 bytes it cannot map are read as Latin-1)."""
    target = workdir / (path.name.removesuffix(".gz") + ".utf8.csv")
    opener = gzip.open if kind == "gz" else open
    errors = "latin1_fallback" if encoding.lower() in ("cp1252", "windows-1252") else "strict"
    with opener(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        reader = io.TextIOWrapper(src, encoding=encoding, errors=errors, newline="")
        while block := reader.read(1 << 20):
            dst.write(block)
    return target


def _latin1_fallback(exc: UnicodeDecodeError):
    return exc.object[exc.start:exc.end].decode("latin-1"), exc.end


codecs.register_error("latin1_fallback", _latin1_fallback)


def unzip_single(path: Path, workdir: Path, shown: str) -> Path:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir() and not m.filename.startswith("__MACOSX")]
            if len(members) != 1:
                names = ", ".join(m.filename for m in members[:3]) or "none"
                raise DataError(f"zip archive holds {len(members)} files ({names}); expected exactly one",
                                file=shown, fix="zip a single data file, or unzip it and pass the folder")
            target = workdir / Path(members[0].filename).name
            with zf.open(members[0]) as src, open(target, "wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
            return target
    except zipfile.BadZipFile as exc:
        raise DataError(f"not a readable zip archive ({exc})", file=shown,
                        fix="check the file is a complete .zip") from None


def sniff_delimiter(lines: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return max(DELIMITERS, key=lambda d: lines[0].count(d))
