"""Do the segments tell what customers do next? A check that is not circular.

Both segmentations are made again as the data stood WINDOW_DAYS before the as-of date, from the
orders before that day only: RFM segments with that day's own score edges (transitions.segments_at)
and clusters with the build's method and k, fitted on that day's customer features. Then what the
customers did in the WINDOW_DAYS that followed, which no segment saw, is compared between the
segments: the share who ordered again (repeat rate) and the net spend per customer, each with a
bootstrap 95% interval.

How well a segmentation separates what happened next is the share of the customer-to-customer
variation it explains, adjusted for its number of segments (adjusted R squared), for ordering again
and for spend (on a log scale, so that a few large customers do not decide); `separation` is their
mean. Each segmentation has one test that its segments differ in next-90-day spend (Kruskal-Wallis),
Holm-adjusted over the two. The recommended segmentation separates better; when a bootstrap
interval of the difference includes 0, the one with fewer segments is recommended (as good, simpler).

Customers whose first order falls in the window had no segment then and are left out. Lines are net
of returns, so a purchase later returned counts as never made in both periods; the earlier
features' return rate counts returns made up to the end of the data, and their price paid is
compared with each product's median price over the whole data (both describe habits, not what
happened in the window).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import numpy as np
import pandas as pd

from analysis import engine
from analysis.engine import rollups
from analysis.studies import stats
from analysis.studies.study import Study, StudyResult

WINDOW_DAYS = 90
BOOTSTRAPS = 200           # resamples of the difference in separation
DIFFERENCE_SAMPLE = 20_000  # customers resampled for that interval (the estimates use every customer)
SEGMENT_COLUMNS = ["kind", "segment", "customers", "repeat_rate", "repeat_low", "repeat_high",
                   "spend", "spend_low", "spend_high"]
SUMMARY_COLUMNS = ["kind", "segments", "customers", "r2_repeat", "r2_spend", "separation", "test",
                   "statistic", "p_value", "p_holm", "recommended"]


def cutoff(as_of: dt.date) -> dt.date:
    return as_of - dt.timedelta(days=WINDOW_DAYS)


def queries(lines: ibis.Table, as_of: dt.date, customer_returns: pd.DataFrame) -> dict:
    """The engine's part: customer features as of the cutoff (features.customer_features on the
    lines before it) and each customer's orders and net spend from the cutoff to the as-of date."""
    from analysis.customers import cluster, features

    start = engine.day_start(cutoff(as_of))
    orders = rollups.orders(lines)
    then = features.customer_features(lines.filter(lines.order_ts < start), customer_returns, cutoff(as_of),
                                      orders=orders.filter(orders.order_ts < start), distinct=False,
                                      products=rollups.products(lines))
    then = then[list(cluster.INPUT_COLUMNS)].copy()  # held until the study runs: only what it reads
    window = orders.filter(orders.order_ts >= start)
    nxt = engine.execute(window.group_by("customer_id").aggregate(next_orders=window.count(),
                                                                   next_spend=window.revenue.sum()))
    nxt["customer_id"] = nxt["customer_id"].astype("string")
    return {"features": then, "next": nxt}


def outcomes(segments_then: pd.DataFrame, nxt: pd.DataFrame) -> pd.DataFrame:
    """segments_then (customer_id, segment) with next_repeat (1 if they ordered in the window) and
    next_spend (net, 0 without an order)."""
    out = segments_then.merge(nxt, on="customer_id", how="left")
    out["next_repeat"] = (out["next_orders"].fillna(0) > 0).astype("float64")
    out["next_spend"] = out["next_spend"].fillna(0.0).astype("float64").round(2)
    return out[["customer_id", "segment", "next_repeat", "next_spend"]]


