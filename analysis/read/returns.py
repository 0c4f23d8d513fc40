"""Returns matched to the purchases they undo, and the kept lines net of them.

A return line (a credit note or a negative quantity, dropped by cleaning as a cancellation) undoes
the same customer's earlier purchases of the same product: the nearest earlier order first, then
the one before, never more than was bought and not yet returned. Lines with a product id are
matched in units; lines without one (files of customer, date and amount) in money. What a
purchase loses is valued at the price paid for it, so a line's net value is what was bought less
what came back, and an order whose lines all came back did not happen. Returns that match no
purchase in the data (bought before it starts, another product, postage and fees) are counted and
valued apart, never subtracted.

The engine selects the return lines and the purchase lines of the same customers and products;
the matching runs over those rows here (vectorised: see _stack); the net lines are a view of the
kept lines joined by their numbers with the few that lost something.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analysis import engine
from analysis.read.clean import Cleaned

NO_PRODUCT = "\x00"  # product key of lines without a product id (matched in money, not units)
MANUAL_CREDITS = ("M", "MANUAL", "ADJUST", "ADJUST2")  # codes of credits keyed by hand (see _manual_reversals)
EPS = 1e-9           # an amount below this is nothing left (matching in money adds float noise)
LEDGER_COLUMNS = ["section", "item", "label", "description", "lines", "value"]
RETURNED_EVERYTHING_COLUMNS = ["customer_id", "orders", "first_order_date", "last_order_date",
                               "bought_value", "returned_value"]
CUSTOMER_RETURN_COLUMNS = ["customer_id", "returns_lines", "returns_value", "last_returned_order_ts"]

# What became of the return lines, in the money ledger's order: (item, label, description).
RETURN_OUTCOMES = [
    ("matched", "Matched to an earlier purchase",
     "subtracted from the customer's earlier purchase of the product, nearest order first"),
    ("reversal", "Manual credit of a whole purchase",
     "a manual credit worth exactly an earlier purchase of the customer undoes it (a keying error put right)"),
    ("excess", "More than was bought",
     "the part of a return beyond what the customer had bought of the product and not yet returned "
     "(these lines are also counted above); not subtracted"),
    ("no_purchase", "No earlier purchase in the data",
     "the customer bought none of the product before the return in this data (bought before it "
     "starts, or under another code); not subtracted"),
    ("non_product", "Postage, fees and adjustments",
     "credits of non-product lines (postage, discounts, manual adjustments, fees); not subtracted"),
    ("duplicate", "Exact duplicate of a return line", "the same return line repeated verbatim; counted once"),
    ("after_as_of", "After the as-of date", "dated on or after the analysis date (--as-of); not used"),
]


@dataclass(frozen=True)
class Netted:
    """lines: the kept lines net of matched returns (cleaned.lines' columns; quantity and revenue
    are what was kept; lines returned in full are left out). money: the money ledger
    (LEDGER_COLUMNS). customer_returns: per customer with a matched return, returns_lines (return
    lines matched at least in part), returns_value (what they undid, at the price paid) and
    last_returned_order_ts (when they placed their latest order that came back in full; NaT if none).
    returned_everything: customers whose every purchase came back (RETURNED_EVERYTHING_COLUMNS),
    who have no line in `lines`. figures: gross_revenue, returned_value, net_revenue (gross less
    returned, to the cent), unmatched_returns_value (credited, not subtracted), orders_returned_in_full,
    lines_returned_in_full, returns_lines (return lines matched at least in part)."""

    lines: ibis.Table
    money: pd.DataFrame
    customer_returns: pd.DataFrame
    returned_everything: pd.DataFrame
    figures: dict


def net_of_returns(cleaned: Cleaned, con) -> Netted:
    """Match the return lines of `cleaned` to its kept lines, and net them. The money ledger
    reconciles with the row ledger's kept and cancellation rows."""
    as_of = cleaned.as_of
    ret = _return_lines(cleaned.returns, pd.Timestamp(as_of) if as_of < dt.date.max else pd.Timestamp.max)
    keyed = cleaned.keyed.mutate(_pk=_product_key(cleaned.keyed))
    usable = ret[ret["outcome"] == ""]
    bought = _purchases(keyed, usable[["customer_id", "_pk"]].drop_duplicates(), ["customer_id", "_pk"])
    taken_p, taken_r = match(bought, usable)
    ret.loc[usable.index, "matched"] = taken_r
    to_match = ret["outcome"] == ""
    ret["outcome"] = ret["outcome"].mask(to_match, np.where(ret["matched"] > EPS, "matched", "no_purchase"))
    bought = _what_was_kept(_manual_reversals(keyed, ret, bought.assign(matched=taken_p)))
    hit = bought[bought["matched"] > EPS]
    lines = _net_lines(keyed, hit, cleaned.lines.columns, con)
    gone = hit[hit["left_qty"] == 0]
    vanished_orders, everyone_gone = _vanished(lines, gone)
    vanished = gone.merge(vanished_orders, on=["customer_id", "order_id"])
    returned = ret[ret["outcome"].isin(["matched", "reversal"])]
    per_customer = (hit.groupby("customer_id", sort=True)["returned_value"].sum().rename("returns_value").to_frame()
                    .join(returned.groupby("customer_id")["copies"].size().rename("returns_lines"))
                    .join(vanished.groupby("customer_id")["order_ts"].max().rename("last_returned_order_ts"))
                    .reset_index())
    money, figures = _money_ledger(cleaned.ledger, ret, float(hit["returned_value"].sum()), len(returned),
                                   lines_gone=len(gone),
                                   orders_gone=len(vanished[["customer_id", "order_id"]].drop_duplicates()))
    return Netted(lines=lines, money=money, returned_everything=_returned_everything(bought, everyone_gone),
                  customer_returns=per_customer.astype({"returns_lines": "int64"})[CUSTOMER_RETURN_COLUMNS],
                  figures=figures)


