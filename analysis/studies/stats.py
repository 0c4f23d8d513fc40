"""Statistics that show segment differences are real, and how concentrated revenue is.

Customer-level work in numpy/scipy, vectorised over customers: Python loops run only over
segments, features, pairs of segments and bootstrap chunks, never over customers. Every
result is a small table whose size does not depend on the number of customers.

Segments are the distinct non-missing values of `group_col` (customers with a missing segment are
left out), reported in sorted order. Feature values that are missing (NaN, e.g.
mean_days_between_orders for one-order customers) are left out per feature.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Iterable, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as st

from analysis.studies.study import Study, StudyResult

MIN_SUPPORT = 50            # customers a group needs before it is tested (pairs of segments, products)
MIN_GROUP = 2                # segments with fewer customers than this are left out of the tests
PAIRWISE_SAMPLE = 20_000     # customers per segment used by the Mann-Whitney test
BOOTSTRAP_DRAWS = 2_000      # customers drawn per bootstrap replicate (see bootstrap_means)
CHUNK_DRAWS = 2_000_000      # random indices held in memory at once while bootstrapping
PARETO_SHARES = (0.01, 0.05, 0.10, 0.20, 0.50)
LORENZ_POINTS = 201          # at most this many points on the returned Lorenz curve


def kruskal_by_segment(customers: pd.DataFrame, group_col: str, features: dict[str, str]) -> pd.DataFrame:
    """Kruskal-Wallis test of "all segments have the same distribution" for each feature.

    features maps column -> label shown to readers. One row per feature, in the given order:
    feature, label, groups (segments tested), n (customers tested), h_statistic (tie-corrected H),
    p_value (chi-squared approximation with groups - 1 degrees of freedom), epsilon_squared.

    Segments with fewer than MIN_GROUP (2) customers with a value are left out, and `groups` and `n`
    count only what was tested. epsilon_squared = (H - k + 1) / (n - k) (the formula Cohen gives as
    eta-squared for H; Tomczak & Tomczak call H / (n - 1) epsilon-squared):
    the share of rank variance explained by the segment, 0 = none, 1 = complete separation; it can
    be slightly below 0 when there is no effect. H, p and epsilon_squared are NaN when fewer than
    two segments remain or every value is the same.
    """
    codes, names = _codes(customers, group_col)
    rows = []
    for feature, label in features.items():
        x = _values(customers, feature)
        ok = (codes >= 0) & ~np.isnan(x)
        x, c = x[ok], codes[ok]
        big = np.bincount(c, minlength=len(names)) >= MIN_GROUP
        keep = big[c]
        x, c = x[keep], (np.cumsum(big) - 1)[c[keep]]   # renumber kept segments 0..k-1
        k, n = int(big.sum()), len(x)
        h = _kruskal_h(x, c, k) if k >= 2 else np.nan
        rows.append({
            "feature": feature, "label": label, "groups": k, "n": n, "h_statistic": h,
            "p_value": float(st.chi2.sf(h, k - 1)) if np.isfinite(h) else np.nan,
            "epsilon_squared": (h - k + 1) / (n - k) if np.isfinite(h) and n > k else np.nan,
        })
    return pd.DataFrame(rows, columns=["feature", "label", "groups", "n", "h_statistic", "p_value",
                                       "epsilon_squared"])


def pairwise_differences(customers: pd.DataFrame, group_col: str, feature: str, max_pairs: int | None = None,
                         *, max_per_group: int = PAIRWISE_SAMPLE, seed: int = 0, min_group: int = MIN_GROUP
                         ) -> pd.DataFrame:
    """Two-sided Mann-Whitney U test for every pair of segments on one feature.

    One row per pair, largest |effect| first (ties: segment order): feature, a, b (segment names,
    a before b in sorted order), n_a, n_b (customers tested), median_a, median_b (of all the
    segment's customers, in the feature's unit), u_statistic (U of a), p_value, p_holm (Holm-
    adjusted over all pairs tested), effect.

    effect is the rank-biserial correlation 2U/(n_a n_b) - 1, which equals Cliff's delta:
    P(a > b) - P(a < b) for a random customer of each, ties counting half; +1 means every customer
    of a has a higher value than every customer of b. Segments larger than max_per_group are
    subsampled without replacement (seeded, so the result is deterministic) before testing, which
    keeps the test fast and the p-values from being trivially tiny. max_pairs keeps only the
    strongest pairs after the Holm adjustment (which controls the chance of any false difference, so
    it is stricter than Benjamini-Hochberg). Segments with fewer than `min_group` values are left out.
    """
    codes, names = _codes(customers, group_col)
    groups = [(names[g], v) for g, v in _split(codes, _values(customers, feature)) if len(v) >= min_group]
    rng = np.random.default_rng(seed)
    tested = [v if len(v) <= max_per_group else rng.choice(v, max_per_group, replace=False) for _, v in groups]
    rows = []
    for i, j in combinations(range(len(groups)), 2):
        u, p = st.mannwhitneyu(tested[i], tested[j], alternative="two-sided")
        n_a, n_b = len(tested[i]), len(tested[j])
        rows.append({"feature": feature, "a": groups[i][0], "b": groups[j][0], "n_a": n_a, "n_b": n_b,
                     "median_a": float(np.median(groups[i][1])), "median_b": float(np.median(groups[j][1])),
                     "u_statistic": float(u), "p_value": float(p), "effect": 2 * float(u) / (n_a * n_b) - 1})
    out = pd.DataFrame(rows, columns=["feature", "a", "b", "n_a", "n_b", "median_a", "median_b",
                                      "u_statistic", "p_value", "effect"])
    out.insert(9, "p_holm", holm(out["p_value"].to_numpy()))
    order = np.argsort(-out["effect"].abs().to_numpy(), kind="stable")
    out = out.iloc[order].reset_index(drop=True)
    return out if max_pairs is None else out.head(max_pairs)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order; NaNs stay NaN and are not counted.

    The i-th smallest of m p-values becomes max over j <= i of min(1, (m - j + 1) p_(j)).
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    stepped = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(stepped), 1.0)
    return out


def bootstrap_means(customers: pd.DataFrame, group_col: str, features: Iterable[str], n_boot: int = 1000,
                    seed: int = 0, level: float = 0.95, *, max_draws: int = BOOTSTRAP_DRAWS) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals for each segment's mean of each feature.

    One row per (segment, feature), segments sorted, features in the given order: segment, feature,
    mean (of the segment's customers with a value, in the feature's unit), ci_low, ci_high (the
    (1 - level)/2 and (1 + level)/2 quantiles of n_boot bootstrap means), n (customers with a value).

    Seeded: the same input and seed give the same intervals. A segment of n <= max_draws customers
    is resampled exactly (n draws with replacement per replicate). A larger segment draws max_draws
    customers per replicate and shrinks each replicate's deviation from the mean by
    sqrt(max_draws / n), which gives the spread of the full-size bootstrap at a fixed cost per
    segment; the shape of the interval is that of a max_draws-customer mean, already close to
    normal. Features without missing values in a segment share the same resamples.
    """
    features = list(features)
    codes, names = _codes(customers, group_col)
    matrix = np.column_stack([_values(customers, f) for f in features]) if features else np.empty((len(codes), 0))
    rng = np.random.default_rng(seed)
    quantiles = [(1 - level) / 2, (1 + level) / 2]
    rows = []
    for g, block in _split(codes, matrix):
        block = np.ascontiguousarray(block.T)            # (features, customers of the segment)
        missing = np.isnan(block).any(axis=1)
        boots = np.full((len(features), n_boot), np.nan)
        complete = np.flatnonzero(~missing)
        if len(complete):
            boots[complete] = _boot_means(block[complete], n_boot, max_draws, rng)
        for f in np.flatnonzero(missing):
            v = block[f][~np.isnan(block[f])]
            if len(v):
                boots[f] = _boot_means(v[None, :], n_boot, max_draws, rng)[0]
        with np.errstate(invalid="ignore"):
            low, high = np.quantile(boots, quantiles, axis=1)
        for f, feature in enumerate(features):
            v = block[f][~np.isnan(block[f])]
            rows.append({"segment": names[g], "feature": feature, "mean": float(v.mean()) if len(v) else np.nan,
                         "ci_low": float(low[f]), "ci_high": float(high[f]), "n": len(v)})
    return pd.DataFrame(rows, columns=["segment", "feature", "mean", "ci_low", "ci_high", "n"])