def compare(by_kind: dict[str, pd.DataFrame], seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(validation_segments, validation_summary, figures) for {kind: outcomes(...)}; figures:
    recommended_segmentation, the separation difference and its interval, and why, in words."""
    parts, rows = [], []
    for kind, o in by_kind.items():
        means = stats.bootstrap_means(o, "segment", ["next_repeat", "next_spend"], seed=seed)
        wide = means.pivot(index="segment", columns="feature", values=["mean", "ci_low", "ci_high"])
        sizes = o["segment"].value_counts()
        parts.append(pd.DataFrame({
            "kind": kind, "segment": wide.index, "customers": sizes.reindex(wide.index).to_numpy(),
            "repeat_rate": wide[("mean", "next_repeat")].to_numpy(), "repeat_low": wide[("ci_low", "next_repeat")].to_numpy(),
            "repeat_high": wide[("ci_high", "next_repeat")].to_numpy(), "spend": wide[("mean", "next_spend")].to_numpy(),
            "spend_low": wide[("ci_low", "next_spend")].to_numpy(), "spend_high": wide[("ci_high", "next_spend")].to_numpy()}))
        codes = pd.factorize(o["segment"], sort=True)[0]
        r2_repeat = adjusted_r2(o["next_repeat"].to_numpy(), codes)
        r2_spend = adjusted_r2(np.log1p(o["next_spend"].clip(lower=0).to_numpy()), codes)
        h = stats.kruskal_by_segment(o, "segment", {"next_spend": "Net spend, next 90 days"}).iloc[0]
        rows.append({"kind": kind, "segments": int(codes.max() + 1), "customers": len(o), "r2_repeat": r2_repeat,
                     "r2_spend": r2_spend, "separation": (r2_repeat + r2_spend) / 2,
                     "test": "Kruskal-Wallis on next-90-day net spend", "statistic": float(h["h_statistic"]),
                     "p_value": float(h["p_value"])})
    segments = pd.concat(parts, ignore_index=True)[SEGMENT_COLUMNS]
    summary = pd.DataFrame(rows)
    summary["p_holm"] = stats.holm(summary["p_value"].to_numpy())
    figures = _recommend(summary, by_kind, seed)
    summary["recommended"] = summary["kind"] == figures["recommended_segmentation"]
    return segments, summary[SUMMARY_COLUMNS], figures


def adjusted_r2(y: np.ndarray, codes: np.ndarray) -> float:
    """Share of the variance of y explained by segment means, adjusted for the number of segments:
    1 - (1 - R2)(n - 1)/(n - k). NaN when y does not vary or there are no more customers than segments."""
    y = np.asarray(y, dtype="float64")
    n, k = len(y), int(codes.max() + 1) if len(codes) else 0
    total = float(((y - y.mean()) ** 2).sum())
    if n <= k or total == 0:
        return float("nan")
    sums, counts = np.bincount(codes, weights=y, minlength=k), np.bincount(codes, minlength=k)
    means = np.divide(sums, counts, out=np.zeros(k), where=counts > 0)
    within = float(((y - means[codes]) ** 2).sum())
    return 1 - (within / total) * (n - 1) / (n - k)


def _recommend(summary: pd.DataFrame, by_kind: dict[str, pd.DataFrame], seed: int) -> dict:
    s = summary.set_index("kind")
    if len(s) < 2 or s["separation"].isna().all():
        kind = s["separation"].fillna(-np.inf).idxmax() if len(s) else "rfm"
        return {"recommended_segmentation": kind, "separation_difference": float("nan"),
                "separation_difference_low": float("nan"), "separation_difference_high": float("nan"),
                "recommendation_reason": "Too little happened after the cutoff to compare the segmentations."}
    low, high = _difference_interval(by_kind["cluster"], by_kind["rfm"], seed)
    diff = float(s.loc["cluster", "separation"] - s.loc["rfm", "separation"])
    label = {"rfm": "RFM segments", "cluster": "behaviour clusters"}
    if low > 0 or high < 0:
        kind = "cluster" if diff > 0 else "rfm"
        other = "rfm" if kind == "cluster" else "cluster"
        why = (f"{label[kind][0].upper() + label[kind][1:]} separate what customers did in the next {WINDOW_DAYS} days better: they "
               f"explain {s.loc[kind, 'separation']:.0%} of the differences in ordering again and spending, "
               f"{label[other]} {s.loc[other, 'separation']:.0%} (the difference's 95% interval, "
               f"{abs(high if diff < 0 else low):.1%} to {abs(low if diff < 0 else high):.1%}, excludes 0).")
    else:
        kind = "rfm" if s.loc["rfm", "segments"] <= s.loc["cluster", "segments"] else "cluster"
        why = (f"Both separate what customers did in the next {WINDOW_DAYS} days about equally "
               f"(RFM segments {s.loc['rfm', 'separation']:.0%}, behaviour clusters {s.loc['cluster', 'separation']:.0%}; "
               f"the difference's 95% interval includes 0), so the simpler one, with fewer segments, is recommended: "
               f"{label[kind]}.")
    return {"recommended_segmentation": kind, "separation_difference": diff, "separation_difference_low": low,
            "separation_difference_high": high, "recommendation_reason": why}


def _difference_interval(cluster: pd.DataFrame, rfm: pd.DataFrame, seed: int) -> tuple[float, float]:
    """95% bootstrap interval of separation(cluster) - separation(rfm) over customers in both,
    resampling at most DIFFERENCE_SAMPLE customers per draw (the spread rescaled to the full count)."""
    both = cluster.merge(rfm[["customer_id", "segment"]], on="customer_id", suffixes=("_c", "_r"))
    if len(both) < 10:
        return float("nan"), float("nan")
    repeat = both["next_repeat"].to_numpy()
    spend = np.log1p(both["next_spend"].clip(lower=0).to_numpy())
    cc = pd.factorize(both["segment_c"], sort=True)[0]
    rc = pd.factorize(both["segment_r"], sort=True)[0]

    def diff(idx):
        sep = lambda codes: (adjusted_r2(repeat[idx], codes[idx]) + adjusted_r2(spend[idx], codes[idx])) / 2  # noqa: E731
        return sep(cc) - sep(rc)

    n = len(both)
    draw = min(n, DIFFERENCE_SAMPLE)
    rng = np.random.default_rng(seed)
    full = diff(np.arange(n))
    draws = np.array([diff(rng.integers(0, n, draw)) for _ in range(BOOTSTRAPS)])
    draws = full + (draws - np.nanmean(draws)) * np.sqrt(draw / n)
    low, high = np.nanquantile(draws, [0.025, 0.975])
    return float(low), float(high)


def validation_tables(queried: dict, rfm_then: pd.DataFrame, clustering, as_of: dt.date,
                      seed: int) -> tuple[dict, dict]:
    """Both segmentations as of WINDOW_DAYS before the as-of date, against what their
    customers did next (see analysis.studies.validation). `queried`: queries(...); `rfm_then`:
    RFM segments on that day (change_queries: the same day, as CHANGE_DAYS == WINDOW_DAYS)."""
    from analysis.customers import cluster
    from analysis.customers import profiles

    then, nxt = queried["features"], queried["next"]
    cut = cutoff(as_of).isoformat()
    if len(then) < cluster.MIN_CUSTOMERS or rfm_then.empty or nxt.empty:
        empty = {name: pd.DataFrame(columns=cols) for name, cols in
                 (("validation_segments", SEGMENT_COLUMNS), ("validation_summary", SUMMARY_COLUMNS))}
        return empty, {"validation_from": cut, "recommended_segmentation": None, "recommendation_reason": "",
                       "separation_difference": float("nan"), "separation_difference_low": float("nan"),
                       "separation_difference_high": float("nan")}
    by_kind = {"rfm": outcomes(rfm_then.rename(columns={"rfm_segment": "segment"})[["customer_id", "segment"]],
                                          nxt)}
    if clustering.k > 1 and len(then) >= cluster.MIN_CUSTOMERS:
        earlier = cluster.choose_clusters(then, seed=seed, k=clustering.k, measure_stability=False)
        names = profiles.cluster_names(earlier.labels, cluster.shown_values(then), then["frequency_orders"])
        labels = pd.Series(earlier.labels, index=then.index).map(names)
        by_kind["cluster"] = outcomes(pd.DataFrame({"customer_id": then["customer_id"], "segment": labels}),
                                                 nxt)
    segments, summary, figures = compare(by_kind, seed)
    figures["validation_from"] = cut
    return {"validation_segments": segments, "validation_summary": summary}, figures


def _queries(inputs) -> dict:
    return {"next": (queries, inputs.lines, inputs.as_of, inputs.customer_returns)}


@dataclass(frozen=True)
class ValidationFigures:
    validation_from: str                   # the cutoff both segmentations are made at (ISO)
    recommended_segmentation: str | None   # 'rfm' or 'cluster' (None without enough history)
    recommendation_reason: str
    separation_difference: float          # clusters' separation minus RFM's
    separation_difference_low: float      # its 95% interval
    separation_difference_high: float


def _result(inputs, queried) -> StudyResult:
    tables, figures = validation_tables(queried.last("validation.next"), queried.last("changes.before"), inputs.clustering,
                                        inputs.as_of, inputs.config.seed)
    return StudyResult(tables, ValidationFigures(**figures))


STUDY = Study("validation", _result, queries=_queries)
