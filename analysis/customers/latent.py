"""Latent classes whose every measure has one peak: the model behind the behaviour clusters.

Each measure is cut into BINS equal-width bins (between its 0.5% and 99.5% quantiles; values beyond
go to the end bins; missing values are left out of the likelihood). A class is a share of customers
and, per measure, a histogram over the bins; measures are independent within a class (a latent
class model). Each class histogram must be unimodal: it rises to one bin and falls after it. So a
class cannot hold customers at two ends of a measure (last order a month and a year ago: two kinds
of customer) but can hold a flat spread (one-time buyers over two years of recency: one kind). Fitted by EM;
the unimodal histogram that best fits the weighted counts is found exactly (below).

Some measures are counts rather than one value: a customer's orders on weekdays and at weekends,
or in each quarter of the year. Such a measure has a few categories and a free histogram (a
multinomial per class), and each customer brings their (scaled) counts instead of one bin, so a
customer of two orders weighs less than one of ten (see Evidence).

Classes for k = 1, 2, ... are fitted in turn; each k starts from a random split plus every split
of one class of the k - 1 solution in two, and keeps the best likelihood. All arithmetic is numpy
over customers and histograms; Python loops run over k, starts, EM iterations and bin positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BINS = 8
SMOOTHING = 0.5      # pseudo-count per bin and class (keeps every bin possible)
MAX_ITER = 100
SHORT_RUN = 10       # iterations each start gets before the best one is run to convergence
TOL = 1e-5           # relative change of the log-likelihood that ends EM
EDGE_QUANTILES = (0.005, 0.995)


def bin_edges(x: np.ndarray) -> np.ndarray:
    """(measures, 2): the low and high end of each measure's bins (quantiles of its values)."""
    edges = np.zeros((x.shape[1], 2))
    for j in range(x.shape[1]):
        v = x[:, j][np.isfinite(x[:, j])]
        if len(v):
            lo, hi = np.quantile(v, EDGE_QUANTILES)
            edges[j] = (lo, hi) if hi > lo else (v.min(), v.max())
    return edges