def distribution_summary(customers: pd.DataFrame, group_col: str, features: Iterable[str]) -> pd.DataFrame:
    """What a box plot needs, per segment and feature, so the page need not embed every customer.

    One row per (segment, feature) with at least one value, segments sorted, features in the given
    order: segment, feature, n, min, q1, median, q3, max, lower_fence, upper_fence, mean (all in the
    feature's unit). Quartiles interpolate linearly between order statistics (numpy's and pandas'
    default). The fences are Tukey's whisker ends: the smallest value >= q1 - 1.5 IQR and the
    largest value <= q3 + 1.5 IQR, so they are always values of the data.
    """
    codes, names = _codes(customers, group_col)
    rows = []
    for feature in features:
        for g, v in _split(codes, _values(customers, feature)):
            if not len(v):
                continue
            v = np.sort(v)
            q1, median, q3 = np.quantile(v, [0.25, 0.5, 0.75])
            iqr = q3 - q1
            rows.append({"segment": names[g], "feature": feature, "n": len(v), "min": v[0], "q1": q1,
                         "median": median, "q3": q3, "max": v[-1],
                         "lower_fence": v[np.searchsorted(v, q1 - 1.5 * iqr, side="left")],
                         "upper_fence": v[np.searchsorted(v, q3 + 1.5 * iqr, side="right") - 1],
                         "mean": v.mean()})
    out = pd.DataFrame(rows, columns=["segment", "feature", "n", "min", "q1", "median", "q3", "max",
                                      "lower_fence", "upper_fence", "mean"])
    return out.sort_values(["segment"], kind="stable").reset_index(drop=True)


