"""Typed values from text columns, as engine expressions: trimmed text, numbers, dates.

Unreadable values become NULL here; cleaning counts them and reports an example.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import ibis

from analysis.engine import backref
from analysis.errors import DataError

# Candidate formats, tried on text whose time zone, 'T' separator and fractions were removed.
DATE_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S",
                "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y",
                "%d/%m/%y", "%d.%m.%Y %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S",
                "%Y/%m/%d", "%Y%m%d", "%d-%m-%Y", "%d %b %Y", "%b %d %Y", "%d-%b-%Y"]
EPOCH = "epoch seconds"
SAMPLE = 5000


@ibis.udf.scalar.builtin
def try_strptime(value: str, fmt: str) -> dt.datetime:  # DuckDB's own; NULL when it does not parse
    ...


@ibis.udf.scalar.builtin(name="try_to_timestamp")
def _try_to_timestamp(value: str, fmt: str) -> dt.datetime:  # Spark's; NULL when it does not parse
    ...


# strptime directives -> Spark's (Java) datetime pattern letters. Single letters read one or two
# digits, like DuckDB's %m, %d, %H, %M, %S; runs of digits without separators need fixed widths.
JAVA_FIELDS = {"%Y": "yyyy", "%m": "M", "%d": "d", "%H": "H", "%M": "m", "%S": "s", "%y": "yy", "%b": "MMM"}
JAVA_FIXED = {"%Y%m%d": "yyyyMMdd"}


def java_pattern(fmt: str) -> str:
    """The Spark datetime pattern reading what strptime format `fmt` (one of DATE_FORMATS) reads."""
    if fmt in JAVA_FIXED:
        return JAVA_FIXED[fmt]
    return re.sub(r"%[a-zA-Z]", lambda m: JAVA_FIELDS[m.group(0)], fmt)


def strptime(value: ibis.Value, fmt: str, kind: str = "duckdb") -> ibis.Value:
    """`value` read as a timestamp in strptime format `fmt`; NULL when it does not parse.
    `kind`: the engine's dialect (engine.dialect). Other backends get Ibis' portable parse, which
    may raise on an unreadable value rather than give NULL."""
    if kind == "duckdb":
        return try_strptime(value, fmt)
    if kind == "pyspark":
        return _try_to_timestamp(value, ibis.literal(java_pattern(fmt))).cast("timestamp")
    return value.as_timestamp(fmt)


@dataclass(frozen=True)
class DateFormat:
    format: str              # the main strptime format, or EPOCH
    ambiguous: bool = False  # day and month could be either way round in every sampled value
    others: tuple[str, ...] = ()  # further formats found in the same column, tried in order

    @property
    def formats(self) -> tuple[str, ...]:
        return (self.format, *self.others)


def text(col: ibis.Value) -> ibis.Value:
    """Trimmed text; empty becomes NULL."""
    s = col.cast("string")
    # Trimming every value is one of the engine's slowest string operations, so only values that
    # can need it are trimmed: those starting with a character at or below ' ' (a string sorts
    # before '!' exactly then, and the comparison reads the string's inline prefix only) or
    # ending with a space. A tab or line break at the very end is kept.
    edge = (s < "!") | s.endswith(" ")
    return ibis.ifelse(edge, s.strip(), s).nullif("")


def number(col: ibis.Value, decimal: str = ".", kind: str = "duckdb") -> ibis.Value:
    """A float from text like '1,234.50', '£12.50' or (with decimal=',') '1.234,50'; NULL if unreadable.
    `kind`: the engine's dialect."""
    if col.type().is_numeric():
        return col.cast("float64")
    raw = col.cast("string")
    # (strip, not text(): text() uses its value four times, which makes the engine work it out
    # for every row ahead of the COALESCE below instead of only for the values that reach it)
    s = raw.strip().re_replace(r"[\s£$€¥]", "")
    if decimal == ",":
        return s.re_replace(r"\.", "").replace(",", ".").try_cast("float64")
    # Plain numbers (nearly every row) cast directly from the raw text (the engines' casts allow
    # spaces around a number); only the values that fail go through the regular expressions. A
    # value that casts has no currency sign or comma, so the slow path would read it the same.
    return ibis.coalesce(raw.try_cast("float64"), s.re_replace(r",(\d{3})", backref(1, kind)).try_cast("float64"))


