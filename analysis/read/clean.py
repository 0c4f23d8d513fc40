"""The row ledger: every input row ends as `kept` or dropped with one reason.

Reasons are checked in the order of REASONS; a row gets the first that applies, so the
ledger's rows sum to the input row count. Runs on the engine; returns small pandas tables
and engine tables of the kept lines and of customers' returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from analysis import engine
from analysis.engine import quantiles
from analysis.errors import DataError
from analysis.read import parse
from analysis.read.parse import DateFormat
from analysis.schema import CANONICAL, REQUIRED

# (code, label, what it means): the order is the order in which rows are checked.
REASONS = [
    ("bad_date", "Unreadable or stray date", "the date could not be read in the file's date format, or lies more than a "
     "year away from the rest of the data (kept with --keep-outlier-dates)"),
    ("bad_number", "Non-numeric amount", "quantity, price or revenue is not a finite number"),
    ("other_currency", "Other currency", "in a currency other than the one chosen with --only-currency"),
    ("missing_customer", "Guest order (no customer id)", "no customer id, so it cannot be linked to a customer"),
    ("cancellation", "Cancellation or return", "credit invoice (id C + digits) or negative quantity; "
     "matched to the customer's earlier purchase of the product and subtracted from it (see the money ledger)"),
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

NAME_GUARD = max(len(n) for n in NON_PRODUCT_NAMES)
assert all(c[:1].isalpha() for c in NON_PRODUCT_CODES + NON_PRODUCT_CODE_PREFIXES), "see the guard in _code"

MAX_BAD_SHARE = 0.10  # above this share of unreadable dates or numbers, refuse instead of dropping
OUTLIER_FACTOR = 1000  # a line worth this many times the median line is reported (and kept)
LINE_COLUMNS = [f for f in CANONICAL if f not in ("currency", "contact")]  # the kept lines' columns
STRICT_ALLOWED = {"kept", "cancellation", "missing_customer"}
FIX_MAP = "map the right column with --map {field}=COLUMN"
# Fields read as trimmed text (customer_id is also normalised: see canonical).
TEXT_FIELDS = ("order_id", "customer_id", "product_id", "product_name", "category", "country", "currency", "contact")


@dataclass(frozen=True)
class Cleaned:
    """lines: kept lines with the canonical columns (gross: returns are netted by analysis.read.returns);
    keyed: the same with _line, a number of each line of its own (an int64);
    returns: the lines dropped as cancellations, with the canonical columns as read (quantity and
    revenue negative, or a credit note's) and non_product (postage, fees, ...); ledger: schema.TABLES['ledger'];
    first and last: the earliest and latest order timestamps of the kept lines (pandas Timestamps);
    median_line: the median revenue of a kept line (see big_lines_warning)."""

    lines: ibis.Table
    keyed: ibis.Table
    returns: ibis.Table
    ledger: pd.DataFrame
    as_of: dt.date
    customers_with_purchases: int
    date_format: str
    warnings: tuple[str, ...]
    currencies: tuple[str, ...] = ()
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    median_line: float | None = None
    contacts: pd.DataFrame | None = None  # schema.TABLES['contacts']


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
              decimal: str = ".", keep: tuple[str, ...] = (), kind: str = "duckdb") -> ibis.Table:
    """Typed canonical columns plus `_bad_number`: the first amount field on the row that is
    unreadable or not finite (NULL when all are fine), and the columns named in `keep`.
    `kind`: the engine's dialect (engine.dialect).

    Each field is parsed once, in an inner projection; revenue, price and the flags are worked
    out from the parsed values in an outer one."""
    # Text fields are trimmed once, in their own projection: the parsers below use a value
    # several times. Amounts and dates are read from the raw value (see parse.number).
    trim = table.select(*keep, **{f"_r_{f}": parse.text(table[c]) if f in TEXT_FIELDS else table[c]
                                  for f, c in mapping.items()})
    col = {f: trim[f"_r_{f}"] for f in mapping}
    cust = col["customer_id"]
    # '12345.0' (ids exported as floats) -> '12345'; the pattern needs a '.', so test for one first.
    cust = ibis.ifelse(cust.contains("."), cust.re_replace(r"^(-?\d+)\.0+$", engine.backref(1, kind)), cust)
    text = {f: col[f] if f in col else ibis.null("string") for f in TEXT_FIELDS if f != "customer_id"}
    amounts = [f for f in ("quantity", "unit_price", "revenue") if f in col]
    parsed = trim.select(
        *keep, _cust=cust, _ts=parse.timestamp(col["order_ts"], date_format, kind=kind),
        **{f"_t_{f}": v for f, v in text.items()},
        **{f"_n_{f}": parse.number(col[f], decimal, kind=kind) for f in amounts},
    )
    amount = {f: parsed[f"_n_{f}"] for f in amounts}
    quantity = amount.get("quantity", ibis.literal(1.0))
    price = amount.get("unit_price")
    revenue = amount["revenue"] if "revenue" in amount else quantity * price
    if price is None:
        price = ibis.ifelse(quantity != 0, revenue / quantity, ibis.null("float64"))
    # Without order ids each customer-day is one order; the made-up id starts with the date so it
    # can never look like a credit note (C + digits).
    order_id = parsed["_t_order_id"] if "order_id" in col else \
        parsed._ts.date().cast("string").concat("|", parsed._cust)
    bad_number = ibis.cases(*[(v.isnull() | v.isnan() | v.isinf(), f) for f, v in amount.items()],
                            else_=ibis.null("string"))
    return parsed.select(
        *keep, order_id=order_id, customer_id=parsed._cust, order_ts=parsed._ts,
        product_id=parsed._t_product_id, product_name=parsed._t_product_name, category=parsed._t_category,
        quantity=quantity, unit_price=price, revenue=revenue, country=parsed._t_country,
        _currency=parsed._t_currency, _contact=parsed._t_contact, _bad_number=bad_number,
    )


# Reasons are stored as small integer codes: CODES[name] (kept = 0, then REASONS in order).
CODES = {code: i for i, code in enumerate([KEPT[0], *(r[0] for r in REASONS)])}


def non_product(c: ibis.Table) -> ibis.Value:
    """Whether a line is postage, a fee or another non-product line (NON_PRODUCT_CODES and _NAMES)."""
    # upper() and lower() on every line cost more than the rest of the reasons together, so cheap
    # guards go first (the engine works out a CASE branch only for the rows that reach it): every
    # non-product code starts with a letter (a digit sorts before 'A'), and no non-product name
    # is longer than NAME_GUARD characters.
    code = c.product_id.upper()
    by_code = code.isin(NON_PRODUCT_CODES)
    for prefix in NON_PRODUCT_CODE_PREFIXES:
        by_code = by_code | code.startswith(prefix)
    by_name = c.product_name.lower().isin(NON_PRODUCT_NAMES)
    return (ibis.ifelse(c.product_id >= "A", by_code, False).fill_null(False)
            | ibis.ifelse(c.product_name.length() <= NAME_GUARD, by_name, False).fill_null(False))


def _code(c: ibis.Table, only_currency: str | None, priced: bool = False) -> ibis.Value:
    """The first reason (before duplicates, which need the whole table) that drops the row, as
    a code; NULL when none applies. `priced`: the file has a unit price column, so a negative
    amount from a negative price on a positive quantity (a bad-debt adjustment, not a return)
    is a non-positive price."""
    credit_note = ibis.ifelse(c.order_id.startswith("C") | c.order_id.startswith("c"),
                              c.order_id.re_search(r"^[Cc][0-9]"), False).fill_null(False)
    negative = (c.revenue < 0) & ~((c.unit_price < 0) & (c.quantity > 0)) if priced else c.revenue < 0
    cancelled = credit_note | (c.quantity < 0) | negative
    other_currency = (c._currency.upper() != only_currency.upper()).fill_null(True) if only_currency \
        else ibis.literal(False)
    return ibis.cases(
        (c.order_ts.isnull(), CODES["bad_date"]),
        (c._bad_number.notnull(), CODES["bad_number"]),
        (other_currency, CODES["other_currency"]),
        (c.customer_id.isnull(), CODES["missing_customer"]),
        (cancelled, CODES["cancellation"]),
        ((c.unit_price <= 0) | (c.quantity == 0) | (c.revenue == 0), CODES["non_positive_price"]),
        (non_product(c), CODES["non_product"]),
        else_=ibis.null("int8"),
    ).cast("int8")


def _row_hash(table: ibis.Table, columns, kind: str = "duckdb") -> ibis.Value:
    """A 64-bit hash of the whole raw row (exact duplicates share it)."""
    return engine.hash64(ibis.struct({a: table[a] for a in columns}), kind)


def _with_duplicates(lines: ibis.Table, con) -> tuple[ibis.Table, ibis.Table, ibis.Table] | None:
    """`lines` plus `_dup` (0 for the first copy of a row, 1, 2, ... for repeats), with the stored
    tables behind it: the hashes seen more than once and those rows, numbered.

    Rows are grouped by the hash of the raw row; only groups with more than one row can hold
    duplicates, and those few rows get a row number within their group. The groups are
    confirmed identical on every typed column (a hash collision between different rows would
    show there); if one is not, duplicates are worked out exactly over the raw columns instead."""
    multi = lines.group_by("_h").aggregate(_n=lines.count())
    multi = engine.store(con, "_multi", multi.filter(multi._n > 1).select("_h"))
    cands = lines.semi_join(multi, "_h")
    cands = engine.store(con, "_dups", cands.mutate(_dup=ibis.row_number().over(group_by=cands._h)))
    # (the row number's type is the engine's: int64 on DuckDB, int32 on Spark)
    typed = ibis.struct({c: cands[c] for c in (*LINE_COLUMNS, "_currency", "_bad_number", "_base")})
    impure = cands.group_by("_h").aggregate(k=typed.nunique()).filter(lambda t: t.k > 1)
    if int(engine.execute(impure.count())):
        return None
    single = lines.anti_join(multi, "_h").mutate(_dup=ibis.literal(0, cands._dup.type()))
    return single.union(cands.select(*single.columns)), multi, cands


def _example(source: ibis.Table, bad: ibis.Value, value: ibis.Value):
    """One raw value (the smallest, so that it is the same on every run) of an input column on
    the rows where `bad` holds, read back from the source."""
    ex = source.filter(bad).aggregate(v=value.cast("string").min()).execute()
    return None if ex.empty or pd.isna(ex.v.iloc[0]) else ex.v.iloc[0]


def clean(table: ibis.Table, mapping: dict[str, str], con, *, shown: str, as_of: dt.date | None,
          dayfirst: bool = False, decimal: str = ".", only_currency: str | None = None,
          strict: bool = False, fill_order_fields: bool = False, workdir: Path | None = None,
          keep_outlier_dates: bool = False, head: ibis.Table | None = None) -> Cleaned:
    """Check and type every row; drop with a reason or keep. Raises DataError for unusable input.
    `workdir`: a folder for the typed lines (see engine.store); without it they are a table.
    Rows dated far from the rest (see outlier_dates) are dropped as bad dates unless `keep_outlier_dates`.
    `head`: the first of several files (Source.head), whose first rows are the date format's sample."""
    check_mapping(mapping, tuple(table.columns), shown)
    kind = engine.dialect(con)
    ts_col = table[mapping["order_ts"]]
    date_format = None if (ts_col.type().is_timestamp() or ts_col.type().is_date()) else \
        parse.detect_date_format(table, mapping["order_ts"], dayfirst, shown, kind=kind,
                                 head=head if head is not None and mapping["order_ts"] in head.columns else None)
    # Raw columns get neutral names, so a file's 'Country' cannot clash with canonical 'country'.
    raw = {f"_c{i}": name for i, name in enumerate(table.columns)}
    renamed = table.select(**{alias: table[name] for alias, name in raw.items()})
    inner = {f: f"_c{table.columns.index(col)}" for f, col in mapping.items()}
    if fill_order_fields and "order_id" in inner:
        renamed = _fill_from_order(renamed, inner)
    currencies = _check_currencies(renamed, inner, mapping, only_currency, shown)
    priced = "unit_price" in inner
    # One pass over the input: typed columns, the first reason that drops the row, a hash of
    # the raw row for duplicates. Raw text is not kept; examples are read back from the source.
    c = canonical(renamed.mutate(_h=_row_hash(renamed, raw, kind)), inner, date_format, decimal, keep=("_h",),
                  kind=kind)
    c = c.mutate(_base=_code(c, only_currency, priced))
    # a contact column is carried to the stored lines only when there is one (see _contacts)
    c = c.select(*LINE_COLUMNS, "_currency", *(["_contact"] if "contact" in inner else []), "_bad_number",
                 "_base", "_h")
    base = engine.store(con, "_lines", c, folder=workdir)
    outside = None if keep_outlier_dates else outlier_dates(base)
    if outside is not None:  # rare: every later pass sees those rows as bad dates
        base = base.mutate(_base=ibis.ifelse(base._base.isnull() & outside.condition(base.order_ts),
                                             ibis.literal(CODES["bad_date"], "int8"), base._base))
    found = _with_duplicates(base, con)
    lines, multi, numbered = found if found is not None else (None, None, None)
    if lines is None:  # a hash collision between different rows: number the copies exactly
        dup = ibis.row_number().over(group_by=[renamed[a] for a in raw])
        exact = canonical(renamed.mutate(_dup=dup), inner, date_format, decimal, keep=("_dup",), kind=kind)
        exact = exact.mutate(_base=_code(exact, only_currency, priced))
        lines = engine.store(con, "_lines_exact", exact.select(*LINE_COLUMNS, "_currency", "_bad_number", "_base",
                                                              "_dup"))
    dropped = lines._base.fill_null(ibis.ifelse(lines._dup > 0, ibis.literal(CODES["duplicate"], "int8"),
                                                ibis.null("int8")))
    lines = lines.mutate(_code=dropped)

    # One pass for the figures that come before the ledger: rows, unreadable rows, the last date of
    # a purchase or return (the default as-of date is the day after: a return after the last
    # purchase still counts), the first and last dates of a line with no reason to drop it (and,
    # with an as-of date given, of those
    # before it: the kept lines' period, as duplicates repeat a kept line's date), customers with
    # a purchase.
    purchase = base._base.isnull() | ~base._base.isin(
        [CODES[r] for r in ("bad_date", "bad_number", "other_currency", "missing_customer", "cancellation")])
    given = _cutoff(as_of) if as_of is not None else None
    in_period = base._base.isnull() & (base.order_ts < given) if given is not None else base._base.isnull()
    facts = engine.execute(base.aggregate(
        # (fill_null: Spark counts with SUM(CAST(cond AS BIGINT)), NULL when every row's _base is NULL)
        n=base.count(), bad_date=base.count(where=base._base == CODES["bad_date"]).fill_null(0),
        bad_number=base.count(where=base._base == CODES["bad_number"]).fill_null(0),
        last=base.order_ts.max(where=base._base.isnull() | (base._base == CODES["cancellation"])),
        purchasers=base.customer_id.nunique(where=purchase),
        kept_first=base.order_ts.min(where=in_period), kept_last=base.order_ts.max(where=in_period),
    )).iloc[0]
    n = int(facts["n"])
    if outside is not None:  # unreadable dates only: the strays are not a reason to refuse the file
        facts["bad_date"] -= outside.rows
    bad = _bad_rows(renamed, inner, date_format, decimal, kind)
    _refuse_unreadable(lines, facts, mapping, inner, date_format, shown, renamed, bad)
    if as_of is None:
        last = facts["last"]
        as_of = pd.Timestamp(last).date() + dt.timedelta(days=1) if pd.notna(last) else dt.date.max
    cutoff = _cutoff(as_of)
    after = (lines.order_ts >= cutoff) if cutoff is not None else ibis.literal(False)
    lines = lines.mutate(_code=lines._code.fill_null(
        ibis.ifelse(after, ibis.literal(CODES["after_as_of"], "int8"), ibis.literal(CODES[KEPT[0]], "int8"))))
    ledger, kept_revenue = _ledger(lines, n)
    warnings = _warnings(lines, ledger, mapping, inner, date_format, renamed, bad, outside)
    # exact (the approximate one depends on the scan order), from counts per value: bounded memory
    median = quantiles.median_of_counts(kept_revenue["revenue"], kept_revenue["rows"])
    if strict:
        _refuse_strict(lines, ledger, shown)

    if int(ledger.loc[ledger.reason == KEPT[0], "rows"].iloc[0]) == 0:
        top = ledger[ledger.reason != KEPT[0]].sort_values("rows", ascending=False).iloc[0]
        fields, fix = EMPTIED.get(top["reason"], (("customer_id",), "check the column mapping shown with --map"))
        field = next((f for f in fields if f in mapping), None)
        example = None
        if field is not None:
            dropped = lines.filter(lines._code == CODES[top["reason"]])
            example = engine.execute(dropped.select(v=dropped[field]).limit(1))["v"].iloc[0]
        raise DataError(f"no rows left after cleaning: {top['rows']:,} of {n:,} dropped as '{top['label']}'",
                        file=shown, column=mapping.get(field), rows=n, example=_plain(example), fix=fix)
    n_purchasers = int(facts["purchasers"])
    # (a view: analysis.read.returns reads it once, to match the returns to the purchases they undo)
    ret = base.filter(base._base == CODES["cancellation"])
    returns = ret.select(*LINE_COLUMNS, non_product=non_product(ret))
    if multi is not None:
        # Every later stage reads the kept lines, several times. They are the stored rows without
        # a reason to drop them, less the few rows whose raw row was seen more than once, plus
        # the first copy of each of those: a filter and an anti-join with a small table, which
        # costs each query far less than storing the kept lines again would cost the build.
        def kept_rows(t):
            keep = t._base.isnull()
            return keep & (t.order_ts < cutoff) if cutoff is not None else keep
        # A kept line's raw-row hash is its own: repeated rows keep one copy, and a hash shared by
        # different rows sends the build down the exact path below.
        single = base.filter(kept_rows(base)).anti_join(multi, "_h")
        single = single.select(*LINE_COLUMNS, _line=single._h)
        firsts = numbered.filter(kept_rows(numbered) & (numbered._dup == 0))
        keyed = single.union(firsts.select(*LINE_COLUMNS, _line=firsts._h))
    else:  # the exact path: its rows are numbered on a table of their own
        exact = lines.filter(lines._code == CODES[KEPT[0]])
        keyed = engine.store(con, "_kept", exact.select(*LINE_COLUMNS, _line=ibis.row_number().cast("int64")))
        for name in ("_dups", "_multi"):
            engine.drop(con, name)
    return Cleaned(lines=keyed.select(*LINE_COLUMNS), keyed=keyed, returns=returns, ledger=ledger, as_of=as_of,
                   customers_with_purchases=n_purchasers, contacts=_contacts(base, cutoff),
                   date_format=date_format.format if date_format else "typed", warnings=tuple(warnings),
                   currencies=currencies, first=pd.Timestamp(facts["kept_first"]),
                   last=pd.Timestamp(facts["kept_last"]), median_line=float(median) if median else None)


def _contacts(base: ibis.Table, cutoff) -> pd.DataFrame:
    """schema.TABLES['contacts']: each customer's contact on their latest kept line that has one
    (ties: the greatest), sorted by customer_id; no rows when the input has no contact column."""
    if "_contact" not in base.columns:
        return pd.DataFrame({"customer_id": pd.Series(dtype="string"), "contact": pd.Series(dtype="string")})
    keep = base._base.isnull() & base._contact.notnull()
    kept = base.filter(keep & (base.order_ts < cutoff) if cutoff is not None else keep)
    last = ibis.row_number().over(group_by=kept.customer_id,
                                  order_by=[ibis.desc(kept.order_ts), ibis.desc(kept._contact)])
    latest = kept.select("customer_id", contact=kept._contact, _n=last)
    df = engine.execute(latest.filter(latest._n == 0).select("customer_id", "contact"))
    return (df.astype({"customer_id": "string", "contact": "string"}).sort_values("customer_id", kind="stable")
            .reset_index(drop=True))


OUTLIER_GAP_DAYS = 365  # a date this far from the rest of the data, held by few rows, is a stray


@dataclass(frozen=True)
class OutlierDates:
    """The bulk of the data's days (first, last) and the rows dated far outside it."""
    first: dt.date
    last: dt.date
    rows: int
    example: str

    def condition(self, ts: ibis.Value) -> ibis.Value:
        return (ts < engine.day_start(self.first)) | (ts >= engine.day_start(self.last + dt.timedelta(days=1)))


def outlier_dates(base: ibis.Table) -> OutlierDates | None:
    """Rows dated more than OUTLIER_GAP_DAYS from every other row, at either end, when they hold at
    most 1% of the rows (or one row): a stray 1900 or 2099 that would stretch the period, the
    recency of everyone and the cohorts. From the rows per day of the rows with no other reason
    to drop them (a small table); None when there are none."""
    ok = base.filter(base._base.isnull())
    days = engine.execute(ok.group_by(day=ok.order_ts.date()).aggregate(n=ok.count()).order_by("day"))
    if len(days) < 2:
        return None
    day = pd.to_datetime(days["day"]).dt.date.to_numpy()
    n = days["n"].to_numpy(dtype="int64")
    limit = max(0.01 * n.sum(), 1)
    gaps = np.array([(b - a).days for a, b in zip(day[:-1], day[1:])])
    big = np.flatnonzero(gaps > OUTLIER_GAP_DAYS)
    lo, hi = 0, len(day) - 1
    before = [i for i in big if n[:i + 1].sum() <= limit]  # strays before the bulk: up to day i
    after = [i for i in big if n[i + 1:].sum() <= limit]   # strays after it: from day i + 1
    if before:
        lo = max(before) + 1
    if after:
        hi = min(after)
    if lo == 0 and hi == len(day) - 1:
        return None
    strays = np.r_[np.arange(lo), np.arange(hi + 1, len(day))]
    return OutlierDates(first=day[lo], last=day[hi], rows=int(n[strays].sum()), example=str(day[strays[0]]))


# When every row is dropped, by the reason that dropped most rows: the fields to name (the first one
# mapped) and the fix.
EMPTIED = {
    "bad_date": (("order_ts",), "map the date column with --map order_ts=COLUMN, or read day-first dates with --dayfirst"),
    "bad_number": (("quantity", "unit_price", "revenue"), "map the amount columns with --map, or set --decimal ,"),
    "other_currency": (("currency",), "keep a currency the file holds with --only-currency"),
    "missing_customer": (("customer_id",), "map the customer id column with --map customer_id=COLUMN"),
    "cancellation": (("quantity", "order_id", "revenue"), "sales need a positive quantity and an order id not "
                     "starting with C; map other columns with --map if these are not the right ones"),
    "non_positive_price": (("unit_price", "revenue"), "prices must be above zero: map the price column with "
                           "--map unit_price=COLUMN"),
    "non_product": (("product_id", "product_name"), "map the product columns with --map product_id=COLUMN"),
    "duplicate": (("order_id",), "check the file: every row repeats an earlier one"),
    "after_as_of": (("order_ts",), "choose a later --as-of date, or leave it out"),
}


def _plain(value):
    """A value from the engine as the message shows it (a timestamp as 'YYYY-MM-DD HH:MM:SS', numbers plain)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ")
    return value.item() if hasattr(value, "item") else value


def _cutoff(as_of: dt.date):
    """The first moment of the as-of date, after the kept lines (None for no limit: date.max)."""
    return engine.day_start(as_of) if as_of < dt.date.max else None


def _bad_rows(table: ibis.Table, inner: dict[str, str], date_format, decimal: str, kind: str = "duckdb") -> dict:
    """Per reason and field, the condition on a source row that makes it unreadable (for examples)."""
    ts = parse.timestamp(table[inner["order_ts"]], date_format, kind=kind)
    out = {"order_ts": ts.isnull()}
    for f in ("quantity", "unit_price", "revenue"):
        if f in inner:
            v = parse.number(table[inner[f]], decimal, kind=kind)
            out[f] = ts.notnull() & (v.isnull() | v.isnan() | v.isinf())
    return out


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


def _refuse_unreadable(lines, facts, mapping, inner, date_format, shown, source, bad_rows) -> None:
    """Refuse a file whose share of unreadable dates or amounts is over MAX_BAD_SHARE; `facts`:
    the rows (n) and the rows dropped as bad_date and bad_number."""
    n = int(facts["n"])
    for reason, field in (("bad_date", "order_ts"), ("bad_number", None)):
        bad = int(facts[reason])
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
                        file=shown, column=mapping[fld], rows=bad,
                        example=_example(source, bad_rows[fld], source[inner[fld]]), fix=fix)


def _worst_amount(lines: ibis.Table) -> str:
    """The amount field most often unreadable on rows dropped as bad_number."""
    bad = lines.filter(lines._code == CODES["bad_number"])
    counts = bad.group_by("_bad_number").aggregate(n=bad.count()).order_by([ibis.desc("n"), "_bad_number"])
    return str(counts.limit(1).execute()["_bad_number"].iloc[0])


def _refuse_strict(lines, ledger, shown) -> None:
    bad = ledger[~ledger["reason"].isin(STRICT_ALLOWED) & (ledger["rows"] > 0)]
    if bad.empty:
        return
    first = bad.iloc[0]
    rows = lines.filter(lines._code == CODES[first["reason"]]).select(*LINE_COLUMNS[:4])
    row = rows.order_by(*LINE_COLUMNS[:4]).limit(1).execute().iloc[0]
    listed = ", ".join(f"{r.label}: {r.rows:,}" for r in bad.itertuples())
    raise DataError(f"--strict: {int(bad['rows'].sum()):,} rows would be dropped ({listed})", file=shown,
                    rows=int(bad["rows"].sum()), example=f"{first['label']}: order {row['order_id']}, "
                    f"customer {row['customer_id']}", fix="fix those rows in the file, or build without --strict")


def _ledger(lines: ibis.Table, n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ledger, and the kept lines' revenue as (revenue, rows) counts per distinct value, from
    one pass: rows per reason and revenue value (there are far fewer values than lines)."""
    counts = engine.execute(lines.group_by(["_code", "revenue"]).aggregate(rows=lines.count()))
    per = counts.assign(total=counts["revenue"] * counts["rows"]).groupby("_code").agg(
        rows=("rows", "sum"), revenue=("total", "sum"))
    rows = []
    for code, label, description in [KEPT, *REASONS]:
        got = per.loc[CODES[code]] if CODES[code] in per.index else None
        rows.append({
            "reason": code, "label": label, "description": description,
            "rows": int(got["rows"]) if got is not None else 0,
            "revenue": round(float(got["revenue"]), 2) if got is not None else 0.0,
        })
    ledger = pd.DataFrame(rows)
    ledger["share_rows"] = ledger["rows"] / n
    assert ledger["rows"].sum() == n, "ledger must account for every input row"
    kept = counts[counts["_code"] == CODES[KEPT[0]]][["revenue", "rows"]].reset_index(drop=True)
    return ledger[["reason", "label", "description", "rows", "share_rows", "revenue"]], kept


def _warnings(lines: ibis.Table, ledger: pd.DataFrame, mapping: dict[str, str], inner: dict[str, str],
              date_format: DateFormat | None, source: ibis.Table, bad_rows: dict,
              outside: OutlierDates | None = None) -> list[str]:
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
    far = outside.rows if outside is not None else 0
    if far:
        out.append(f"{far:,} row{'s' * (far != 1)} dated more than {OUTLIER_GAP_DAYS} days away from the rest of the "
                   f"data (which runs {outside.first} to {outside.last}), e.g. {outside.example}, dropped as bad "
                   "dates; --keep-outlier-dates keeps them.")
    if by["bad_date"] - far:
        out.append(f"{by['bad_date'] - far:,} rows dropped because column '{mapping['order_ts']}' could not be read "
                   f"as a date, e.g. {_example(source, bad_rows['order_ts'], source[inner['order_ts']])!r}.")
    if by["bad_number"]:
        fld = _worst_amount(lines)
        out.append(f"{by['bad_number']:,} rows dropped because an amount is not a number, "
                   f"e.g. {_example(source, bad_rows[fld], source[inner[fld]])!r} in column '{mapping[fld]}'.")
    return out


def big_lines_warning(lines: ibis.Table, median: float) -> str | None:
    """A warning about the lines of `lines` (the kept lines net of returns) worth over OUTLIER_FACTOR
    times `median` (Cleaned.median_line), or None when there are none."""
    if not median or median <= 0:
        return None
    big = lines.filter(lines.revenue > OUTLIER_FACTOR * median)
    found = engine.execute(big.aggregate(n=big.count(), top=big.revenue.max()))
    n_big = int(found["n"].iloc[0])
    if not n_big:
        return None
    top = engine.execute(big.filter(big.revenue == found["top"].iloc[0]).order_by(["order_id", "customer_id"])
                         .limit(1)).iloc[0]
    return (f"{n_big:,} kept lines are worth over {OUTLIER_FACTOR:,} times the median line ({median:,.2f}) "
            f"after returns; the largest: order {top['order_id']}, customer {top['customer_id']}, "
            f"{top['revenue']:,.2f}. They are kept; check them if they look like errors.")