def codes(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each value's bin, 0..BINS-1, or -1 when missing. A constant measure is all bin 0."""
    out = np.full(x.shape, -1, dtype=np.int64)
    for j, (lo, hi) in enumerate(edges):
        ok = np.isfinite(x[:, j])
        span = hi - lo
        out[ok, j] = np.clip(((x[ok, j] - lo) / span * BINS).astype(np.int64), 0, BINS - 1) if span > 0 else 0
    return out


def _increasing_fits(y: np.ndarray) -> np.ndarray:
    """F[h, m, i]: the least-squares increasing fit of y[h, :m+1] at i <= m (NaN beyond m), by the
    max-min formula: max over j <= i of min over i <= k <= m of mean(y[h, j..k])."""
    h, b = y.shape
    cs = np.concatenate([np.zeros((h, 1)), np.cumsum(y, axis=1)], axis=1)
    j, k = np.arange(b)[:, None], np.arange(b)[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(k >= j, (cs[:, None, 1:] - cs[:, :b, None]) / (k - j + 1), np.inf)  # [h, j, k]
    fits = np.full((h, b, b), np.nan)
    diagonal = np.arange(b)
    for m in range(b):
        upto = means[:, : m + 1, : m + 1]
        low = np.minimum.accumulate(upto[:, :, ::-1], axis=2)[:, :, ::-1]   # [h, j, i]: min over i <= k <= m
        high = np.maximum.accumulate(low, axis=1)                           # [h, j, i]: max over j' <= j
        fits[:, m, : m + 1] = high[:, diagonal[: m + 1], diagonal[: m + 1]]
    return fits


def unimodal(counts: np.ndarray) -> np.ndarray:
    """(histograms, bins) positive counts -> the maximum-likelihood unimodal probabilities of each:
    for every split point, increasing up to it and decreasing after (isotonic fits of the counts,
    which are the multinomial maximum-likelihood fits under order), keeping the best split."""
    h, b = counts.shape
    rising = _increasing_fits(counts)
    falling = _increasing_fits(counts[:, ::-1])          # of the reversed counts
    best_ll = np.full(h, -np.inf)
    best = np.zeros_like(counts)
    for m in range(b):
        right = falling[:, b - m - 2, : b - m - 1][:, ::-1] if m < b - 1 else np.empty((h, 0))
        fit = np.concatenate([rising[:, m, : m + 1], right], axis=1)
        ll = (counts * np.log(fit / fit.sum(axis=1, keepdims=True))).sum(axis=1)
        better = ll > best_ll
        best_ll[better], best[better] = ll[better], fit[better]
    return best / best.sum(axis=1, keepdims=True)


CHUNK = 100_000     # customers assigned at a time (their one-hot bins are held in memory)
NEVER = -700.0      # log probability of a category a count measure does not have (0 x NEVER = 0)


def onehot(c: np.ndarray) -> np.ndarray:
    """(customers, measures x BINS): 1 at each measure's bin, all 0 for a missing value."""
    n, p = c.shape
    out = np.zeros((n, p * BINS))
    rows, cols = np.nonzero(c >= 0)
    out[rows, cols * BINS + c[rows, cols]] = 1.0
    return out


@dataclass(frozen=True)
class Evidence:
    """What the model sees of each customer: `codes` (customers, binned measures), each value's bin
    or -1 when missing; `counts` (customers, sum of `widths`), the count measures' categories side
    by side (weekday and weekend orders, then orders per quarter...), already scaled."""

    codes: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    widths: tuple[int, ...] = ()

    def __post_init__(self):
        if self.counts.shape[0] != len(self.codes):
            object.__setattr__(self, "counts", np.zeros((len(self.codes), 0)))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def binned(self) -> int:
        return self.codes.shape[1]

    @property
    def measures(self) -> int:
        return self.binned + len(self.widths)

    @property
    def categories(self) -> np.ndarray:
        """Categories of each measure: BINS for a binned one, its width for a count measure."""
        return np.array([BINS] * self.binned + list(self.widths))

    def count_block(self, j: int) -> np.ndarray:
        """Count measure j's categories, per customer."""
        at = sum(self.widths[:j])
        return self.counts[:, at: at + self.widths[j]]

    def take(self, rows: np.ndarray) -> Evidence:
        return Evidence(self.codes[rows], self.counts[rows], self.widths)

    def dense(self, rows: slice = slice(None)) -> np.ndarray:
        """(customers, measures x BINS): one-hot bins, then each count measure's counts in the first
        `width` places of its BINS."""
        c = self.codes[rows]
        if not self.widths:
            return onehot(c)
        out = np.zeros((len(c), self.measures * BINS))
        out[:, : self.binned * BINS] = onehot(c)
        start = self.binned * BINS
        for j, width in enumerate(self.widths):
            out[:, start + j * BINS: start + j * BINS + width] = self.count_block(j)[rows]
        return out


def _log_normalise(joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(per-row log of the summed exponentials, the rows' probabilities)."""
    top = joint.max(axis=1, keepdims=True)
    e = np.exp(joint - top)
    total = e.sum(axis=1, keepdims=True)
    return (top + np.log(total))[:, 0], e / total


@dataclass
class Classes:
    """A fitted model: log class shares (k,), log histograms (measures, k, BINS), and each
    measure's weight in the likelihood (so a behaviour described by two measures counts once)."""

    log_share: np.ndarray
    log_hist: np.ndarray
    log_likelihood: float
    weights: np.ndarray

    @property
    def k(self) -> int:
        return len(self.log_share)

    def _matrix(self) -> np.ndarray:
        """(measures x BINS, k): weighted log histograms, stacked to meet onehot rows."""
        return (self.log_hist * self.weights[:, None, None]).transpose(0, 2, 1).reshape(-1, self.k)

    def joint_onehot(self, o: np.ndarray) -> np.ndarray:
        return self.log_share + o @ self._matrix()

    def joint(self, e: Evidence) -> np.ndarray:
        """(customers, k): log share + weighted log-likelihood of each customer's evidence per class."""
        return np.vstack([self.joint_onehot(e.dense(slice(i, i + CHUNK))) for i in range(0, len(e), CHUNK)]
                         or [np.empty((0, self.k))])

    def proba(self, e: Evidence) -> np.ndarray:
        return _log_normalise(self.joint(e))[1]

    def predict(self, e: Evidence) -> np.ndarray:
        return self.joint(e).argmax(axis=1)

    def bic(self, n: int) -> float:
        """BIC with free parameters: k - 1 shares and, per class and measure, categories - 1."""
        categories = (self.log_hist[:, 0, :] > NEVER).sum(axis=1)
        params = (self.k - 1) + self.k * float((self.weights * (categories - 1)).sum())
        return -2 * self.log_likelihood + params * np.log(n)


def _m_step(resp: np.ndarray, o: np.ndarray, widths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    sizes = resp.sum(axis=0) + 1e-10
    k = resp.shape[1]
    p = o.shape[1] // BINS
    b = p - len(widths)
    counts = (o.T @ resp).reshape(p, BINS, k).transpose(0, 2, 1)  # every measure at once
    hists = np.empty((p, k, BINS))
    hists[:b] = np.log(unimodal(counts[:b].reshape(b * k, BINS) + SMOOTHING)).reshape(b, k, BINS)
    for j, width in enumerate(widths, start=b):  # count measures: free histograms over their categories
        free = counts[j, :, :width] + SMOOTHING
        hists[j] = NEVER
        hists[j, :, :width] = np.log(free / free.sum(axis=1, keepdims=True))
    return np.log(sizes / sizes.sum()), hists


def _em(o: np.ndarray, widths: tuple[int, ...], resp: np.ndarray, weights: np.ndarray,
        max_iter: int = MAX_ITER) -> tuple[Classes, np.ndarray]:
    """EM from the responsibilities `resp`: the model and its final responsibilities."""
    previous = -np.inf
    for _ in range(max_iter):
        log_share, hists = _m_step(resp, o, widths)
        model = Classes(log_share, hists, 0.0, weights)
        per_customer, resp = _log_normalise(model.joint_onehot(o))
        total = float(per_customer.sum())
        if total - previous < TOL * abs(total):
            break
        previous = total
    return Classes(log_share, hists, total, weights), resp


def _split(resp: np.ndarray, s: int, c: np.ndarray, o: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    """Responsibilities for k classes from k - 1: class s split in two where its single peak fits
    worst. On the binned measure whose histogram in class s loses most likelihood to the single-peak
    constraint, the bins are cut where the two sides' own single-peaked fits are most likely; the
    class's customers above the cut move to the new class (those missing that measure, at random)."""
    n, k = resp.shape
    p = c.shape[1]
    counts = (o[:, : p * BINS].T @ resp[:, s]).reshape(p, BINS) + SMOOTHING
    total = counts.sum(axis=1, keepdims=True)
    free = (counts * np.log(counts / total)).sum(axis=1)
    peaked = (counts * np.log(unimodal(counts))).sum(axis=1)
    j = int(np.argmax(free - peaked))
    out = np.column_stack([resp, np.zeros(n)])
    if free[j] - peaked[j] <= 1e-9:  # every measure already has one peak: split at random
        upper = rng.random(n) < 0.5
    else:
        def peak_ll(part):
            return float((part * np.log(unimodal(part[None, :])[0] * part.sum())).sum())
        cut = max(range(1, BINS), key=lambda t: peak_ll(counts[j, :t]) + peak_ll(counts[j, t:]))
        upper = np.where(c[:, j] >= 0, c[:, j] >= cut, rng.random(n) < 0.5)
    out[upper, k] = resp[upper, s]
    out[upper, s] = 0.0
    return out


def _count_split(resp: np.ndarray, e: Evidence) -> np.ndarray | None:
    """Responsibilities for k classes from k - 1: one class split in two by a count measure, at the
    median of its customers' share of one category (say, of their orders at weekends), choosing the
    class, measure and category whose two sides' own histograms gain most likelihood. None without
    counts."""
    best, best_gain = None, 0.0
    for j, width in enumerate(e.widths):
        counts = e.count_block(j)
        total = counts.sum(axis=1)
        seen = np.flatnonzero(total > 0)
        if len(seen) < 2:
            continue
        counts, shares = counts[seen], counts[seen] / total[seen, None]
        for s in range(resp.shape[1]):
            r = resp[seen, s]
            whole = counts.T @ r + SMOOTHING
            base = float((whole * np.log(whole / whole.sum())).sum())
            for cat in range(width):
                order = np.argsort(shares[:, cat], kind="stable")
                weight = np.cumsum(r[order])
                upper = shares[:, cat] > shares[order[np.searchsorted(weight, weight[-1] / 2)], cat]
                gain = -base
                for side in (upper, ~upper):
                    part, size = counts[side].T @ r[side] + SMOOTHING, r[side].sum()
                    gain += float((part * np.log(part / part.sum())).sum()) + size * np.log(max(size, 1e-300) / weight[-1])
                if gain > best_gain:
                    best_gain, best = gain, (s, seen[upper])
    if best is None:
        return None
    s, moved = best
    out = np.column_stack([resp, np.zeros(len(resp))])
    out[moved, -1] = resp[moved, s]
    out[moved, s] = 0.0
    return out


def fit_range(e: Evidence, k_max: int, seed: int, weights: np.ndarray | None = None) -> list[Classes]:
    """The best model found for each k = 1..k_max on the customers' evidence `e`; `weights`: each
    measure's weight in the likelihood (default 1)."""
    weights = np.ones(e.measures) if weights is None else np.asarray(weights, dtype="float64")
    rng = np.random.default_rng(seed)
    n, c, widths = len(e), e.codes, e.widths
    o = e.dense()
    models: list[Classes] = []
    previous = None
    for k in range(1, k_max + 1):
        starts = [rng.dirichlet(np.ones(k), size=n)]
        if previous is not None:  # split each class of the k - 1 solution in two
            starts += [_split(previous, s, c, o, rng) for s in range(k - 1)]
            if (by_counts := _count_split(previous, e)) is not None:
                starts.append(by_counts)
        # every start runs a few iterations; the most likely one runs on to convergence
        trials = [_em(o, widths, start, weights, SHORT_RUN) for start in starts]
        best, resp = _em(o, widths, max(trials, key=lambda t: t[0].log_likelihood)[1], weights)
        models.append(best)
        previous = resp
    return models