def _date_text(col: ibis.Value, trimmed: bool = False, kind: str = "duckdb") -> ibis.Value:
    """Drop what the formats do not cover: a 'T' separator, fractional seconds, a time zone.
    The wall-clock time of the shop is kept (no conversion), so each order stays on its own day."""
    s = (col if trimmed else text(col)).re_replace(r"^(\d{4}-\d{2}-\d{2})T", backref(1, kind) + " ")
    s = s.re_replace(r"(\d{2}:\d{2}:\d{2})\.\d+", backref(1, kind))
    return s.re_replace(r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})$", "")


def detect_date_format(table: ibis.Table, column: str, dayfirst: bool, shown: str,
                       kind: str = "duckdb", head: ibis.Table | None = None) -> DateFormat:
    """The candidate that reads the most of a sample of values (ties: listed order, d/m first with
    dayfirst). The sample is the first SAMPLE dated rows of `head` (the first of several files) or
    of `table`: the same rows on DuckDB and Spark, whose reads of one file keep its order."""
    first = table if head is None else head
    values = first.select(v=_date_text(first[column], kind=kind))
    sample = values.filter(values.v.notnull()).limit(SAMPLE)
    formats = sorted(DATE_FORMATS, key=lambda f: (not f.startswith("%d/%m")) if dayfirst else 0)
    counts = sample.aggregate(
        n=sample.count(), epoch=sample.v.re_search(r"^\d{9,10}$").sum(),
        **{f"f{i}": strptime(sample.v, f, kind).count() for i, f in enumerate(formats)},
    ).execute().iloc[0]
    n = int(counts["n"])
    best = max(range(len(formats)), key=lambda i: (counts[f"f{i}"], -i))
    if n and counts["epoch"] and counts["epoch"] >= counts[f"f{best}"]:
        return DateFormat(EPOCH)
    if n == 0 or counts[f"f{best}"] == 0:
        example = sample.v.execute().iloc[0] if n else None
        raise DataError("no date could be read", file=shown, column=column, rows=int(table.count().execute()),
                        example=example, fix="check it is the order date, or map the right column with "
                                             "--map order_ts=COLUMN")
    chosen = formats[best]
    swapped = _swap_day_month(chosen)
    ambiguous = swapped != chosen and swapped in formats and counts[f"f{formats.index(swapped)}"] == counts[f"f{best}"]
    # Other formats that read a real share of the sample (a file mixing ISO and m/d/Y dates),
    # leaving out the day/month swap of one already taken, which would read the same values.
    taken = [chosen]
    for i in sorted(range(len(formats)), key=lambda i: (-counts[f"f{i}"], i)):
        f = formats[i]
        if f in taken or counts[f"f{i}"] < max(1, 0.01 * n) or _swap_day_month(f) in taken:
            continue
        taken.append(f)
    return DateFormat(chosen, ambiguous, tuple(taken[1:]))


def _swap_day_month(fmt: str) -> str:
    return fmt.replace("%m/%d", "%M/%D").replace("%d/%m", "%m/%d").replace("%M/%D", "%d/%m")


def timestamp(col: ibis.Value, fmt: DateFormat | None, kind: str = "duckdb") -> ibis.Value:
    """A timestamp from a typed date/timestamp column, epoch seconds, or text in `fmt`.
    `kind`: the engine's dialect (engine.dialect)."""
    if col.type().is_timestamp() or col.type().is_date():
        return col.cast("timestamp")
    if fmt and fmt.format == EPOCH:
        return text(col).try_cast("int64").as_timestamp("s")
    # Most values read directly, raw, in their format (DuckDB's parser allows spaces around a
    # date); trimming and the clean-up of 'T', fractions and zones (three regular expressions)
    # run only on those that do not. Formats ending in '-%Y' are left to the clean-up path alone:
    # their year looks like a zone offset to it ('-2024').
    raw = col.cast("string")
    value = _date_text(raw.strip(), trimmed=True, kind=kind)  # (strip: see number)
    tries = []
    for f in fmt.formats:
        if not f.endswith("-%Y"):
            tries.append(strptime(raw, f, kind))
        tries.append(strptime(value, f, kind))
    return ibis.coalesce(*tries) if len(tries) > 1 else tries[0]
