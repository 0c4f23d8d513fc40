"""Key findings in plain language, each citing its figure and the table it rests on (the report
links that table's chart)."""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from analysis.customers.rfm import SEGMENT_RULES, once_regular_segments
from analysis.result import Analysis, Finding
from analysis.studies.products import SIGNIFICANCE

SHOWN_FINDINGS = 7   # findings on the overview and the console; summary.json has them all


def _money(value: float, currency: str) -> str:
    return f"{currency}{value:,.0f}"


def top_share(customers: pd.DataFrame, fraction: float) -> float:
    """Share of revenue from the top `fraction` of customers by revenue."""
    values = np.sort(customers["monetary"].to_numpy())[::-1]
    n = max(1, int(round(len(values) * fraction)))
    total = values.sum()
    return float(values[:n].sum() / total) if total else 0.0


def _finite(value) -> bool:
    return value is not None and isinstance(value, (int, float)) and math.isfinite(value)


def _days(value: float) -> str:
    return f"{value:,.0f} day" + ("" if round(value) == 1 else "s")


def _worst_at_risk(tables: Mapping) -> dict | None:
    """The RFM segment with the most value at risk, with its action."""
    risk = tables["revenue_at_risk"]
    risk = risk[(risk["kind"] == "rfm") & (risk["value_at_risk"] > 0)]
    if risk.empty:
        return None
    row = risk.sort_values("value_at_risk", ascending=False, kind="stable").iloc[0]
    return {"segment": row["segment"], "value": float(row["value_at_risk"]), "action": row["action"]}


def _value_findings(a: Analysis, currency: str, tables: Mapping) -> list[Finding]:
    """Findings on revenue at risk, segment moves, first purchases and customer value."""
    out = []
    worst = _worst_at_risk(tables)
    if a.changes.customers_at_risk and worst:
        out.append(Finding(
            f"{a.changes.customers_at_risk:,} customers are overdue for their next order, worth "
            f"{_money(a.changes.value_at_risk, currency)} a year; most of it in {worst['segment']} "
            f"({_money(worst['value'], currency)}). {worst['action']}",
            _money(a.changes.value_at_risk, currency), "revenue_at_risk", a.changes.value_at_risk))
    if a.changes.change_from and len(tables["movers"]):
        movers = len(tables["movers"])
        since = pd.Timestamp(a.changes.change_from)
        out.append(Finding(
            f"{movers:,} customer{'' if movers == 1 else 's'} moved from an active RFM segment into a lapsing one "
            f"since {since.day} {since:%b %Y}. The list is in movers.csv.",
            f"{movers:,}", "movers", float(tables["movers"]["monetary"].sum())))
    if len(tables["first_purchase"]):
        fp = tables["first_purchase"]
        standing = fp[(fp["q_value"] < SIGNIFICANCE) & (fp["lift"] > 1)]
        # the one that matters most: the most customers ordering again beyond the overall rate
        extra = standing["customers"] * (standing["repeat_rate"] - standing["overall_repeat_rate"])
        best = standing.assign(_extra=extra).sort_values(["_extra", "key"], ascending=[False, True], kind="stable")
        if len(best):
            b = best.iloc[0]
            tested = {"category": "categories"}.get(str(b.get("by", "product")), "products")
            out.append(Finding(
                f"Of the {int(b['eligible_customers']):,} customers whose first order was at least 90 days before the end "
                f"of the data, {b['overall_repeat_rate']:.0%} ordered again; the {int(b['customers']):,} whose first order "
                f"held '{b['name']}' did {b['repeat_rate']:.0%} of the time (q = {b['q_value']:.2g}, adjusted for the "
                f"{len(fp):,} {tested} tested).",
                f"{b['repeat_rate']:.0%}", "first_purchase",
                float(b["customers"]) * a.money.revenue / max(a.data.customers, 1)))
    model = a.value.purchase_model
    if _finite(a.value.clv_total) and model:
        if a.value.value_model_reliable is False:
            out.append(Finding(
                f"The purchase model ({model['model']}) is not reliable on this data "
                f"({a.value.value_model_doubts}), so customer value over the next "
                f"{a.value.clv_horizon_days} days comes from a naive forecast instead "
                f"('{a.value.value_predictor}'): {_money(a.value.clv_total, currency)}, a rough guide only.",
                "not reliable", "holdout_comparison", a.value.clv_total))
        else:
            trust = (f"; checked on the last 90 days, the purchase model ({model['model']}) is off by "
                     f"{a.value.holdout_mae:.2f} purchase days per customer on average, less than the naive "
                     "forecasts" if _finite(a.value.holdout_mae) else "")
            out.append(Finding(
                f"Customers are predicted to spend {_money(a.value.clv_total, currency)} over the next "
                f"{a.value.clv_horizon_days} days (discounted){trust}.",
                _money(a.value.clv_total, currency), "holdout_comparison", a.value.clv_total))
    return out


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _returns_text(a: Analysis, currency: str) -> str:
    """Returns in a sentence: what they undid, the orders that did not happen, the customers who
    returned everything and the returns left unmatched (only the parts that are not zero)."""
    text = (f"Returns undid {_money(a.money.returned_value, currency)} of {_money(a.money.gross_revenue, currency)} "
            f"bought ({a.money.returned_value / a.money.gross_revenue:.1%}); every money figure is net of them")
    gone = [part for n, part in (
        (a.money.orders_returned_in_full, _plural(a.money.orders_returned_in_full, "order")
         + " came back in full and count for nothing"),
        (a.data.customers_returned_everything, _plural(a.data.customers_returned_everything, "customer")
         + " returned everything they bought and are listed apart")) if n]
    text += (": " + "; ".join(gone) if gone else "") + "."
    if a.money.unmatched_returns_value:
        text += (f" {_money(a.money.unmatched_returns_value, currency)} of returns match no purchase in the data "
                 "(postage, fees, goods bought before it starts) and are not subtracted.")
    return text