def _what_was_kept(bought: pd.DataFrame) -> pd.DataFrame:
    """`bought` (with matched, the amount returned of each line) with returned_value (what the
    line lost, at the price paid on it, in whole cents), left_qty and left_value (the share of
    its units and of its value kept)."""
    bought = bought.assign(returned_value=(bought["revenue"] * bought["matched"] / bought["amount"]).round(2))
    left_qty = np.where(bought["amount"] - bought["matched"] <= EPS, 0.0, 1.0 - bought["matched"] / bought["amount"])
    left_value = np.where(left_qty == 0, 0.0, 1.0 - bought["returned_value"] / bought["revenue"])
    return bought.assign(left_qty=left_qty, left_value=left_value)


def _manual_reversals(keyed: ibis.Table, ret: pd.DataFrame, bought: pd.DataFrame) -> pd.DataFrame:
    """A manual credit (product code in MANUAL_CREDITS) worth exactly, to the cent, one earlier
    purchase line of the same customer that no return touched undoes that line, the latest such
    first: a keying error put right by hand. Such rows of `ret` become 'reversal'; returns
    `bought` (with matched) with those lines added, or updated, as returned in full."""
    manual = ret[(ret["outcome"] == "non_product") & ret["_pk"].str.upper().isin(MANUAL_CREDITS)]
    if manual.empty:
        return bought
    lines = _purchases(keyed, manual[["customer_id"]].drop_duplicates(), ["customer_id"])
    touched = set(bought.loc[bought["matched"] > EPS, "_line"].tolist())
    candidates: dict[tuple, list] = {}  # (customer, value in cents) -> [(time, line)], in time order
    for line, customer, revenue, ts in zip(lines["_line"].tolist(), lines["customer_id"].tolist(),
                                           lines["revenue"].tolist(), lines["order_ts"].tolist()):
        if line not in touched:
            candidates.setdefault((customer, round(revenue * 100)), []).append((ts, line))
    taken: set[int] = set()
    manual = manual.sort_values(["order_ts", "order_id"], kind="stable")
    for i, customer, credit, ts in zip(manual.index, manual["customer_id"], manual["credit"], manual["order_ts"]):
        earlier = sorted((when, line) for when, line in candidates.get((customer, round(credit * 100)), ())
                         if when <= ts and line not in taken)
        if earlier:
            taken.add(earlier[-1][1])  # the latest
            ret.loc[i, "outcome"] = "reversal"
    if not taken:
        return bought
    undone = lines[lines["_line"].isin(list(taken))]
    bought = pd.concat([bought[~bought["_line"].isin(list(taken))], undone.assign(matched=undone["amount"])],
                       ignore_index=True)
    return bought


def _product_key(t: ibis.Table) -> ibis.Value:
    return t.product_id.fill_null(NO_PRODUCT)


