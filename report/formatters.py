"""Value formatters, registered once as Jinja filters: templates format, never compute.

Every formatter takes None or NaN and shows MISSING, so a gap in the data never breaks a page.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Callable

from markupsafe import Markup, escape

MISSING = "–"
URL = re.compile(r"https://doi\.org/[^\s,;]+[^\s,;.)]")


def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _trim(text: str) -> str:
    """'21.50' -> '21.5', '4.00' -> '4' (only after a decimal point)."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_int(value) -> str:
    """Whole number with thousands separators: 4321 -> '4,321'."""
    return MISSING if _missing(value) else f"{float(value):,.0f}"


def fmt_num(value, digits: int = 2) -> str:
    """Number with up to `digits` decimals, trailing zeros dropped: 21.50 -> '21.5'."""
    return MISSING if _missing(value) else _trim(f"{float(value):,.{digits}f}")


def fmt_pct(value, digits: int = 1) -> str:
    """A share in 0..1 as a percentage: 0.2505 -> '25.1%'; tiny non-zero shares as '<0.1%'."""
    if _missing(value):
        return MISSING
    v = float(value)
    smallest = 10 ** -digits / 100
    if 0 < abs(v) < smallest:
        return f"<{smallest:.{digits}%}"
    return f"{v:.{digits}%}"


def fmt_days(value) -> str:
    """Days: 1 -> '1 day', 40.5 -> '40.5 days'."""
    if _missing(value):
        return MISSING
    text = fmt_num(value, 1)
    return f"{text} day" if text == "1" else f"{text} days"


def fmt_date(value) -> str:
    """ISO date or date -> '1 Jan 2024'."""
    if _missing(value) or value == "":
        return MISSING
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return f"{value.day} {value:%b %Y}"


def fmt_period(value) -> str:
    """(start, end) dates -> '1 Jan 2024 – 31 Dec 2025'."""
    start, end = value
    return f"{fmt_date(start)} – {fmt_date(end)}"


def fmt_text(value) -> str:
    return MISSING if _missing(value) or value == "" else str(value)


def fmt_yes(value) -> str:
    return "yes" if bool(value) and not _missing(value) else ""


def fmt_yesno(value) -> str:
    return "" if _missing(value) else "yes" if bool(value) else "no"


def make_money(currency: str) -> Callable:
    def fmt_money(value, digits: int = 2) -> str:
        """Money with the configured symbol: 1234.5 -> '£1,234.50'; money(0) -> '£1,235'."""
        if _missing(value):
            return MISSING
        v = float(value)
        return f"{'-' if v < 0 else ''}{currency}{abs(v):,.{digits}f}"
    return fmt_money


def linkify(text) -> Markup:
    """Escape a citation and turn its DOI address into a link (the only outside link we make)."""
    text = "" if text is None else str(text)
    out, last = [], 0
    for m in URL.finditer(text):
        out.append(escape(text[last:m.start()]))
        out.append(Markup('<a href="{0}" rel="external">{0}</a>').format(m.group(0)))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def make_filters(currency: str) -> dict[str, Callable]:
    """All filters by name; `fmt(value, name)` applies one by name (for table column specs)."""
    filters = {
        "int": fmt_int, "num": fmt_num, "pct": fmt_pct, "days": fmt_days, "date": fmt_date,
        "period": fmt_period, "text": fmt_text, "yes": fmt_yes, "yesno": fmt_yesno, "money": make_money(currency),
        "linkify": linkify,
    }
    filters["money0"] = lambda value: filters["money"](value, 0)
    filters["num3"] = lambda value: fmt_num(value, 3)
    filters["fmt"] = lambda value, name: filters[name](value)
    return filters
