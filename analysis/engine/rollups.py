"""Tables summed once from the kept lines, which the later stages read instead of the lines.

  orders    one row per (customer_id, order_id): order_ts (its first line's), country (its
            lines', the smallest should they differ), revenue, items (quantity), n_lines
  products  one row per product_id (not NULL): product_name (the smallest over its lines) and
            median_price (exact, see quantiles)

Each function returns the stored table when `store` has stored it for these lines (a build does,
right after cleaning), and otherwise the expression over the lines (small tests, ad-hoc use).
There are several times fewer orders than lines, and most stages read them, several times; the
products are few, and customer features and affinity both need them. (One row per customer and
product is not stored: it is almost half as long as the lines, and its two readers each sum the
lines faster than it would be written.)
"""

from __future__ import annotations

import ibis
import pandas as pd

from analysis import engine
from analysis.engine import quantiles

NAMES = ("orders", "products")

# Stored tables by (name, the lines' expression).
_STORED: dict[tuple[str, object], ibis.Table] = {}


def orders(lines: ibis.Table) -> ibis.Table:
    """One row per (customer, order): its date (first line's), country, revenue, items and line count."""
    stored = _STORED.get(("orders", lines.op()))
    if stored is not None:
        return stored
    return lines.group_by(["customer_id", "order_id"]).aggregate(
        order_ts=lines.order_ts.min(), country=lines.country.min(), revenue=lines.revenue.sum(),
        items=lines.quantity.sum(), n_lines=lines.count(),
    )


def products(lines: ibis.Table) -> ibis.Table:
    """One row per product id (lines without one are left out): product_name, the smallest name
    on its lines, and median_price, the exact median unit price, from counts per (product, price)
    so that the engine never holds every price of a product at once."""
    stored = _STORED.get(("products", lines.op()))
    if stored is not None:
        return stored
    with_id = lines.filter(lines.product_id.notnull())
    counts = quantiles.value_counts(with_id, "unit_price", ["product_id"], _name=with_id.product_name.min())
    names = counts.group_by("product_id").aggregate(product_name=counts._name.min())
    medians = quantiles.median_from_counts(counts, "unit_price", ["product_id"])
    return names.join(medians, "product_id").select("product_id", "product_name", median_price="median")


NO_PRODUCT_KEY = 0  # product_key of lines without a product id


def product_key(lines: ibis.Table) -> ibis.Value:
    """Each line's product number for grouping: engine.hash64 of its product id, NO_PRODUCT_KEY
    without one (see product_keys)."""
    return ibis.ifelse(lines.product_id.isnull(), NO_PRODUCT_KEY, engine.hash64(lines.product_id, engine.kind_of(lines)))


def product_keys(lines: ibis.Table) -> pd.DataFrame | None:
    """Each product's number (product_key): product_id, product_name and _hp; None when two
    products share a number or one has NO_PRODUCT_KEY (then group by the id itself)."""
    p = products(lines)
    keys = engine.execute(p.mutate(_hp=product_key(p)))
    return keys if keys["_hp"].is_unique and not (keys["_hp"] == NO_PRODUCT_KEY).any() else None


def store(con, lines: ibis.Table, prefix: str = "_") -> None:
    """Sum `lines` into each table of NAMES once and store it (as `prefix` + name); the functions
    above then return the stored tables for these lines."""
    for name in NAMES:
        expr = globals()[name](lines)
        _STORED[(name, lines.op())] = engine.store(con, prefix + name, expr)


def forget(lines: ibis.Table | None = None) -> None:
    """Drop the stored tables' references for `lines`, or all of them (at the end of a build, when
    the connection closes)."""
    for key in [k for k in _STORED if lines is None or k[1] == lines.op()]:
        del _STORED[key]