def _return_lines(returns: ibis.Table, cutoff: pd.Timestamp) -> pd.DataFrame:
    """One row per distinct return line: customer_id, _pk, order_id, order_ts, amount (units, or
    money without a product id), price (per unit, 0 in money), credit (the value credited,
    positive), copies (times it appears), outcome ('' while to be matched, else after_as_of or
    non_product; net_of_returns sets matched, no_purchase or reversal), matched (0)."""
    r = returns.mutate(_pk=_product_key(returns))
    distinct = r.group_by(["customer_id", "_pk", "order_id", "order_ts", "quantity", "unit_price", "revenue",
                           "non_product"]).aggregate(copies=r.count())
    by_units = distinct._pk != NO_PRODUCT
    df = engine.execute(distinct.select(
        "customer_id", "_pk", "order_id", "order_ts", "non_product", "copies",
        amount=ibis.ifelse(by_units, distinct.quantity.abs(), distinct.revenue.abs()),
        price=ibis.ifelse(by_units, distinct.unit_price.abs(), 0.0).round(6).fill_null(-1.0),
        credit=distinct.revenue.abs(),
    ).order_by(["customer_id", "_pk", "order_ts", "order_id", "amount", "credit", "price"]))
    df["outcome"] = np.where(pd.to_datetime(df["order_ts"]) >= cutoff, "after_as_of",
                             np.where(df["non_product"].fillna(False).astype(bool), "non_product", ""))
    return df.drop(columns="non_product").assign(matched=0.0).astype(
        {"customer_id": "string", "_pk": "string", "order_id": "string", "copies": "int64"})


def _purchases(keyed: ibis.Table, of: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The kept lines whose `by` columns hold a row of `of` (the customers, or customers and
    products, with a return to match): _line, customer_id, _pk, order_id, order_ts, price (unit
    price rounded, 0 in money), amount (units, or money without a product id), revenue; in time
    order per customer and product."""
    columns = {"_line": "int64", "customer_id": "string", "_pk": "string", "order_id": "string",
               "order_ts": "datetime64[us]", "price": "float64", "amount": "float64", "revenue": "float64"}
    if of.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    mine = keyed.semi_join(engine.memtable(of.reset_index(drop=True)), by)
    by_units = mine._pk != NO_PRODUCT
    df = engine.execute(mine.select(
        "_line", "customer_id", "_pk", "order_id", "order_ts", "revenue",
        price=ibis.ifelse(by_units, mine.unit_price.round(6), 0.0),
        amount=ibis.ifelse(by_units, mine.quantity, mine.revenue).cast("float64"),
    ).order_by(["customer_id", "_pk", "order_ts", "order_id", "_line"]))
    return df.astype(columns)[list(columns)]


def match(purchases: pd.DataFrame, returns: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """How much of each purchase each return undoes, last in, first out.

    purchases: customer_id, _pk, price, order_ts, amount (purchases made at one moment go on the
    stack in row order); returns: customer_id, _pk, price, order_ts, amount (amounts in the same
    unit per (customer_id, _pk); row order is kept).
    Per (customer_id, _pk), in time order, a purchase at the same moment as a return comes before
    it. A return takes from the latest purchase with something left, then the one before, until
    it is matched or nothing is left; the rest of it matches nothing. Purchases at the return's
    own price are taken first (a credit at 4.95 undoes the purchase at 4.95, not a later one at
    649.50), then any. Returns (taken from each purchase, matched of each return), two float
    arrays in the rows' order."""
    n_p = len(purchases)
    if not n_p or returns.empty:
        return np.zeros(n_p), np.zeros(len(returns))
    pair = _codes(pd.concat([purchases["customer_id"], returns["customer_id"]], ignore_index=True),
                  pd.concat([purchases["_pk"], returns["_pk"]], ignore_index=True))
    price = pd.factorize(np.r_[purchases["price"].to_numpy(dtype="float64"),
                               returns["price"].to_numpy(dtype="float64")])[0]
    by_price = pd.factorize(pair * (int(price.max()) + 1) + price)[0]
    ts = np.r_[purchases["order_ts"].to_numpy(dtype="datetime64[us]"),
               returns["order_ts"].to_numpy(dtype="datetime64[us]")].astype("int64")
    kind = np.r_[np.zeros(n_p, np.int8), np.ones(len(returns), np.int8)]
    remaining = np.r_[purchases["amount"].to_numpy(dtype="float64"), returns["amount"].to_numpy(dtype="float64")]
    start = remaining.copy()
    # by product in time order (rows: purchases as given, returns after them at one moment);
    # by price, the same order within each price
    in_time = np.lexsort((np.arange(len(kind)), kind, ts, pair))
    for codes, events in ((by_price, in_time[np.argsort(by_price[in_time], kind="stable")]), (pair, in_time)):
        # only groups where a return still wants something and a purchase has something left
        live = remaining > EPS
        wants = np.bincount(codes[live & (kind == 1)], minlength=codes.max() + 1) > 0
        holds = np.bincount(codes[live & (kind == 0)], minlength=len(wants)) > 0
        events = events[(wants & holds)[codes[events]]]
        remaining[events] = _stack(codes[events], kind[events], remaining[events])
    done = start - remaining
    return done[:n_p], done[n_p:]


def _codes(*columns: pd.Series) -> np.ndarray:
    """One integer per row for the combination of the text `columns` (equal rows, equal codes)."""
    return pc.dictionary_encode(_key(*columns)).indices.to_numpy(zero_copy_only=False).astype("int64")


def _key(*columns: pd.Series) -> pa.Array:
    """The text `columns` joined row by row into one (with a separator no id holds)."""
    parts = [pa.array(c, type=pa.large_string(), from_pandas=True) for c in columns]
    key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, pa.scalar("\x1f", pa.large_string()))
    return key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key