class Concentration(NamedTuple):
    """How concentrated revenue is: see concentration()."""

    pareto: pd.DataFrame
    lorenz: pd.DataFrame
    gini: float


def concentration(monetary: pd.Series) -> Concentration:
    """Pareto table, Lorenz curve and Gini coefficient of revenue per customer.

    monetary: one non-negative amount per customer (missing values are left out; a negative amount
    raises ValueError). Returns (pareto, lorenz, gini), unpackable as a tuple:
    - pareto: top_share (0.01, 0.05, 0.10, 0.20, 0.50 of customers, the biggest spenders first),
      revenue_share (their share of revenue, 0..1), read off the Lorenz curve by linear
      interpolation, so a fraction of a customer counts for that fraction of their revenue.
    - lorenz: customer_share, revenue_share (both 0..1): the share of revenue of the lowest-spending
      customer_share of customers; at most LORENZ_POINTS points, all on the exact curve, including
      (0, 0) and (1, 1).
    - gini: 1 - 2 x (area under the exact, piecewise-linear Lorenz curve of all customers), the
      n-sample convention: 0 when everyone spends the same, (n - 1)/n when one customer has it all
      (0.75 for [0, 0, 0, 10]). Multiply by n / (n - 1) for the small-sample-corrected variant.
    With no revenue at all the shares and gini are NaN and the curve is the diagonal.
    """
    x = monetary.to_numpy(dtype="float64", na_value=np.nan)
    x = np.sort(x[~np.isnan(x)])
    if len(x) and x[0] < 0:
        raise ValueError(f"concentration needs non-negative revenue per customer; {int((x < 0).sum()):,} "
                         f"customers have a negative amount (e.g. {x[0]:,.2f})")
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        pareto = pd.DataFrame({"top_share": PARETO_SHARES, "revenue_share": np.nan})
        return Concentration(pareto, pd.DataFrame({"customer_share": [0.0, 1.0], "revenue_share": [0.0, 1.0]}),
                             float("nan"))
    cum = np.concatenate([[0.0], np.cumsum(x)]) / total
    cum[-1] = 1.0                                    # exact end point despite rounding in the sum
    share = np.arange(n + 1) / n
    gini = 1.0 - float((cum[:-1] + cum[1:]).sum()) / n   # trapezoids of width 1/n: area = sum / (2n)
    top = np.array(PARETO_SHARES)
    pareto = pd.DataFrame({"top_share": top, "revenue_share": 1.0 - np.interp(1.0 - top, share, cum)})
    picks = np.unique(np.round(np.linspace(0, n, min(n + 1, LORENZ_POINTS))).astype(np.int64))
    lorenz = pd.DataFrame({"customer_share": share[picks], "revenue_share": cum[picks]})
    return Concentration(pareto, lorenz, gini)


# --- helpers -------------------------------------------------------------------------------------

def _codes(customers: pd.DataFrame, group_col: str) -> tuple[np.ndarray, list]:
    """Segment codes 0..k-1 in sorted order of the names (-1 for a missing segment), and the names."""
    codes, uniques = pd.factorize(customers[group_col], sort=True)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques).tolist()


def _values(customers: pd.DataFrame, feature: str) -> np.ndarray:
    return customers[feature].to_numpy(dtype="float64", na_value=np.nan)


