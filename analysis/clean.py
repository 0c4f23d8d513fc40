"""The row ledger: every input row ends as `kept` or dropped with one reason.

Reasons are checked in the order of REASONS; a row gets the first that applies, so the
ledger's rows sum to the input row count. Runs on the engine; returns small pandas tables
and engine tables of the kept lines and of customers' returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd

from analysis.errors import DataError
from analysis.schema import CANONICAL, REQUIRED

# (code, label, what it means): the order is the order in which rows are checked.
REASONS = [
    ("bad_date", "Unparseable date", "the date could not be read in the file's date format"),
    ("bad_number", "Non-numeric amount", "quantity, price or revenue is not a number"),
    ("missing_customer", "Guest order (no customer id)", "no customer id, so it cannot be linked to a customer"),
    ("cancellation", "Cancellation or return", "credit invoice (id C + digits) or negative quantity; "
     "counted per customer as returns"),
    ("non_positive_price", "Zero or negative price", "free items, zero quantities and bad-debt adjustments"),
    ("non_product", "Non-product line", "postage, carriage, fees, manual adjustments, bank charges, "
     "samples, gift vouchers"),
    ("duplicate", "Exact duplicate", "the same line repeated verbatim; the first copy is kept"),
    ("after_as_of", "After the as-of date", "dated on or after the analysis date (--as-of)"),
]
KEPT = ("kept", "Kept", "used in the analysis")

# Non-product lines, as data: stock codes (compared upper-case) and descriptions (lower-case).
NON_PRODUCT_CODES = ["POST", "DOT", "M", "C2", "D", "S", "B", "CRUK", "BANK CHARGES", "AMAZONFEE",
                     "CARRIAGE", "SHIPPING", "FEE", "ADJUST", "ADJUST2"]
NON_PRODUCT_CODE_PREFIXES = ["GIFT_"]
NON_PRODUCT_NAMES = ["postage", "dotcom postage", "carriage", "manual", "bank charges", "amazon fee",
                     "discount", "adjust bad debt", "samples", "cruk commission", "shipping",
                     "shipping fee", "delivery", "delivery charge", "gift voucher", "service fee"]

DATE_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d",
                "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y", "%m/%d/%y %H:%M", "%m/%d/%y",
                "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y", "%d.%m.%Y %H:%M", "%d.%m.%Y",
                "%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%Y%m%d", "%d-%m-%Y", "%d %b %Y", "%b %d, %Y"]
MAX_BAD_SHARE = 0.10  # above this share of unreadable dates or numbers, refuse instead of dropping
FIX_MAP = "map the right column with --map {field}=COLUMN"


@ibis.udf.scalar.builtin
def try_strptime(value: str, fmt: str) -> dt.datetime:  # DuckDB's own; NULL when it does not parse
    ...


@dataclass(frozen=True)
class Cleaned:
    """lines: kept lines with the canonical columns; returns: customers' cancellation lines
    (customer_id, order_ts, order_id, revenue as a positive value); ledger: schema.TABLES['ledger']."""

    lines: ibis.Table
    returns: ibis.Table
    ledger: pd.DataFrame
    as_of: dt.date
    customers_with_purchases: int
    date_format: str
    warnings: tuple[str, ...]


def check_mapping(mapping: dict[str, str], columns: tuple[str, ...], shown: str) -> None:
    missing_cols = [c for f, c in mapping.items() if c not in columns]
    if missing_cols:
        raise DataError(f"--map names column '{missing_cols[0]}', which is not in the file", file=shown,
                        example=", ".join(columns[:8]), fix="use one of the file's column names shown")
    missing = [f for f in REQUIRED if f not in mapping]
    if "revenue" not in mapping and not {"quantity", "unit_price"} <= set(mapping):
        missing.append("revenue" if "quantity" not in mapping else "unit_price")
    if missing:
        field = missing[0]
        raise DataError(f"no column found for required field '{field}' ({CANONICAL[field]})", file=shown,
                        column=field, example="columns: " + ", ".join(columns[:10]),
                        fix=f"name the column with --map {field}=COLUMN")


def detect_date_format(table: ibis.Table, column: str, dayfirst: bool, shown: str) -> str:
    """The candidate format that reads the most of a sample of values (ties: listed order)."""
    values = table.select(v=table[column].cast("string").strip())
    sample = values.filter(values.v.notnull() & (values.v != "")).limit(5000)
    formats = sorted(DATE_FORMATS, key=lambda f: ("%d/%m" not in f) if dayfirst else 0)
    counts = sample.aggregate(
        n=sample.count(), **{f"f{i}": try_strptime(sample.v, f).count() for i, f in enumerate(formats)}
    ).execute().iloc[0]
    best = max(range(len(formats)), key=lambda i: (counts[f"f{i}"], -i))
    if counts["n"] == 0 or counts[f"f{best}"] == 0:
        example = sample.v.execute().iloc[0] if counts["n"] else None
        raise DataError("no date could be read", file=shown, column=column, rows=int(table.count().execute()),
                        example=example, fix=f"check it is the order date, or {FIX_MAP.format(field='order_ts')}")
    return formats[best]


def _text(col: ibis.Value) -> ibis.Value:
    s = col.cast("string").strip()
    return ibis.ifelse(s == "", ibis.null("string"), s)


def _number(col: ibis.Value) -> ibis.Value:
    if col.type().is_numeric():
        return col.cast("float64")
    return _text(col).try_cast("float64")


def canonical(table: ibis.Table, mapping: dict[str, str], date_format: str | None) -> ibis.Table:
    """Typed canonical columns, plus `_raw_ok_*` flags telling a missing value from an unreadable one."""
    col = {f: table[c] for f, c in mapping.items()}
    cust = _text(col["customer_id"]).re_replace(r"^(-?\d+)\.0+$", r"\1")
    ts_raw = col["order_ts"]
    if ts_raw.type().is_timestamp() or ts_raw.type().is_date():
        ts = ts_raw.cast("timestamp")
    else:
        ts = try_strptime(_text(ts_raw), date_format)
    quantity = _number(col["quantity"]) if "quantity" in col else ibis.literal(1.0)
    price = _number(col["unit_price"]) if "unit_price" in col else None
    revenue = _number(col["revenue"]) if "revenue" in col else quantity * price
    if price is None:
        price = ibis.ifelse(quantity != 0, revenue / quantity, ibis.null("float64"))
    order_id = _text(col["order_id"]) if "order_id" in col else cust.concat("@", ts.date().cast("string"))
    text = {f: (_text(col[f]) if f in col else ibis.null("string"))
            for f in ("product_id", "product_name", "category", "country")}
    bad_number = ibis.literal(False)
    for f in ("quantity", "unit_price", "revenue"):
        if f in col:
            bad_number = bad_number | (_number(col[f]).isnull())
    return table.mutate(
        order_id=order_id, customer_id=cust, order_ts=ts, product_id=text["product_id"],
        product_name=text["product_name"], category=text["category"], quantity=quantity,
        unit_price=price, revenue=revenue, country=text["country"], _bad_number=bad_number,
    )


def _reason(c: ibis.Table) -> ibis.Value:
    code = c.product_id.upper()
    name = c.product_name.lower()
    non_product = (code.isin(NON_PRODUCT_CODES) | name.isin(NON_PRODUCT_NAMES)).fill_null(False)
    for prefix in NON_PRODUCT_CODE_PREFIXES:
        non_product = non_product | code.startswith(prefix).fill_null(False)
    cancelled = (c.order_id.re_search(r"^[Cc][0-9]").fill_null(False) | (c.quantity < 0) | (c.revenue < 0))
    return ibis.cases(
        (c.order_ts.isnull(), "bad_date"),
        (c._bad_number, "bad_number"),
        (c.customer_id.isnull(), "missing_customer"),
        (cancelled, "cancellation"),
        ((c.unit_price <= 0) | (c.quantity == 0) | (c.revenue == 0), "non_positive_price"),
        (non_product, "non_product"),
        (c._dup > 0, "duplicate"),
        else_=ibis.null("string"),
    )


def _example(lines: ibis.Table, reason: str, alias: str):
    """One raw value of an input column (by its neutral alias) on a row dropped for `reason`."""
    ex = lines.filter(lines._reason == reason).select(v=lines[alias].cast("string")).limit(1).execute()
    return None if ex.empty else ex.v.iloc[0]


def clean(table: ibis.Table, mapping: dict[str, str], con, *, shown: str, as_of: dt.date | None,
          dayfirst: bool = False) -> Cleaned:
    """Check and type every row; drop with a reason or keep. Raises DataError for unusable input."""
    check_mapping(mapping, tuple(table.columns), shown)
    ts_col = table[mapping["order_ts"]]
    date_format = "" if (ts_col.type().is_timestamp() or ts_col.type().is_date()) else \
        detect_date_format(table, mapping["order_ts"], dayfirst, shown)
    # Raw columns get neutral names, so a file's 'Country' cannot clash with canonical 'country'.
    raw = {f"_c{i}": name for i, name in enumerate(table.columns)}
    renamed = table.select(**{alias: table[name] for alias, name in raw.items()})
    alias_of = {name: alias for alias, name in raw.items()}
    dup = ibis.row_number().over(group_by=[renamed[a] for a in raw])
    inner = {f: alias_of[col] for f, col in mapping.items()}
    c = canonical(renamed.mutate(_dup=dup), inner, date_format)
    c = c.select(*CANONICAL, "_bad_number", "_dup", *sorted(set(inner.values())))
    c = c.mutate(_reason=_reason(c))
    lines = con.create_table("_lines", c, temp=True)

    n = int(lines.count().execute())
    for reason, field in (("bad_date", "order_ts"), ("bad_number", None)):
        bad = int(lines.filter(lines._reason == reason).count().execute())
        if bad > MAX_BAD_SHARE * n:
            fld = field or next(f for f in ("quantity", "unit_price", "revenue") if f in mapping)
            what = "dates could not be read" if field else "values are not numbers"
            raise DataError(f"{bad / n:.0%} of {what}", file=shown, column=mapping[fld], rows=bad,
                            example=_example(lines, reason, inner[fld]),
                            fix=(f"use one date format (detected '{date_format}'), add --dayfirst for d/m/Y dates, "
                                 f"or {FIX_MAP.format(field=fld)}") if field else FIX_MAP.format(field=fld))

    candidates = lines.filter(lines._reason.isnull())
    last = candidates.order_ts.max().execute()
    if as_of is None:
        if last is None or pd.isna(last):
            as_of = None
        else:
            as_of = pd.Timestamp(last).date() + dt.timedelta(days=1)
    reason = lines._reason.fill_null(
        ibis.ifelse(lines.order_ts >= ibis.timestamp(dt.datetime.combine(as_of or dt.date.max, dt.time())),
                    "after_as_of", KEPT[0]))
    lines = lines.mutate(_reason=reason)
    ledger = _ledger(lines, n)
    warnings = _warnings(lines, ledger, mapping, inner)

    kept_n = int(ledger.loc[ledger.reason == KEPT[0], "rows"].iloc[0])
    if kept_n == 0:
        top = ledger[ledger.reason != KEPT[0]].sort_values("rows", ascending=False).iloc[0]
        raise DataError(f"no rows left after cleaning: {top['rows']:,} of {n:,} dropped as '{top['label']}'",
                        file=shown, column=mapping.get("customer_id"), rows=n,
                        fix="check the column mapping shown with --map, and the --as-of date")
    kept = con.create_table("kept_lines", lines.filter(lines._reason == KEPT[0]).select(*CANONICAL),
                            temp=True)
    ret = lines.filter(lines._reason == "cancellation")
    returns = con.create_table(
        "returns", ret.select(ret.customer_id, ret.order_id, ret.order_ts, revenue=-ret.revenue),
        temp=True)
    purchasers = lines.filter(~lines._reason.isin(["bad_date", "bad_number", "missing_customer", "cancellation"]))
    n_purchasers = int(purchasers.customer_id.nunique().execute())
    return Cleaned(lines=kept, returns=returns, ledger=ledger, as_of=as_of, customers_with_purchases=n_purchasers,
                   date_format=date_format, warnings=tuple(warnings))


def _ledger(lines: ibis.Table, n: int) -> pd.DataFrame:
    counts = lines.group_by("_reason").aggregate(rows=lines.count(), revenue=lines.revenue.sum()).execute()
    counts = counts.set_index("_reason")
    rows = []
    for code, label, description in [KEPT, *REASONS]:
        got = counts.loc[code] if code in counts.index else None
        rows.append({
            "reason": code, "label": label, "description": description,
            "rows": int(got["rows"]) if got is not None else 0,
            "revenue": float(got["revenue"]) if got is not None and pd.notna(got["revenue"]) else 0.0,
        })
    ledger = pd.DataFrame(rows)
    ledger["share_rows"] = ledger["rows"] / n
    assert ledger["rows"].sum() == n, "ledger must account for every input row"
    return ledger[["reason", "label", "description", "rows", "share_rows", "revenue"]]


def _warnings(lines: ibis.Table, ledger: pd.DataFrame, mapping: dict[str, str],
              inner: dict[str, str]) -> list[str]:
    out = []
    by = ledger.set_index("reason")["rows"]
    if by["bad_date"]:
        out.append(f"{by['bad_date']:,} rows dropped because column '{mapping['order_ts']}' could not be read "
                   f"as a date, e.g. {_example(lines, 'bad_date', inner['order_ts'])!r}.")
    if by["bad_number"]:
        fld = next(f for f in ("quantity", "unit_price", "revenue") if f in mapping)
        out.append(f"{by['bad_number']:,} rows dropped because an amount is not a number, "
                   f"e.g. {_example(lines, 'bad_number', inner[fld])!r} in column '{mapping[fld]}'.")
    return out