def _stack(group: np.ndarray, kind: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """What is left of each event after LIFO matching within its group: events in time order per
    group, kind 0 a purchase (pushes its amount on the group's stack), 1 a return (pops up to its
    amount). Worked out for all groups at once, in levels: the stack's height after each event is
    the running sum of pushes less pops, held at 0 when a return finds it empty (Skorokhod's
    reflection: height = sum - min(0, lowest sum so far)). A return pops its levels from the
    height before it down to the height after it. A purchase holds the levels from the height
    before it to the height after it, and keeps those below the lowest height reached after it;
    the levels above were popped."""
    if not len(group):
        return amount
    signed = np.where(kind == 0, amount, -amount)
    by = pd.Series(group)
    total = pd.Series(signed).groupby(by).cumsum().to_numpy()
    floor = np.minimum(pd.Series(total).groupby(by).cummin().to_numpy(), 0.0)
    height = total - floor                                    # after each event
    first = np.r_[True, group[1:] != group[:-1]]
    below = np.where(first, 0.0, np.r_[0.0, height[:-1]])    # before each event
    # lowest height after each event, to the group's end (the event's own height if it is the last)
    later = pd.Series(height[::-1]).groupby(by.iloc[::-1].to_numpy()).cummin().to_numpy()[::-1]
    lowest_after = np.where(np.r_[group[1:] != group[:-1], True], height, np.r_[later[1:], 0.0])
    kept = np.clip(np.minimum(height, lowest_after) - below, 0.0, amount)   # purchases
    unmatched = amount - (below - height)                                   # returns
    left = np.where(kind == 0, kept, unmatched)
    return np.where(left <= EPS, 0.0, left)


def _net_lines(keyed: ibis.Table, hit: pd.DataFrame, columns, con) -> ibis.Table:
    """The kept lines with the lines in `hit` reduced to what was kept (quantity by the units kept,
    revenue by the value kept) and those returned in full left out: a view, joined by the lines'
    numbers with the few that lost something (a join on one number costs each later query less
    than storing the lines again would cost the build)."""
    if hit.empty:
        return keyed.select(*columns)
    shares = hit[["_line", "left_qty", "left_value"]].reset_index(drop=True)
    left = engine.store(con, "_returned", engine.memtable(shares))
    j = keyed.left_join(left, "_line")
    qty, value = j.left_qty.fill_null(1.0), j.left_value.fill_null(1.0)
    j = j.filter(qty > 0)
    return j.select(*[c for c in columns if c not in ("quantity", "revenue")],
                    quantity=j.quantity * qty, revenue=j.revenue * value).select(*columns)


def _vanished(lines: ibis.Table, gone: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders, customers) that came back in full: customer_id, order_id of the orders touched by
    `gone` (the lines returned in full) with no line left in `lines` (the net lines), and
    customer_id of the customers touched with no order left."""
    key = ["customer_id", "order_id"]
    touched = gone[key].drop_duplicates()
    if touched.empty:
        return touched.astype("string"), touched[["customer_id"]].astype("string")
    customers = touched[["customer_id"]].drop_duplicates()
    left = engine.execute(lines.semi_join(engine.memtable(customers.reset_index(drop=True)), "customer_id")
                          .select(*key).distinct())
    orders = touched[~_isin(touched, left, key)]
    return orders.reset_index(drop=True), customers[~_isin(customers, left, ["customer_id"])].reset_index(drop=True)


def _isin(rows: pd.DataFrame, of: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Whether each row's `key` columns (text) are a row of `of`'s."""
    found = pc.is_in(_key(*(rows[k] for k in key)), value_set=_key(*(of[k] for k in key)))
    return found.to_numpy(zero_copy_only=False)


def _returned_everything(bought: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """RETURNED_EVERYTHING_COLUMNS of `customers` (customer_id), whose every purchase is in
    `bought` and came back, by customer_id."""
    mine = bought[_isin(bought, customers, ["customer_id"])]
    if mine.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            RETURNED_EVERYTHING_COLUMNS, ["string", "int64", "object", "object", "float64", "float64"])})
    out = mine.groupby("customer_id", sort=True).agg(
        orders=("order_id", "nunique"), first_ts=("order_ts", "min"), last_ts=("order_ts", "max"),
        bought_value=("revenue", "sum"), returned_value=("returned_value", "sum")).reset_index()
    out["first_order_date"] = out["first_ts"].dt.date
    out["last_order_date"] = out["last_ts"].dt.date
    for col in ("bought_value", "returned_value"):
        out[col] = out[col].round(2)
    return out.astype({"customer_id": "string", "orders": "int64"})[RETURNED_EVERYTHING_COLUMNS]


