"""RFM scores (1-5) and named RFM segments, with each segment's rule in real units.

Scores come from quintile edges of the customers' own values: a customer scores
1 + (number of edges below its value), so equal values always get equal scores and
every score range translates into an exact range of days, orders or money.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.config import Rule

# name, R scores, F scores, M scores (inclusive ranges), recommended action, lapsing.
# First match wins; together they cover every score combination, "Other" is a safety net.
SEGMENT_RULES = [
    Rule("Champions", (4, 5), (4, 5), (4, 5),
     "Reward them: early access to new products, loyalty perks, ask for reviews and referrals."),
    Rule("Loyal", (3, 5), (3, 5), (3, 5),
     "Upsell higher-value products and bundles; invite them to a loyalty programme."),
    Rule("Can't Lose Them", (1, 2), (4, 5), (4, 5),
     "Win them back personally: a call or personal email, a strong offer, ask what went wrong.", True),
    Rule("At Risk", (1, 2), (3, 5), (1, 5),
     "Reactivate with personalised emails on what they bought before and a time-limited offer.", True),
    Rule("Potential Loyalists", (4, 5), (2, 5), (1, 5),
     "Offer membership or loyalty rewards and recommend products related to their purchases."),
    Rule("New", (5, 5), (1, 1), (1, 5),
     "Onboard them: welcome series, good first experience, a reason for a second order soon."),
    Rule("Promising", (4, 4), (1, 1), (1, 5),
     "Build the relationship: brand content and a small incentive for a second order."),
    Rule("Need Attention", (3, 3), (2, 5), (1, 5),
     "Limited-time offers based on past purchases before they slip away."),
    Rule("About to Sleep", (3, 3), (1, 1), (1, 5),
     "Reconnect with bestsellers and a discount; they bought once and are going quiet.", True),
    Rule("Hibernating", (2, 2), (1, 2), (1, 5),
     "Low-cost reactivation: relevant products and seasonal offers by email only.", True),
    Rule("Lost", (1, 1), (1, 2), (1, 5),
     "Leave out of paid campaigns; one last win-back email, then suppress.", True),
]
OTHER = ("Other", "Review these customers by hand: no rule matched.")
SEGMENT_NAMES = [r[0] for r in SEGMENT_RULES] + [OTHER[0]]

METRICS = {"r": "recency_days", "f": "frequency_orders", "m": "monetary"}
ONCE_REGULAR_F_SCORE = 3  # a lapsing segment whose F scores start at least here held once-regular customers


def lapsing_segments(rules=SEGMENT_RULES) -> frozenset[str]:
    """The segments customers lapse into: a mover goes from any segment outside them into one inside."""
    return frozenset(rule.name for rule in rules if rule.lapsing)


def once_regular_segments(rules=SEGMENT_RULES) -> list[str]:
    """Lapsing segments of customers who had ordered often (F scores from ONCE_REGULAR_F_SCORE up):
    the ones to win back first."""
    return [rule.name for rule in rules if rule.lapsing and rule.f[0] >= ONCE_REGULAR_F_SCORE]


def segment_order(rules=SEGMENT_RULES) -> list[str]:
    """Segment names best to worst (the transition matrix's order): the segments that are not
    lapsing in the map's order, then the lapsing ones from the most recent R scores down, then
    'Other'."""
    staying = [rule.name for rule in rules if not rule.lapsing]
    lapsing = sorted((rule for rule in rules if rule.lapsing), key=lambda rule: -rule.r[1])
    return staying + [rule.name for rule in lapsing] + [OTHER[0]]


def quintile_edges(values: pd.Series) -> np.ndarray:
    """Four cut points (20/40/60/80th percentiles), each an actual value of the data."""
    return np.quantile(values.to_numpy(dtype="float64"), [0.2, 0.4, 0.6, 0.8], method="lower")


def scores(values: pd.Series, edges: np.ndarray, higher_is_better: bool = True) -> pd.Series:
    """1-5 score: 1 + number of edges strictly below the value (reversed when lower is better)."""
    above = np.searchsorted(edges, values.to_numpy(dtype="float64"), side="left")
    return pd.Series(1 + above if higher_is_better else 5 - above, index=values.index, dtype="int64")


def rfm_scores(customers: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """(r_score, f_score, m_score frame, edges per metric). Recency: fewer days is better."""
    edges = {k: quintile_edges(customers[col]) for k, col in METRICS.items()}
    out = pd.DataFrame({
        "r_score": scores(customers["recency_days"], edges["r"], higher_is_better=False),
        "f_score": scores(customers["frequency_orders"], edges["f"]),
        "m_score": scores(customers["monetary"], edges["m"]),
    }, index=customers.index)
    return out, edges


def assign_segments(score_frame: pd.DataFrame, rules=SEGMENT_RULES) -> pd.Series:
    """Named segment per customer: the first rule whose ranges hold all three scores, else 'Other'."""
    result = pd.Series(OTHER[0], index=score_frame.index, dtype="object")
    unassigned = np.ones(len(score_frame), dtype=bool)
    r, f, m = (score_frame[c].to_numpy() for c in ("r_score", "f_score", "m_score"))
    for name, (r0, r1), (f0, f1), (m0, m1), *_ in rules:
        hit = unassigned & (r >= r0) & (r <= r1) & (f >= f0) & (f <= f1) & (m >= m0) & (m <= m1)
        result[hit] = name
        unassigned &= ~hit
    return result.astype("string")


def score_edges_table(customers: pd.DataFrame, score_frame: pd.DataFrame) -> pd.DataFrame:
    """Per metric and score: the range of values (low..high) and how many customers hold it."""
    parts = []
    for key, col in METRICS.items():
        stats = (customers[col].astype("float64").groupby(score_frame[f"{key}_score"])
                 .agg(low="min", high="max", customers="size").reindex(range(1, 6)))
        stats["customers"] = stats["customers"].fillna(0).astype("int64")
        parts.append(stats.rename_axis("score").reset_index().assign(metric=col))
    return pd.concat(parts, ignore_index=True)[["metric", "score", "low", "high", "customers"]]


def _range_text(key: str, lo: int, hi: int, edges: np.ndarray, money: str) -> str | None:
    """A score range as a range of real values; None when it allows every value."""
    if (lo, hi) == (1, 5):
        return None
    e = [-np.inf, *edges, np.inf]
    if key == "r":  # R in [lo, hi]  <=>  e[5-hi] < days <= e[6-lo]
        low, high = e[5 - hi], e[6 - lo]
        unit = lambda v: f"{v:,.0f} days"  # noqa: E731
        if np.isinf(low):
            return f"last order at most {unit(high)} ago"
        if np.isinf(high):
            return f"last order more than {unit(low)} ago"
        return f"last order {low + 1:,.0f}-{unit(high)} ago" if high > low + 1 else f"last order {unit(high)} ago"
    low, high = e[lo - 1], e[hi]  # F/M in [lo, hi]  <=>  e[lo-1] < value <= e[hi]
    if key == "f":
        if np.isinf(low):
            return f"at most {high:,.0f} order{'s' if high != 1 else ''}"
        if np.isinf(high):
            return f"more than {low:,.0f} order{'s' if low != 1 else ''}"
        return f"{low + 1:,.0f}-{high:,.0f} orders" if high > low + 1 else f"{high:,.0f} orders"
    if np.isinf(low):
        return f"spent at most {money}{high:,.2f}"
    if np.isinf(high):
        return f"spent more than {money}{low:,.2f}"
    return f"spent {money}{low:,.2f}-{money}{high:,.2f}"


def rules_table(edges: dict[str, np.ndarray], currency: str = "", rules=SEGMENT_RULES) -> pd.DataFrame:
    """The segment map with each rule written in days, orders and money for this data, then 'Other'."""
    rows = []
    for name, r, f, m, action, _lapsing in rules:
        parts = [_range_text(k, lo, hi, edges[k], currency) for k, (lo, hi) in zip("rfm", (r, f, m))]
        rows.append({
            "segment": name, "r_scores": f"{r[0]}-{r[1]}", "f_scores": f"{f[0]}-{f[1]}",
            "m_scores": f"{m[0]}-{m[1]}", "rule": "; ".join(p for p in parts if p) or "any customer",
            "action": action,
        })
    rows.append({"segment": OTHER[0], "r_scores": "-", "f_scores": "-", "m_scores": "-",
                 "rule": "no rule above matched", "action": OTHER[1]})
    return pd.DataFrame(rows)
