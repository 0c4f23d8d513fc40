"""Opening files: CSV with any common delimiter, .gz, .zip and Parquet give the same table."""

import gzip
import zipfile

import ibis
import pandas as pd
import pytest

from analysis.errors import DataError
from analysis.read.source import open_source
from tests.conftest import HEADER, TINY_LINES

TEXT = "\n".join([HEADER, *TINY_LINES]) + "\n"


def read(path, tmp_path=None):
    con = ibis.duckdb.connect()
    src = open_source(path, con, workdir=tmp_path)
    return src, src.table.execute()


@pytest.mark.parametrize("name, writer", [
    ("t.csv", lambda p: p.write_text(TEXT)),
    ("t.tsv", lambda p: p.write_text(TEXT.replace(",", "\t"))),
    ("t.txt", lambda p: p.write_text(TEXT.replace(",", ";"))),
    ("t.csv.gz", lambda p: p.write_bytes(gzip.compress(TEXT.encode()))),
    ("t.zip", lambda p: zipfile.ZipFile(p, "w").writestr("inner.csv", TEXT)),
    ("t.parquet", lambda p: pd.read_csv(pd.io.common.StringIO(TEXT), dtype=str).to_parquet(p)),
])
def test_every_supported_format_reads_the_same_rows_and_columns(tmp_path, name, writer):
    path = tmp_path / name
    writer(path)
    src, df = read(path, tmp_path)
    assert len(df) == 12 and list(src.columns) == HEADER.split(",")
    assert df["order_id"].astype(str).tolist()[:2] == ["1001", "1001"]


def test_the_fingerprint_is_the_sha256_of_the_file(tmp_path):
    import hashlib

    path = tmp_path / "t.csv"
    path.write_text(TEXT)
    assert read(path)[0].sha256 == hashlib.sha256(TEXT.encode()).hexdigest()


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "file not found"),
    (lambda p: p.write_bytes(b""), "file is empty"),
    (lambda p: p.write_text(HEADER + "\n"), "has a header but no data rows"),
])
def test_unusable_files_raise_a_clear_error(tmp_path, setup, message):
    path = tmp_path / "x.csv"
    setup(path)
    with pytest.raises(DataError, match=message) as err:
        read(path)
    assert str(path) in err.value.message() and "fix:" in err.value.message()


def test_an_unknown_extension_is_refused_with_the_formats_that_work(tmp_path):
    path = tmp_path / "sales.xlsb"
    path.write_bytes(b"\x00\x01")
    with pytest.raises(DataError, match=r"(?s)unsupported file type '.xlsb'.*\.csv"):
        read(path)


def test_a_zip_with_several_files_is_refused(tmp_path):
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", TEXT)
        zf.writestr("b.csv", TEXT)
    with pytest.raises(DataError, match="holds 2 files"):
        read(path, tmp_path)


def test_a_truncated_gzip_is_reported_not_raised(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress((TEXT * 200).encode())[:300])
    with pytest.raises(DataError, match="could not be read"):
        read(path)