def _split(codes: np.ndarray, values: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(segment code, its rows of values) per segment, dropping missing segments; a 1-D `values`
    also loses its NaNs, a 2-D one keeps them (callers handle missing values per column)."""
    keep = codes >= 0
    if values.ndim == 1:
        keep &= ~np.isnan(values)
    c, v = codes[keep], values[keep]
    order = np.argsort(c, kind="stable")
    c, v = c[order], v[order]
    present = np.unique(c)
    bounds = np.searchsorted(c, present, side="left").tolist() + [len(c)]
    return [(int(g), v[bounds[i]:bounds[i + 1]]) for i, g in enumerate(present)]


def _kruskal_h(x: np.ndarray, c: np.ndarray, k: int) -> float:
    """Tie-corrected Kruskal-Wallis H of values x in groups c (0..k-1, every group non-empty)."""
    n = len(x)
    xs_order = np.argsort(x, kind="stable")
    xs = x[xs_order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ties = np.diff(np.r_[starts, n]).astype("float64")
    ranks = np.repeat(starts + (ties + 1) / 2, ties.astype(np.int64))   # average 1-based rank per tie run
    size = np.bincount(c, minlength=k)
    mean_rank = np.bincount(c[xs_order], weights=ranks, minlength=k) / size
    # the deviation form avoids cancellation between two terms of order n at a million customers
    h = 12.0 / (n * (n + 1.0)) * float(np.sum(size * (mean_rank - (n + 1) / 2) ** 2))
    correction = 1.0 - float(np.sum(ties ** 3 - ties)) / (float(n) ** 3 - n)
    return h / correction if correction > 0 else float("nan")


def _boot_means(values: np.ndarray, n_boot: int, max_draws: int, rng: np.random.Generator) -> np.ndarray:
    """(features, n_boot) bootstrap means of the rows of `values` (features, n), sharing resamples."""
    n = values.shape[1]
    m = min(n, max_draws)
    out = np.empty((values.shape[0], n_boot))
    step = max(1, CHUNK_DRAWS // m)
    for start in range(0, n_boot, step):
        idx = rng.integers(0, n, size=(min(step, n_boot - start), m))
        for f in range(values.shape[0]):
            out[f, start:start + len(idx)] = np.take(values[f], idx).sum(axis=1) / m
    if m < n:   # rescale an m-draw bootstrap to the spread of an n-draw one
        centre = values.mean(axis=1, keepdims=True)
        out = centre + (out - centre) * np.sqrt(m / n)
    return out


# the measures whose distribution and mean are summarised per segment (the report labels them)
KEY_FEATURES = ("recency_days", "frequency_orders", "monetary", "avg_order_value")
KINDS = (("rfm", "rfm_segment"), ("cluster", "cluster_name"))


def by_kind(fn, customers: pd.DataFrame, *args, **kwargs) -> pd.DataFrame:
    """Run a per-segment statistic for both kinds of segment, stacked with a `kind` column."""
    parts = [fn(customers, col, *args, **kwargs).assign(kind=kind) for kind, col in KINDS]
    out = pd.concat(parts, ignore_index=True)
    return out[["kind", *[c for c in out.columns if c != "kind"]]]


def statistics(customers: pd.DataFrame, seed: int) -> tuple[dict, dict]:
    """Box-plot summaries, bootstrap CIs of means, the largest pairwise differences in revenue
    between clusters, and revenue concentration (Pareto, Lorenz, Gini). (Whether segments differ
    in what defines them is not tested: they do by construction. See validation_tables.)"""
    conc = concentration(customers["monetary"])
    pairwise = pairwise_differences(customers, "cluster_name", "monetary", max_pairs=15, seed=seed,
                                          min_group=MIN_SUPPORT)
    tables = {
        "segment_distributions": by_kind(distribution_summary, customers, list(KEY_FEATURES)),
        "segment_means": by_kind(bootstrap_means, customers, list(KEY_FEATURES), seed=seed),
        "pairwise_revenue": pairwise,
        "pareto": conc.pareto,
        "lorenz": conc.lorenz,
    }
    return tables, {"gini": float(conc.gini)}


@dataclass(frozen=True)
class StatsFigures:
    gini: float   # of net revenue over customers (0 = all spend the same)


def _result(inputs, queried) -> StudyResult:
    tables, figures = statistics(inputs.customers, inputs.config.seed)
    return StudyResult(tables, StatsFigures(**figures))


STUDY = Study("statistics", _result)