def findings(a: Analysis, customers: pd.DataFrame, ledger: pd.DataFrame, rules=SEGMENT_RULES) -> tuple[Finding, ...]:
    """Plain-language findings from the Analysis's figures and tables (no new statistics beyond
    simple shares), ranked by the money at stake (`ranked`). rules: the RFM segment map (which
    segments held once-regular customers)."""
    segments, tables, currency = a.tables["segments"], a.tables, a.config.currency
    out = []
    rfm = segments[segments["kind"] == "rfm"]
    best = rfm.sort_values("share_revenue", ascending=False).iloc[0]
    out.append(Finding(
        f"{best['segment']} are {best['share_customers']:.0%} of customers but bring "
        f"{best['share_revenue']:.0%} of revenue.", f"{best['share_revenue']:.0%}", "segments",
        float(best["revenue"])))
    share20 = top_share(customers, 0.2)
    row = tables["pareto"][np.isclose(tables["pareto"]["top_share"], 0.2)]
    share20 = float(row["revenue_share"].iloc[0]) if len(row) else share20
    gini = f" (Gini {a.statistics.gini:.2f})" if _finite(a.statistics.gini) else ""
    out.append(Finding(f"The top 20% of customers bring {share20:.0%} of revenue{gini}.", f"{share20:.0%}",
                       "pareto", share20 * a.money.revenue))
    risk = rfm[rfm["segment"].isin(once_regular_segments(rules)) & (rfm["customers"] > 0)]
    if len(risk):
        out.append(Finding(
            f"{int(risk['customers'].sum()):,} once-regular customers ({', '.join(risk['segment'])}) have gone "
            f"quiet; they spent {_money(risk['revenue'].sum(), currency)} "
            f"({risk['revenue'].sum() / a.money.revenue:.0%} of revenue): win them back first.",
            _money(risk["revenue"].sum(), currency), "segments", float(risk["revenue"].sum())))
    repeat = a.cohorts.repeat_rate
    second = a.cohorts.repeat_days_to_second_median
    if _finite(second) and repeat > 0:
        gap = (f"; half of the repeat customers acquired after the data's first month placed their second order "
               f"within {_days(second)} of the first")
        link = "second_order"
    else:
        gap = (f"; the median time between their orders is {a.money.median_days_between_orders:,.0f} days"
               if repeat > 0 else "")
        link = "monthly"
    # at stake: the spend of the customers who have not come back (yet)
    once = float(customers.loc[customers["frequency_orders"] <= 1, "monetary"].sum())
    out.append(Finding(f"{repeat:.0%} of customers ordered more than once{gap}.", f"{repeat:.0%}", link, once))
    out += _value_findings(a, currency, tables)
    clusters = segments[segments["kind"] == "cluster"]
    top = clusters.sort_values("share_revenue", ascending=False).iloc[0]
    if a.clusters.n_clusters > 1:
        out.append(Finding(
            f"The data splits into {a.clusters.n_clusters} behaviour clusters (chosen by ICL, stability "
            f"{a.clusters.cluster_stability:.2f}); the most valuable: {top['description']}",
            f"{a.clusters.n_clusters} clusters", "cluster_selection", float(top["revenue"])))
    if a.money.returned_value:
        out.append(Finding(_returns_text(a, currency), _money(a.money.returned_value, currency),
                           "money_ledger", a.money.returned_value))
    dropped = ledger[ledger["reason"] != "kept"].sort_values("rows", ascending=False).iloc[0]
    if dropped["rows"] == 0:
        out.append(Finding(f"All {a.data.rows_read:,} rows were kept.", "100%", "ledger"))
        return ranked(out)
    out.append(Finding(
        f"{a.data.rows_kept / a.data.rows_read:.0%} of {a.data.rows_read:,} rows were kept; "
        f"the largest group dropped is '{dropped['label']}' ({dropped['rows']:,} rows).",
        f"{a.data.rows_kept / a.data.rows_read:.0%}", "ledger"))
    return ranked(out)


def ranked(found: list[Finding]) -> tuple[Finding, ...]:
    """Findings by what is at stake, most money first (ties keep their order); the overview and the
    console show the first SHOWN_FINDINGS."""
    return tuple(sorted(found, key=lambda f: -f.stake if _finite(f.stake) else 0.0))
