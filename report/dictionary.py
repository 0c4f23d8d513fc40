"""The data dictionary of the downloads: every CSV file and every column in plain words, with its
unit. The same name means the same quantity in every file. The unit also sets how a number is
written (DECIMALS): money to 2 decimals, shares and probabilities to 3.

Read by the downloads writer (rounding, downloads/README.md) and the downloads page.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from analysis.customers.features import LOW_PRICE
from analysis.studies.changes import AT_RISK_MARGIN, MIN_QUIET_DAYS, RHYTHM_ORDER_DAYS
from analysis.studies.value.clv import ALIVE_HIGH, ALIVE_LOW

# decimals written per unit (None: whole numbers or text)
DECIMALS = {"money": 2, "share": 3, "probability": 3, "ratio": 3, "days": 1, "number": 2}
UNIT_LABELS = {"money": "money (the data's currency)", "share": "share, 0 to 1", "probability": "probability, 0 to 1",
               "ratio": "ratio", "days": "days", "number": "number", "count": "count", "score": "score, 1 to 5",
               "id": "id", "text": "text", "date": "date (YYYY-MM-DD)", "flag": "True or False"}


class Entry(NamedTuple):
    unit: str
    meaning: str


def columns(horizon: int | None = 365) -> dict[str, Entry]:
    """Every column of every download by name; the lifetime value is clv_<horizon>."""
    clv = f"clv_{horizon}" if horizon else "clv"
    return {
        # who and which segment
        "customer_id": Entry("id", "The customer's id as in the input file."),
        "rfm_segment": Entry("text", "RFM segment: the segment map's name for the customer's recency, frequency "
                                     "and spend scores."),
        "cluster": Entry("count", "Behaviour cluster number (1 is the first)."),
        "cluster_name": Entry("text", "Behaviour cluster's name."),
        "segment": Entry("text", "The segment (an RFM segment or a behaviour cluster, as `kind` says; in a "
                                 "segment's list, the segment of the list)."),
        "kind": Entry("text", "Which segmentation: 'rfm' (RFM segments) or 'cluster' (behaviour clusters)."),
        "action": Entry("text", "What to do about the segment."),
        "country": Entry("text", "The customer's country: the one with most of their revenue."),
        "contact": Entry("text", "The customer's email or name from the input's contact column, as on their "
                                 "latest order that has one (only when the input has such a column)."),
        # when and how often
        "first_order_date": Entry("date", "Day of the first order kept."),
        "last_order_date": Entry("date", "Day of the last order kept."),
        "recency_days": Entry("days", "Days from the last order kept to the end of the data."),
        "days_since_any_order": Entry("days", "Days from the last order placed to the end of the data, counting "
                                              "orders that later came back in full (the customer was in touch)."),
        "frequency_orders": Entry("count", "Orders kept (an order returned in full does not count)."),
        "order_days": Entry("count", "Different days with an order."),
        "orders": Entry("count", "Orders."),
        "tenure_days": Entry("days", "Days from the first order to the end of the data."),
        "active_days": Entry("days", "Days from the first order to the last."),
        "mean_days_between_orders": Entry("days", "Average days between orders: days from first to last order / "
                                                  "(orders - 1); empty for one order."),
        # money
        "monetary": Entry("money", "Net revenue: what the customer bought less what they returned."),
        "revenue_last_365_days": Entry("money", "Net revenue in the 365 days before the end of the data."),
        "avg_order_value": Entry("money", "Net revenue per order."),
        "item_price": Entry("money", "Net revenue per unit bought."),
        "revenue": Entry("money", "Net revenue (bought less returned)."),
        "revenue_per_customer": Entry("money", "Net revenue per customer."),
        "median_monetary": Entry("money", "Median net revenue per customer."),
        "bought_value": Entry("money", "What the customer bought."),
        "returned_value": Entry("money", "What the customer returned."),
        "returns_value": Entry("money", "What the customer's returns undid, at the price paid."),
        "line_amount": Entry("money", "Sum of the line amounts of these rows as read (before returns are "
                                      "matched)."),
        "value": Entry("money", "The amount of this line of the money ledger."),
        # basket and habits
        "items_per_order": Entry("number", "Units bought per order."),
        "lines_per_order": Entry("number", "Product lines per order."),
        "distinct_products": Entry("count", "Different products bought."),
        "returns_lines": Entry("count", "Return lines matched to the customer's purchases."),
        "return_rate": Entry("share", "Share of what was bought that came back: returned value / (net revenue + "
                                      "returned value)."),
        "price_index": Entry("ratio", "Price paid against the usual price: the average over lines of the unit "
                                      "price / the product's median price (1 = usual, below 1 = cheaper)."),
        "low_price_share": Entry("share", f"Share of lines bought at under {LOW_PRICE:.0%} of the product's "
                                          "median price."),
        "gap_cv": Entry("ratio", "How irregular the customer's orders are: the spread of days between orders / "
                                 "their average (0 = like clockwork); empty below 3 orders."),
        "weekend_share": Entry("share", "Share of orders on a Saturday or Sunday."),
        "evening_share": Entry("share", "Share of orders at 18:00 or later; empty when the data has no times "
                                        "of day."),
        **{f"share_q{q}": Entry("share", f"Share of orders in {months}.") for q, months in
           ((1, "January to March"), (2, "April to June"), (3, "July to September"), (4, "October to December"))},
        "peak_quarter_share": Entry("share", "Share of orders in the customer's busiest quarter of the year."),
        # scores and model outputs
        "r_score": Entry("score", "Recency score: 5 = ordered most recently (quintiles of the data)."),
        "f_score": Entry("score", "Frequency score: 5 = most orders."),
        "m_score": Entry("score", "Spend score: 5 = most net revenue."),
        "cluster_outlier": Entry("flag", "True for a customer extreme on some measure: put in the nearest cluster "
                                         "but not used to find the clusters."),
        "p_alive": Entry("probability", "Probability that the customer is still a customer (purchase model); "
                                        "empty when the model is not reliable on this data."),
        "expected_purchases_90": Entry("number", "Purchase days expected in the next 90 days."),
        "expected_purchases_365": Entry("number", "Purchase days expected in the next 365 days."),
        clv: Entry("money", f"Lifetime value: expected net revenue over the next {horizon or 365} days, "
                            "discounted (from the purchase model, or the naive forecast that replaced it)."),
        "one_time_later_share": Entry("share", "For a one-order customer: among repeat customers watched at "
                                               "least as long, the share whose second order came later than this "
                                               "customer has waited so far (low: few come back after this long). "
                                               "Empty for repeat customers."),
        "disagreement": Entry("text", f"How the RFM segment and the purchase model disagree: 'model: still "
                                      f"active' (a lapsing segment, P(alive) at least {ALIVE_HIGH}) or 'model: "
                                      f"likely gone' (an active segment, P(alive) under {ALIVE_LOW})."),
        # risk
        "at_risk": Entry("flag", f"True when overdue: no order for longer than {AT_RISK_MARGIN:g} x the customer's "
                                 f"usual gap (or, without a rhythm, the expected gap), and at least "
                                 f"{MIN_QUIET_DAYS} days."),
        "own_rhythm": Entry("flag", f"True when the customer ordered on at least {RHYTHM_ORDER_DAYS} different "
                                    "days, so has a usual gap of their own."),
        "expected_gap_days": Entry("days", "Days expected between orders: the customer's own usual gap, or for "
                                           "the others the gap within which 90% of second orders came."),
        "overdue_days": Entry("days", "Days since the last order beyond the expected gap (0 when not yet due)."),
        "value_at_risk": Entry("money", "For an overdue customer, what they are worth a year (at most what they "
                                        "spent in the last 365 days); 0 for the others."),
        # changes
        "from_segment": Entry("text", "RFM segment 90 days before the end of the data."),
        "to_segment": Entry("text", "RFM segment at the end of the data."),
        # segments.csv
        "slug": Entry("text", "The segment's page and list name (segments/<slug>.html, "
                              "downloads/segments/<slug>.csv)."),
        "color": Entry("text", "The segment's colour in the charts."),
        "customers": Entry("count", "Customers."),
        "share_customers": Entry("share", "Share of all customers."),
        "share_revenue": Entry("share", "Share of all net revenue."),
        "median_recency_days": Entry("days", "Median days since the last order."),
        "median_frequency_orders": Entry("number", "Median orders per customer."),
        "rule": Entry("text", "Who is in the segment, in the data's units."),
        "description": Entry("text", "What the row is, in plain words."),
        # the ledgers
        "reason": Entry("text", "Why rows were kept or dropped (a code)."),
        "label": Entry("text", "The reason or item in plain words."),
        "rows": Entry("count", "Input rows."),
        "share_rows": Entry("share", "Share of all input rows."),
        "section": Entry("text", "Part of the money ledger: 'revenue' or 'returns'."),
        "item": Entry("text", "Line of the money ledger (a code)."),
        "lines": Entry("count", "Transaction lines."),
    }


# the files, in the order they are listed, with what each holds
FILES = {
    "customers.csv": "Every customer: segments, behaviour, value and risk, one row each.",
    "segments/<slug>.csv": "One file per segment, ready for a campaign: its customers with the action, value "
                           "and risk, most valuable first (an RFM segment's list names each customer's "
                           "cluster, a cluster's list their RFM segment).",
    "at_risk.csv": "Customers overdue for their next order, most value at risk first, with why.",
    "top_clv.csv": "Every customer with a lifetime value, highest first.",
    "p_alive_disagreements.csv": "Repeat customers whose RFM segment and purchase model disagree: worth a look "
                                 "before a campaign (empty when the model is not reliable).",
    "movers.csv": "Customers who slipped from an active RFM segment into a lapsing one in the last 90 days.",
    "segments.csv": "One row per segment of both kinds: size, money, typical customer, rule and action.",
    "returned_everything.csv": "Customers who returned everything they bought (left out of the segments).",
    "ledger.csv": "Every input row accounted for: kept, or dropped and why.",
    "money_ledger.csv": "From gross revenue to net revenue: what returns undid.",
}
# names used inside the analysis that the files write under another name
RENAMED = {"ledger.csv": {"revenue": "line_amount"}}


def unit(name: str) -> str | None:
    """The unit of a column, by its name in a file or in the analysis (clv: the lifetime value)."""
    entry = _entries().get(name)
    return entry.unit if entry else "money" if re.fullmatch(r"clv(_\d+)?", name) else None


def decimals(name: str) -> int | None:
    """Decimals a number column is written with (None: whole numbers, or not a number)."""
    return DECIMALS.get(unit(name) or "")


@functools.cache
def _entries() -> dict[str, Entry]:
    return columns()


def readme(horizon: int | None, files: dict[str, list[str]]) -> str:
    """downloads/README.md: each file with its columns as written (`files`: name -> header), then
    every column's unit and meaning. A column without an entry here is an error."""
    entries = columns(horizon)
    used = list(dict.fromkeys(c for cols in files.values() for c in cols))
    missing = [c for c in used if c not in entries]
    if missing or set(files) - set(FILES):
        raise ValueError(f"not in the data dictionary: columns {missing}, files {sorted(set(files) - set(FILES))}")
    out = ["# Downloads", "", "Written by the segment report builder with the site. Money is in the data's "
           "currency, to 2 decimals; shares and probabilities are 0 to 1, to 3 decimals; an empty cell is a "
           "value that does not apply. A cell that starts like a spreadsheet formula starts with an "
           "apostrophe.", "", "## Files", ""]
    for name, what in FILES.items():
        if name in files:
            out += [f"- `{name}`: {what}", f"  Columns: {', '.join(f'`{c}`' for c in files[name])}."]
    out += ["", "## Columns", "", "| column | unit | meaning |", "|---|---|---|"]
    for name, entry in entries.items():
        if name in used:
            out.append(f"| `{name}` | {UNIT_LABELS[entry.unit]} | {entry.meaning.replace('|', '/')} |")
    return "\n".join(out) + "\n"