def _cents(value: float) -> int:
    return int(round(value * 100))


def _money_ledger(ledger: pd.DataFrame, ret: pd.DataFrame, returned_value: float, returned_lines: int,
                  lines_gone: int, orders_gone: int) -> tuple[pd.DataFrame, dict]:
    """The money ledger (LEDGER_COLUMNS) and its figures. Revenue: gross kept revenue less the
    returns matched to it (at the price paid) is net revenue, in whole cents. Returns: every line
    of the row ledger's cancellations by what became of it, valued as credited (negative, as in
    the row ledger); its rows add up to the row ledger's cancellation row (a line matched in part
    is counted both as matched and as more than was bought)."""
    by = ledger.set_index("reason")
    gross, returned = _cents(float(by.loc["kept", "revenue"])), _cents(returned_value)
    net = gross - returned
    hit = ret["matched"] > EPS
    share = np.where(hit, ret["matched"] / ret["amount"].where(hit, 1.0), 0.0)
    # the other copies of a line repeated verbatim are duplicates, unless the line is not used anyway
    unused = ret["outcome"].isin(["non_product", "after_as_of"])
    extra = np.where(unused, 0, ret["copies"] - 1)
    counted = np.where(unused, ret["copies"], 1)
    parts = {  # item -> (lines, credited value)
        "matched": (hit.sum(), (ret["credit"] * share).sum()),
        "excess": ((hit & (share < 1 - EPS)).sum(), (ret["credit"] * (1 - share)).where(hit, 0.0).sum()),
        "duplicate": (extra.sum(), (ret["credit"] * extra).sum()),
    }
    for item in ("reversal", "no_purchase", "non_product", "after_as_of"):
        mine = ret["outcome"] == item
        parts[item] = (counted[mine].sum(), (ret["credit"] * counted)[mine].sum())
    total_lines, total_value = int(by.loc["cancellation", "rows"]), _cents(-float(by.loc["cancellation", "revenue"]))
    placed = sum(int(parts[i][0]) for i in ("matched", "reversal", "no_purchase", "non_product", "duplicate",
                                           "after_as_of"))
    assert placed == total_lines, f"money ledger: {placed} return lines placed, the row ledger has {total_lines}"
    credited = {item: _cents(float(v)) for item, (_n, v) in parts.items()}
    # each part is rounded to cents on its own; the largest takes the difference, so that they add
    # up to the row ledger's figure
    largest = max(credited, key=lambda i: abs(credited[i]))
    credited[largest] += total_value - sum(credited.values())
    rows = [
        ("revenue", "gross", "Gross revenue", "kept order lines as bought (the row ledger's kept rows)",
         int(by.loc["kept", "rows"]), gross),
        ("revenue", "returned", "Less returns matched to these purchases",
         f"valued at the price paid; {orders_gone:,} orders and {lines_gone:,} lines came back in full and "
         "count for nothing", returned_lines, -returned),
        ("revenue", "net", "Net revenue", "what customers kept; every money figure in the report uses it",
         int(by.loc["kept", "rows"]) - lines_gone, net),
        *[("returns", item, label, description, int(parts[item][0]), -credited[item])
          for item, label, description in RETURN_OUTCOMES],
        ("returns", "total", "All return lines", "the row ledger's cancellations, valued as credited",
         total_lines, -total_value),
    ]
    money = pd.DataFrame(rows, columns=LEDGER_COLUMNS).astype({"lines": "int64"})
    money["value"] = money["value"] / 100
    figures = {"gross_revenue": gross / 100, "returned_value": returned / 100, "net_revenue": net / 100,
               "unmatched_returns_value": sum(credited[i] for i in ("excess", "no_purchase", "non_product")) / 100,
               "orders_returned_in_full": orders_gone, "lines_returned_in_full": lines_gone,
               "returns_lines": returned_lines}
    return money, figures
