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

from analysis import parse
from analysis.errors import DataError
from analysis.parse import DateFormat
from analysis.schema import CANONICAL, REQUIRED

# (code, label, what it means): the order is the order in which rows are checked.
REASONS = [
    ("bad_date", "Unparseable date", "the date could not be read in the file's date format"),
    ("bad_number", "Non-numeric amount", "quantity, price or revenue is not a finite number"),
    ("other_currency", "Other currency", "in a currency other than the one chosen with --only-currency"),
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

MAX_BAD_SHARE = 0.10  # above this share of unreadable dates or numbers, refuse instead of dropping
OUTLIER_FACTOR = 1000  # a line worth this many times the median line is reported (and kept)
LINE_COLUMNS = [f for f in CANONICAL if f != "currency"]  # the kept lines' columns
STRICT_ALLOWED = {"kept", "cancellation", "missing_customer"}
FIX_MAP = "map the right column with --map {field}=COLUMN"


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
    currencies: tuple[str, ...] = ()


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


def canonical(table: ibis.Table, mapping: dict[str, str], date_format: DateFormat | None,
              decimal: str = ".") -> ibis.Table:
    """Typed canonical columns plus `_bad_number`: the first amount field on the row that is
    unreadable or not finite (NULL when all are fine)."""
    col = {f: table[c] for f, c in mapping.items()}
    cust = parse.text(col["customer_id"]).re_replace(r"^(-?\d+)\.0+$", r"\1")
    ts = parse.timestamp(col["order_ts"], date_format)
    amounts = {f: parse.number(col[f], decimal) for f in ("quantity", "unit_price", "revenue") if f in col}
    quantity = amounts.get("quantity", ibis.literal(1.0))
    price = amounts.get("unit_price")
    revenue = amounts["revenue"] if "revenue" in amounts else quantity * price
    if price is None:
        price = ibis.ifelse(quantity != 0, revenue / quantity, ibis.null("float64"))
    # Without order ids each customer-day is one order; the made-up id starts with the date so it
    # can never look like a credit note (C + digits).
    order_id = parse.text(col["order_id"]) if "order_id" in col else ts.date().cast("string").concat("|", cust)
    text = {f: (parse.text(col[f]) if f in col else ibis.null("string"))
            for f in ("product_id", "product_name", "category", "country", "currency")}
    bad_number = ibis.cases(*[(v.isnull() | v.isnan() | v.isinf(), f) for f, v in amounts.items()],
                            else_=ibis.null("string"))
    return table.mutate(
        order_id=order_id, customer_id=cust, order_ts=ts, product_id=text["product_id"],
        product_name=text["product_name"], category=text["category"], quantity=quantity,
        unit_price=price, revenue=revenue, country=text["country"], _currency=text["currency"],
        _bad_number=bad_number,
    )


def _reason(c: ibis.Table, only_currency: str | None) -> ibis.Value:
    code = c.product_id.upper()
    name = c.product_name.lower()
    non_product = (code.isin(NON_PRODUCT_CODES) | name.isin(NON_PRODUCT_NAMES)).fill_null(False)
    for prefix in NON_PRODUCT_CODE_PREFIXES:
        non_product = non_product | code.startswith(prefix).fill_null(False)
    cancelled = (c.order_id.re_search(r"^[Cc][0-9]").fill_null(False) | (c.quantity < 0) | (c.revenue < 0))
    other_currency = (c._currency.upper() != only_currency.upper()).fill_null(True) if only_currency \
        else ibis.literal(False)
    return ibis.cases(
        (c.order_ts.isnull(), "bad_date"),
        (c._bad_number.notnull(), "bad_number"),
        (other_currency, "other_currency"),
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
          dayfirst: bool = False, decimal: str = ".", only_currency: str | None = None,
          strict: bool = False, fill_order_fields: bool = False) -> Cleaned:
    """Check and type every row; drop with a reason or keep. Raises DataError for unusable input."""
    check_mapping(mapping, tuple(table.columns), shown)
    ts_col = table[mapping["order_ts"]]
    date_format = None if (ts_col.type().is_timestamp() or ts_col.type().is_date()) else \
        parse.detect_date_format(table, mapping["order_ts"], dayfirst, shown)
    # Raw columns get neutral names, so a file's 'Country' cannot clash with canonical 'country'.
    raw = {f"_c{i}": name for i, name in enumerate(table.columns)}
    renamed = table.select(**{alias: table[name] for alias, name in raw.items()})
    inner = {f: f"_c{table.columns.index(col)}" for f, col in mapping.items()}
    if fill_order_fields and "order_id" in inner:
        renamed = _fill_from_order(renamed, inner)
    currencies = _check_currencies(renamed, inner, mapping, only_currency, shown)
    dup = ibis.row_number().over(group_by=[renamed[a] for a in raw])
    c = canonical(renamed.mutate(_dup=dup), inner, date_format, decimal)
    c = c.select(*LINE_COLUMNS, "_currency", "_bad_number", "_dup", *sorted(set(inner.values())))
    c = c.mutate(_reason=_reason(c, only_currency))
    lines = con.create_table("_lines", c, temp=True)

    n = int(lines.count().execute())
    _refuse_unreadable(lines, n, mapping, inner, date_format, shown)
    if as_of is None:
        last = lines.filter(lines._reason.isnull()).order_ts.max().execute()
        as_of = pd.Timestamp(last).date() + dt.timedelta(days=1) if pd.notna(last) else dt.date.max
    cutoff = ibis.timestamp(dt.datetime.combine(as_of, dt.time())) if as_of < dt.date.max else None
    after = (lines.order_ts >= cutoff) if cutoff is not None else ibis.literal(False)
    lines = lines.mutate(_reason=lines._reason.fill_null(ibis.ifelse(after, "after_as_of", KEPT[0])))
    ledger = _ledger(lines, n)
    warnings = _warnings(lines, ledger, mapping, inner, date_format)
    if strict:
        _refuse_strict(lines, ledger, shown)

    if int(ledger.loc[ledger.reason == KEPT[0], "rows"].iloc[0]) == 0:
        top = ledger[ledger.reason != KEPT[0]].sort_values("rows", ascending=False).iloc[0]
        raise DataError(f"no rows left after cleaning: {top['rows']:,} of {n:,} dropped as '{top['label']}'",
                        file=shown, column=mapping.get("customer_id"), rows=n,
                        fix="check the column mapping shown with --map, and the --as-of date")
    kept = con.create_table("kept_lines", lines.filter(lines._reason == KEPT[0]).select(*LINE_COLUMNS), temp=True)
    ret = lines.filter(lines._reason == "cancellation")
    returns = con.create_table(
        "returns", ret.select(ret.customer_id, ret.order_id, ret.order_ts, revenue=-ret.revenue), temp=True)
    purchasers = lines.filter(~lines._reason.isin(["bad_date", "bad_number", "other_currency",
                                                   "missing_customer", "cancellation"]))
    n_purchasers = int(purchasers.customer_id.nunique().execute())
    return Cleaned(lines=kept, returns=returns, ledger=ledger, as_of=as_of, customers_with_purchases=n_purchasers,
                   date_format=date_format.format if date_format else "typed", warnings=tuple(warnings),
                   currencies=currencies)


def _fill_from_order(table: ibis.Table, inner: dict[str, str]) -> ibis.Table:
    """Shop exports leave order-level columns blank on an order's later line rows: fill them from
    the order's other rows, so those lines are not dropped as guest orders or bad dates."""
    order = parse.text(table[inner["order_id"]])
    fills = {}
    for f in ("customer_id", "order_ts", "country", "currency"):
        if f in inner:
            value = parse.text(table[inner[f]])
            fills[inner[f]] = value.fill_null(value.max().over(group_by=order))
    return table.mutate(**fills)


def _check_currencies(table, inner, mapping, only_currency, shown) -> tuple[str, ...]:
    """Several currencies in one file cannot be added up: refuse unless one is chosen."""
    if "currency" not in inner:
        return ()
    col = parse.text(table[inner["currency"]]).upper()
    counts = table.select(c=col).group_by("c").aggregate(n=ibis._.count()).order_by(ibis.desc("n")).execute()
    codes = tuple(str(c) for c in counts["c"].dropna())
    if len(codes) > 1 and not only_currency:
        listed = ", ".join(f"{c} ({n:,} rows)" for c, n in zip(counts["c"], counts["n"]) if pd.notna(c))
        raise DataError(f"holds {len(codes)} currencies, which cannot be added up: {listed}", file=shown,
                        column=mapping["currency"], rows=int(counts["n"].sum()), example=codes[1],
                        fix=f"keep one with --only-currency {codes[0]} (rows in others are dropped and counted)")
    if only_currency and only_currency.upper() not in codes:
        raise DataError(f"has no rows in currency '{only_currency}'", file=shown, column=mapping["currency"],
                        example=", ".join(codes[:5]), fix="use one of the codes shown with --only-currency")
    return codes


def _refuse_unreadable(lines, n, mapping, inner, date_format, shown) -> None:
    for reason, field in (("bad_date", "order_ts"), ("bad_number", None)):
        bad = int(lines.filter(lines._reason == reason).count().execute())
        if bad <= MAX_BAD_SHARE * n:
            continue
        fld = field or _worst_amount(lines)
        if field:
            fmt = date_format.format if date_format else "typed"
            fix = (f"use one date format in the column (most rows read as '{fmt}'), add --dayfirst for "
                   f"day/month dates, or {FIX_MAP.format(field=fld)}")
        else:
            fix = f"{FIX_MAP.format(field=fld)}; for amounts like 1,50 add --decimal ,"
        raise DataError(f"{bad / n:.0%} of {'dates could not be read' if field else 'values are not numbers'}",
                        file=shown, column=mapping[fld], rows=bad, example=_example(lines, reason, inner[fld]),
                        fix=fix)


def _worst_amount(lines: ibis.Table) -> str:
    """The amount field most often unreadable on rows dropped as bad_number."""
    bad = lines.filter(lines._reason == "bad_number")
    counts = bad.group_by("_bad_number").aggregate(n=bad.count()).order_by([ibis.desc("n"), "_bad_number"])
    return str(counts.limit(1).execute()["_bad_number"].iloc[0])


def _refuse_strict(lines, ledger, shown) -> None:
    bad = ledger[~ledger["reason"].isin(STRICT_ALLOWED) & (ledger["rows"] > 0)]
    if bad.empty:
        return
    first = bad.iloc[0]
    row = lines.filter(lines._reason == first["reason"]).select(*LINE_COLUMNS[:4]).limit(1).execute().iloc[0]
    listed = ", ".join(f"{r.label}: {r.rows:,}" for r in bad.itertuples())
    raise DataError(f"--strict: {int(bad['rows'].sum()):,} rows would be dropped ({listed})", file=shown,
                    rows=int(bad["rows"].sum()), example=f"{first['label']}: order {row['order_id']}, "
                    f"customer {row['customer_id']}", fix="fix those rows in the file, or build without --strict")


def _ledger(lines: ibis.Table, n: int) -> pd.DataFrame:
    counts = lines.group_by("_reason").aggregate(rows=lines.count(), revenue=lines.revenue.sum()).execute()
    counts = counts.set_index("_reason")
    rows = []
    for code, label, description in [KEPT, *REASONS]:
        got = counts.loc[code] if code in counts.index else None
        rows.append({
            "reason": code, "label": label, "description": description,
            "rows": int(got["rows"]) if got is not None else 0,
            "revenue": round(float(got["revenue"]), 2) if got is not None and pd.notna(got["revenue"]) else 0.0,
        })
    ledger = pd.DataFrame(rows)
    ledger["share_rows"] = ledger["rows"] / n
    assert ledger["rows"].sum() == n, "ledger must account for every input row"
    return ledger[["reason", "label", "description", "rows", "share_rows", "revenue"]]


def _warnings(lines: ibis.Table, ledger: pd.DataFrame, mapping: dict[str, str],
              inner: dict[str, str], date_format: DateFormat | None) -> list[str]:
    out = []
    if date_format and date_format.others:
        out.append(f"Dates in column '{mapping['order_ts']}' come in {len(date_format.formats)} formats "
                   f"({', '.join(repr(f) for f in date_format.formats)}); each was read in its own format.")
    if date_format and date_format.ambiguous:
        col = mapping["order_ts"]
        order = "day/month" if date_format.format.startswith("%d/%m") else "month/day"
        out.append(f"Dates in column '{col}' fit both month/day and day/month; they were read as {order} "
                   f"('{date_format.format}'). If that is wrong, rebuild "
                   f"{'without' if order == 'day/month' else 'with'} --dayfirst.")
    by = ledger.set_index("reason")["rows"]
    if by["bad_date"]:
        out.append(f"{by['bad_date']:,} rows dropped because column '{mapping['order_ts']}' could not be read "
                   f"as a date, e.g. {_example(lines, 'bad_date', inner['order_ts'])!r}.")
    if by["bad_number"]:
        fld = _worst_amount(lines)
        out.append(f"{by['bad_number']:,} rows dropped because an amount is not a number, "
                   f"e.g. {_example(lines, 'bad_number', inner[fld])!r} in column '{mapping[fld]}'.")
    kept = lines.filter(lines._reason == KEPT[0])
    median = kept.revenue.approx_median().execute()
    if median and median > 0:
        big = kept.filter(kept.revenue > OUTLIER_FACTOR * median)
        n_big = int(big.count().execute())
        if n_big:
            top = big.order_by(ibis.desc("revenue")).limit(1).execute().iloc[0]
            out.append(f"{n_big:,} kept lines are worth over {OUTLIER_FACTOR:,} times the median line "
                       f"({median:,.2f}); the largest: order {top['order_id']}, customer {top['customer_id']}, "
                       f"{top['revenue']:,.2f}. They are kept; check them if they look like errors.")
    return out
