"""Downloadable files: customer lists and segment tables as CSV, and summary.json.

Builds bytes in memory (the site writer writes them). CSV cells that a spreadsheet would
run as a formula are neutralised; number columns are never touched. Output is deterministic:
floats at STABLE_DIGITS significant digits, '\\n' line endings, sorted JSON keys.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
from typing import Callable, Iterable, Iterator, Mapping

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import analysis
from analysis.result import Analysis
from report import dictionary
from report.pages.parts import finding_rows, segments

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Significant digits written for floats: enough for money and rates, few enough that float
# noise in the last bits (a parallel engine's sums) never changes the bytes.
STABLE_DIGITS = 10
FIRST_CUSTOMER_COLUMNS = ["customer_id", "rfm_segment", "cluster", "cluster_name"]
# Distributions whose versions can change the numbers or the pages (recorded in summary.json).
RECORDED_PACKAGES = ("pandas", "numpy", "duckdb", "ibis-framework", "scikit-learn", "plotly", "jinja2", "pyspark")


def _neutralise_text(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_for_spreadsheets(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy where text cells starting with = + - @ tab or CR get a leading apostrophe.

    Only string and object columns are changed (and in those only str values); numbers stay numbers.
    """
    out = frame.copy()
    for col in out.columns:
        series = out[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        if isinstance(series.dtype, pd.StringDtype):
            formula = series.str.startswith(FORMULA_START).fillna(False).astype(bool)
            out[col] = series.mask(formula, "'" + series)
        elif series.dtype == object:
            out[col] = series.map(_neutralise_text, na_action="ignore").astype(series.dtype)
    return out


# --- CSV writer ------------------------------------------------------------------------------
# pandas' to_csv formats and quotes cell by cell in Python; the site writes the customer list
# several times (customers.csv, top_clv.csv, at_risk.csv, one file per segment). CsvCells turns
# a table's cells into spreadsheet-safe, CSV-quoted text with pyarrow (floats with DuckDB), a
# batch of BATCH_ROWS rows at a time, and joins rows in pyarrow; every file is a choice of rows
# and columns, written as a stream of byte chunks, so that memory stays bounded whatever the
# number of customers (formatting every cell of a million customers at once held over 2 GB).
# Its bytes are what to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT) wrote
# after safe_for_spreadsheets, except that a cell holding a carriage return is now quoted
# (Python's csv module left a lone CR bare, which split the row for most readers).

FLOAT_FORMAT = f"%.{STABLE_DIGITS}g"
FORMULA_PATTERN = r"^[=+\-@\t\r]"  # FORMULA_START as a regular expression
QUOTE_PATTERN = r'[,"\r\n]'         # cells holding these are quoted, quotes doubled
TEXT = pa.large_string()
EMPTY, QUOTE, APOSTROPHE, COMMA = (pa.scalar(c, TEXT) for c in ("", '"', "'", ","))
BATCH_ROWS = 100_000  # rows formatted at a time: ~100 MB of cells for the 50 columns of customers.csv
CACHE_ROWS = 200_000  # up to this many rows, each column is formatted once for all the files cut from
                      # the table (about 200 MB of cells at most); beyond, again for each file, a batch
                      # at a time (at a million customers the files took 31 s against 23 s formatted once)


def _quoted(cells: pa.Array) -> pa.Array:
    """CSV quoting: cells holding a comma, quote, CR or LF in quotes, their quotes doubled."""
    needs = pc.match_substring_regex(cells, QUOTE_PATTERN)
    if not pc.any(needs).as_py():
        return cells
    quoted = pc.binary_join_element_wise(QUOTE, pc.replace_substring(cells, '"', '""'), QUOTE, EMPTY)
    return pc.if_else(needs, quoted, cells)


def _text_cells(values: pa.Array) -> pa.Array:
    """Text cells: formula-like text gets a leading apostrophe, then CSV quoting; missing -> ''."""
    values = values.cast(TEXT)
    formula = pc.fill_null(pc.match_substring_regex(values, FORMULA_PATTERN), False)
    values = pc.if_else(formula, pc.binary_join_element_wise(APOSTROPHE, values, EMPTY), values)
    return _quoted(pc.fill_null(values, EMPTY))


def float_cells(columns: Mapping[str, np.ndarray]) -> dict[str, pa.Array]:
    """Float columns (of one length) as text at STABLE_DIGITS significant digits, exactly as Python's '%g' writes
    them (DuckDB's printf follows the same C rules: tests/test_report_render.py checks); NaN -> ''.
    A formatting job for an in-memory engine of its own: a hundred times faster than formatting
    value by value in Python at a hundred thousand customers, and it leaves the interpreter free."""
    if not columns:
        return {}
    names = [f"c{i}" for i in range(len(columns))]
    fmt = FLOAT_FORMAT.replace("'", "''")
    select = ", ".join(f"CASE WHEN isnan({n}) THEN '' ELSE printf('{fmt}', {n}) END AS {n}" for n in names)
    con = duckdb.connect()
    try:
        con.register("floats", pa.table({n: np.asarray(v, dtype="float64") for n, v in zip(names, columns.values())}))
        out = con.sql(f"SELECT {select} FROM floats").to_arrow_table()  # row order kept
    finally:
        con.close()
    return {key: out.column(n).combine_chunks().cast(TEXT) for key, n in zip(columns, names)}


def _arrow(series: pd.Series, type=None) -> pa.Array:
    """The column as one Arrow array (arrow-backed pandas columns may come in chunks)."""
    values = pa.array(series, type=type, from_pandas=True)
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _kind(series: pd.Series) -> str | None:
    """How a column is written: "bool", "int", "float", "text" or "date"; None for a type the fast
    writer leaves to pandas."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if isinstance(dtype, pd.StringDtype):
        return "text"
    if dtype == object:
        kinds = {type(v) for v in series.tolist() if not (v is None or v is pd.NA or (isinstance(v, float) and v != v))}
        if kinds <= {str}:
            return "text"
        if kinds <= {dt.date}:  # calendar dates: ISO, as str() writes them
            return "date"
    return None


def _column_cells(series: pd.Series, kind: str) -> pa.Array:
    """One column of a kind other than "float" (see float_cells) as CSV cells."""
    if kind == "bool":
        if series.dtype == bool:
            return pa.array(np.where(series.to_numpy(), "True", "False"), type=TEXT)
        return pa.array(series.map({True: "True", False: "False"}).fillna(""), type=TEXT)
    if kind == "int":
        return pc.fill_null(_arrow(series).cast(TEXT), EMPTY)
    if kind == "text":
        return _text_cells(_arrow(series, TEXT if series.dtype == object else None))
    return pc.fill_null(_arrow(series, pa.date32()).cast(TEXT), EMPTY)  # "date"


class CsvCells:
    """A table whose every column the fast writer knows; `chunks()` writes any rows and columns of it."""

    def __init__(self, frame: pd.DataFrame, kinds: dict[str, str]):
        self.frame = frame
        self.kinds = kinds
        self._whole: dict[str, pa.Array] = {}  # columns formatted for every row (tables up to CACHE_ROWS)

    @classmethod
    def of(cls, frame: pd.DataFrame) -> CsvCells | None:
        """The writer of `frame`, or None when a column needs pandas (or names repeat)."""
        if frame.columns.has_duplicates or not len(frame.columns):
            return None
        kinds = {col: _kind(frame[col]) for col in frame.columns}
        if None in kinds.values():
            return None
        return cls(frame, kinds)

    def cells(self, columns: list, rows) -> list[pa.Array]:
        """The CSV cells of `columns` for the row positions `rows` (an array or a slice)."""
        if len(self.frame) <= CACHE_ROWS:
            missing = [c for c in columns if c not in self._whole]
            if missing:
                self._whole.update(zip(missing, self._format(missing, slice(None))))
            if isinstance(rows, slice):
                start, stop, _ = rows.indices(len(self.frame))
                return [self._whole[c].slice(start, stop - start) for c in columns]
            taken = pa.array(rows, type=pa.int64())
            return [self._whole[c].take(taken) for c in columns]
        return self._format(columns, rows)

    def _format(self, columns: list, rows) -> list[pa.Array]:
        part = self.frame.iloc[rows, [self.frame.columns.get_loc(c) for c in columns]]
        floats = float_cells({c: _rounded(c, part[c].to_numpy(dtype="float64", na_value=np.nan))
                              for c in columns if self.kinds[c] == "float"})
        return [floats[c] if c in floats else _column_cells(part[c], self.kinds[c]) for c in columns]

    def chunks(self, columns: list | None = None, rows: np.ndarray | None = None,
               header: list | None = None) -> Iterator[bytes]:
        """CSV of `columns` (all by default) for row positions `rows` (all by default), with
        `header` names (the column names by default), as byte chunks: the header, then one chunk
        per BATCH_ROWS rows."""
        columns = list(self.frame.columns) if columns is None else list(columns)
        names = [str(c) for c in (columns if header is None else header)]
        yield (_text_line(names) + "\n").encode("utf-8")
        n = len(self.frame) if rows is None else len(rows)
        for start in range(0, n, BATCH_ROWS):
            batch = slice(start, min(n, start + BATCH_ROWS)) if rows is None else rows[start:start + BATCH_ROWS]
            parts = self.cells(columns, batch)
            lines = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, COMMA)
            if len(columns) == 1:  # a row of one empty cell is written as "" so it is not skipped
                lines = pc.if_else(pc.equal(lines, EMPTY), pa.scalar('""', TEXT), lines)
            del parts
            body = pc.binary_join(pa.LargeListArray.from_arrays([0, len(lines)], lines), pa.scalar("\n", TEXT))
            yield b"".join((memoryview(body[0].as_buffer()), b"\n"))  # one copy of the batch's text

    def csv(self, columns: list | None = None, rows: np.ndarray | None = None,
            header: list | None = None) -> bytes:
        """chunks() as one bytes."""
        return b"".join(self.chunks(columns, rows, header))


def _text_line(names: list[str]) -> str:
    """A header row: names quoted like text cells (no apostrophes: we choose the names)."""
    cells = _quoted(pa.array(names, type=TEXT)).to_pylist()
    return '""' if cells == [""] else ",".join(cells)


def _rounded(name: str, values: np.ndarray) -> np.ndarray:
    """A float column at the decimals its unit is written with (report.dictionary: money 2, shares 3)."""
    places = dictionary.decimals(name)
    return values if places is None else np.round(values, places)


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV with floats at their unit's decimals (at most STABLE_DIGITS significant digits) and '\\n'
    line endings; text cells that a spreadsheet would run as a formula start with an apostrophe."""
    cells = CsvCells.of(frame)
    if cells is not None:
        return cells.csv()
    out = safe_for_spreadsheets(frame)
    out = out.assign(**{c: _rounded(c, out[c].to_numpy(dtype="float64", na_value=np.nan)) for c in out.columns
                        if pd.api.types.is_float_dtype(out[c].dtype)})
    return out.to_csv(index=False, lineterminator="\n", float_format=FLOAT_FORMAT).encode("utf-8")


def file_names(a: Analysis, columns: list[str]) -> list[str]:
    """Column names as the files write them: the lifetime value is named after its horizon (clv_365),
    in every file."""
    horizon = a.value.clv_horizon_days
    return [f"clv_{horizon}" if horizon and c == "clv" else c for c in columns]


def _customer_columns(a: Analysis) -> tuple[list[str], list[str]]:
    """customers.csv columns (ids and segments first, then the features in schema order) and
    their names in the file."""
    columns = list(a.tables["customers"].columns)
    order = FIRST_CUSTOMER_COLUMNS + [c for c in columns if c not in FIRST_CUSTOMER_COLUMNS]
    return order, file_names(a, order)


def customers_table(a: Analysis) -> pd.DataFrame:
    """customers.csv columns: ids and segments first, then the features in schema order."""
    order, names = _customer_columns(a)
    return a.tables["customers"][order].set_axis(names, axis=1)


# A segment's list, ready for a campaign: who, what to do, what they are worth, how at risk.
# (segment and action are the list's own: its kind's segment column and that segment's action)
CAMPAIGN_COLUMNS = ["customer_id", "segment", "action", "other_segment", "country", "last_order_date",
                    "frequency_orders", "monetary", "clv", "p_alive", "at_risk", "value_at_risk"]
KIND_COLUMNS = {"rfm": ("rfm_segment", "cluster_name"), "cluster": ("cluster_name", "rfm_segment")}


def _campaign_frame(a: Analysis) -> pd.DataFrame:
    """The customers table with each customer's action in both segmentations, and their contact
    when the input has one, for the segment lists."""
    c = a.tables["customers"]
    seg = a.tables["segments"]
    actions = {kind: seg[seg["kind"] == kind].set_index("segment")["action"] for kind in KIND_COLUMNS}
    more = {f"{kind}_action": c[own].map(actions[kind]).astype("string") for kind, (own, _) in KIND_COLUMNS.items()}
    if _has_contacts(a):
        more["contact"] = c["customer_id"].map(a.tables["contacts"].set_index("customer_id")["contact"]).astype("string")
    return c.assign(**more)


def _has_contacts(a: Analysis) -> bool:
    return len(a.tables["contacts"]) > 0


def _campaign_columns(a: Analysis, kind: str) -> tuple[list[str], list[str]]:
    """A segment list's columns in the campaign frame, and their names in the file (contact, after
    the id, only when the input has one)."""
    own, other = KIND_COLUMNS[kind]
    wanted = CAMPAIGN_COLUMNS[:1] + ["contact"] * _has_contacts(a) + CAMPAIGN_COLUMNS[1:]
    columns = [{"segment": own, "action": f"{kind}_action", "other_segment": other}.get(c, c) for c in wanted]
    return columns, file_names(a, [{"other_segment": other}.get(c, c) for c in wanted])


def _by_value(c: pd.DataFrame) -> np.ndarray:
    """Each customer's place when ordered by lifetime value (then net revenue, then id), most first."""
    clv = c["clv"].to_numpy(dtype="float64", na_value=np.nan)
    order = np.lexsort((c["customer_id"].to_numpy(dtype=object).astype(str),
                        -c["monetary"].to_numpy(dtype="float64"), -np.nan_to_num(clv, nan=-np.inf)))
    place = np.empty(len(c), dtype=np.int64)
    place[order] = np.arange(len(c))
    return place


def segment_customers(a: Analysis, kind: str, segment: str) -> pd.DataFrame:
    """A segment's list (downloads/segments/<slug>.csv), most valuable first, with the file's names."""
    frame = _campaign_frame(a)
    rows = np.flatnonzero((frame[KIND_COLUMNS[kind][0]] == segment).to_numpy(dtype=bool, na_value=False))
    rows = rows[np.argsort(_by_value(frame)[rows], kind="stable")]
    columns, names = _campaign_columns(a, kind)
    return frame.iloc[rows][columns].set_axis(names, axis=1)


# why each customer is on the list: days since their last order against the gap expected of them
AT_RISK_COLUMNS = ["customer_id", "rfm_segment", "cluster", "cluster_name", "value_at_risk", "revenue_last_365_days",
                   "monetary", "days_since_any_order", "order_days", "own_rhythm", "expected_gap_days",
                   "overdue_days", "frequency_orders", "p_alive", "clv"]
VALUE_COLUMNS = ["customer_id", "rfm_segment", "cluster", "cluster_name", "clv", "p_alive",
                 "expected_purchases_90", "expected_purchases_365", "monetary", "frequency_orders", "recency_days"]
DISAGREEMENT_COLUMNS = ["customer_id", "disagreement", *VALUE_COLUMNS[1:]]


def _list(a: Analysis, name: str, limit: int | None = None) -> pd.DataFrame:
    """One of the analysis's customer lists, in its order (its first `limit` customers)."""
    lists = a.tables["customer_lists"]
    return lists[lists["list"] == name].sort_values("position", kind="stable").head(limit)


def list_length(a: Analysis, name: str) -> int:
    """How many customers one of the analysis's customer lists holds."""
    return int((a.tables["customer_lists"]["list"] == name).sum())


def _rows(a: Analysis, listed: pd.DataFrame) -> np.ndarray:
    """Positions in the customers table of the customers of `listed` (a _list), in its order."""
    ids = listed["customer_id"].to_numpy(dtype=object)
    return pd.Index(a.tables["customers"]["customer_id"].to_numpy(dtype=object)).get_indexer(ids)


def _list_rows(a: Analysis, name: str, limit: int | None = None) -> np.ndarray:
    """Positions in the customers table of a customer list's customers, in the list's order."""
    return _rows(a, _list(a, name, limit))


def at_risk_customers(a: Analysis, limit: int | None = None) -> pd.DataFrame:
    """Customers flagged at risk, in the analysis's order (highest value at risk first; the first
    `limit` of them)."""
    return a.tables["customers"][AT_RISK_COLUMNS].iloc[_list_rows(a, "at_risk", limit)]


def top_clv_customers(a: Analysis, limit: int | None = None) -> pd.DataFrame:
    """Every customer with a CLV, in the analysis's order (highest first; the first `limit`)."""
    return a.tables["customers"][VALUE_COLUMNS].iloc[_list_rows(a, "top_value", limit)]


def alive_disagreements(a: Analysis, limit: int | None = None) -> pd.DataFrame:
    """The repeat customers whose RFM segment and purchase model disagree, with the value columns
    (the first `limit`)."""
    listed = _list(a, "disagreements", limit)
    rows = a.tables["customers"][[c for c in DISAGREEMENT_COLUMNS if c != "disagreement"]].iloc[_rows(a, listed)]
    return rows.assign(disagreement=listed["disagreement"].to_numpy(dtype=object)).reset_index(drop=True)[
        DISAGREEMENT_COLUMNS]


def movers_table(a: Analysis) -> pd.DataFrame:
    """Customers who slipped into a lapsing RFM segment, most revenue first (as the analysis sorts them)."""
    return a.tables["movers"]


def plain(value):
    """A JSON-ready copy: numpy scalars to Python, NaN/inf to None, dates to ISO, mappings to dicts."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float):
        return float(f"{value:.{STABLE_DIGITS}g}") if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)


def package_versions() -> dict[str, str | None]:
    """Python's version and each RECORDED_PACKAGES distribution's (None when not installed).

    They differ between machines, so they are written to summary.json only, never to a page.
    """
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def recorded_config(a: Analysis) -> dict:
    """The options used, with the output folder reduced to its name: where a site is built must
    not change its bytes (and a home folder's path is nobody's business)."""
    config = a.config.as_dict()
    if config.get("output") is not None:
        config["output"] = os.path.basename(os.path.abspath(str(a.config.output)))
    return config


def summary(a: Analysis) -> dict:
    """summary.json: input fingerprint, ledger, headline figures, options, warnings, tool and
    package versions."""
    ledger = a.tables["ledger"]
    s = a.source
    return plain({
        "tool": {"name": analysis.TOOL_NAME, "version": analysis.__version__},
        "versions": package_versions(),
        "input": {"path": s.path, "format": s.format, "sha256": s.sha256, "rows": s.rows,
                  "columns": list(s.columns), "mapping": dict(s.mapping)},
        "attribution": s.attribution,
        "ledger": dict(zip(ledger["reason"].tolist(), ledger["rows"].tolist())),
        "money_ledger": [{"section": r.section, "item": r.item, "lines": r.lines, "value": r.value}
                         for r in a.tables["money_ledger"].itertuples()],
        "headline": dict(a.headline),
        "models": models(a),
        "config": recorded_config(a),
        "engine": dict(a.engine),
        "findings": [{**row, "stake": f.stake} for row, f in zip(finding_rows(a.findings), a.findings)],
        "warnings": list(a.warnings),
    })


def models(a: Analysis) -> dict:
    """The fitted customer-value models with their units, as recorded in the headline."""
    bg, gg = a.value.purchase_model, a.value.gamma_gamma
    return {
        "purchase_model": {**bg, "time_unit": a.value.clv_time_unit, "reliable": a.value.value_model_reliable,
                           "doubts": a.value.value_model_doubts, "forecast_from": a.value.value_predictor}
        if bg else None,
        "purchase_models": {name: {**fit, "time_unit": a.value.clv_time_unit, "in_use": bool(bg) and name == bg["model"]}
                            for name, fit in (a.value.purchase_models or {}).items()},
        "gamma_gamma": {**gg, "money": a.config.currency or None} if gg else None,
        "clv": {"horizon_days": a.value.clv_horizon_days, "discount_rate_monthly": a.value.discount_rate_monthly,
                "total": a.value.clv_total},
        "holdout": {"mae": a.value.holdout_mae, "cutoff": a.value.holdout_cutoff,
                    "beats_naive": a.value.holdout_beats_naive,
                    "comparison": a.tables["holdout_comparison"].to_dict(orient="records")
                    if "holdout_comparison" in a.tables else []},
        "spend_frequency_correlation": a.value.spend_frequency_correlation,
    }


def customer_files(a: Analysis) -> dict[str, bytes]:
    """customer_file_items as a dict of whole files, by path inside the site."""
    return {path: b"".join(chunks) for path, chunks in customer_file_items(a)}


def customer_file_items(a: Analysis) -> Iterator[tuple[str, Iterable[bytes]]]:
    """customers.csv, at_risk.csv, top_clv.csv and one CSV per segment, one (path, byte chunks)
    at a time: all cut from one writer of the customers table, a batch of rows at a time (a
    column type the fast writer leaves to pandas: table by table, each file in one chunk)."""
    frame = _campaign_frame(a)
    seg = segments(a)
    listed = list(zip(seg["kind"].tolist(), seg["segment"].tolist(), seg["slug"].tolist()))
    cells = CsvCells.of(frame)
    if cells is None:
        yield "downloads/customers.csv", [to_csv_bytes(customers_table(a))]
        for name, table in (("at_risk", at_risk_customers(a)), ("top_clv", top_clv_customers(a))):
            yield f"downloads/{name}.csv", [to_csv_bytes(table.set_axis(file_names(a, list(table.columns)), axis=1))]
        for kind, name, slug in listed:
            yield f"downloads/segments/{slug}.csv", [to_csv_bytes(segment_customers(a, kind, name))]
        return
    order, names = _customer_columns(a)
    yield "downloads/customers.csv", cells.chunks(order, header=names)
    yield "downloads/at_risk.csv", cells.chunks(AT_RISK_COLUMNS, _list_rows(a, "at_risk"),
                                                header=file_names(a, AT_RISK_COLUMNS))
    yield "downloads/top_clv.csv", cells.chunks(VALUE_COLUMNS, _list_rows(a, "top_value"),
                                                header=file_names(a, VALUE_COLUMNS))
    place = _by_value(frame)
    members = {kind: frame.groupby(own, sort=False).indices for kind, (own, _) in KIND_COLUMNS.items()}
    for kind, name, slug in listed:
        rows = members[kind].get(name, np.empty(0, dtype=np.int64))
        columns, header = _campaign_columns(a, kind)
        yield f"downloads/segments/{slug}.csv", cells.chunks(columns, rows[np.argsort(place[rows], kind="stable")],
                                                             header=header)


def file_columns(a: Analysis) -> dict[str, list[str]]:
    """Each CSV under downloads/ (the segment lists as one, segments/<slug>.csv) and its columns as
    written: what downloads/README.md and the downloads page describe."""
    lists = dict.fromkeys(name for kind in KIND_COLUMNS for name in _campaign_columns(a, kind)[1])
    return {
        "customers.csv": _customer_columns(a)[1],
        "segments/<slug>.csv": list(lists),
        "at_risk.csv": file_names(a, AT_RISK_COLUMNS),
        "top_clv.csv": file_names(a, VALUE_COLUMNS),
        "p_alive_disagreements.csv": file_names(a, DISAGREEMENT_COLUMNS),
        "movers.csv": list(movers_table(a).columns),
        "segments.csv": list(segments(a).columns),
        "returned_everything.csv": list(a.tables["returned_everything"].columns),
        "ledger.csv": [dictionary.RENAMED["ledger.csv"].get(c, c) for c in a.tables["ledger"].columns],
        "money_ledger.csv": list(a.tables["money_ledger"].columns),
    }


def write_downloads(a: Analysis, write: Callable[[str, bytes | Iterable[bytes]], None]) -> None:
    """Every file under downloads/, each passed to write(path inside the site, bytes or byte
    chunks) as it is made, so that they are never all in memory at once, nor the whole of a
    customer file (a batch of its rows at a time), and downloads/README.md, the data dictionary of
    the CSV files."""
    for path, chunks in customer_file_items(a):
        write(path, chunks)
    write("downloads/segments.csv", to_csv_bytes(segments(a)))
    write("downloads/ledger.csv", to_csv_bytes(a.tables["ledger"].rename(columns=dictionary.RENAMED["ledger.csv"])))
    write("downloads/money_ledger.csv", to_csv_bytes(a.tables["money_ledger"]))
    write("downloads/returned_everything.csv", to_csv_bytes(a.tables["returned_everything"]))
    write("downloads/movers.csv", to_csv_bytes(movers_table(a)))
    disagreeing = alive_disagreements(a)
    write("downloads/p_alive_disagreements.csv",
          to_csv_bytes(disagreeing.set_axis(file_names(a, list(disagreeing.columns)), axis=1)))
    write("downloads/README.md", dictionary.readme(a.value.clv_horizon_days, file_columns(a)).encode("utf-8"))
    text = json.dumps(summary(a), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    write("downloads/summary.json", (text + "\n").encode("utf-8"))
