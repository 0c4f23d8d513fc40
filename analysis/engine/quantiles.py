"""Exact medians that never hold every value in memory.

An engine's exact median keeps all of a group's values at once: at 100M lines that is one
allocation of several GB, which fails inside a memory budget. Here values are first counted per
distinct value (an ordinary aggregate, which spills), then the middle of each group is found from
running counts. Memory grows with the number of distinct values, not rows; the result is the
usual median (the mean of the two middle values for an even count), on any Ibis backend.
"""

from __future__ import annotations

import ibis
import numpy as np


def value_counts(table: ibis.Table, value: str, by: list[str], **also: ibis.Value) -> ibis.Table:
    """Rows per group of `by` and distinct non-NULL `value` (column _n), plus the aggregates in
    `also` (expressions on `table`) over the same rows: the input of median_from_counts."""
    t = table.filter(table[value].notnull())
    return t.group_by([*by, value]).aggregate(_n=t.count(), **also)


def median_from_counts(counts: ibis.Table, value: str, by: list[str]) -> ibis.Table:
    """One row per group of `by` with its exact `median` of `value`, from value_counts."""
    running = ibis.cumulative_window(group_by=[counts[k] for k in by], order_by=counts[value])
    whole = ibis.window(group_by=[counts[k] for k in by])
    c = counts.mutate(_cum=counts._n.sum().over(running), _total=counts._n.sum().over(whole))
    # 1-based positions of the two middle values (the same one for an odd count)
    low, high = (c._total + 1) // 2, c._total // 2 + 1
    lower = c.filter(c._cum >= low).group_by(by).aggregate(_lo=c[value].min())
    upper = c.filter(c._cum >= high).group_by(by).aggregate(_hi=c[value].min())
    both = lower.join(upper, by)
    return both.select(*by, median=(both._lo + both._hi) / 2)


def median_by(table: ibis.Table, value: str, by: list[str]) -> ibis.Table:
    """One row per group of `by` with its exact `median` of `value` (NULL values left out)."""
    return median_from_counts(value_counts(table, value, by), value, by)


def median_of_counts(values: np.ndarray, counts: np.ndarray) -> float | None:
    """The exact median of values given as (distinct value, how many times): the middle value, or
    the mean of the two middle ones; None when there are no values. NaN values are left out."""
    values, counts = np.asarray(values, dtype="float64"), np.asarray(counts, dtype="int64")
    keep = ~np.isnan(values)
    order = np.argsort(values[keep], kind="stable")
    v, cum = values[keep][order], np.cumsum(counts[keep][order])
    total = int(cum[-1]) if len(cum) else 0
    if total == 0:
        return None
    low, high = (total + 1) // 2, total // 2 + 1  # 1-based positions of the two middle values
    return float((v[np.searchsorted(cum, low)] + v[np.searchsorted(cum, high)]) / 2)
