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

A rate measure is events over an exposure (repeat orders over the years a customer was watched):
a class has a rate and a spread, and a customer's events are negative binomial with mean rate x
their exposure (a gamma spread of rates within the class, its shape from the class's moments). So
two orders over three months and eight over a year are the same habit, and a recent customer's few
orders are judged against the short time they had.

A binned measure read off whole counts (lines per order of a one-order customer: 1, 2, 3...) would
fall in some bins and skip the ones between, which a single-peaked histogram cannot follow; such a
value is spread over the interval its counts allow (Evidence.low and .high, see soft_onehot).

Classes for k = 1, 2, ... are fitted in turn; each k starts from a random split plus every split
of one class of the k - 1 solution in two, and keeps the best likelihood; a second search also
splits classes by their order rate (fit_range). All arithmetic is numpy
over customers and histograms; Python loops run over k, starts, EM iterations and bin positions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
from scipy.special import gammaln

BINS = 8
SMOOTHING = 0.5      # pseudo-count per bin and class (keeps every bin possible)
MAX_ITER = 100
SHORT_RUN = 10       # iterations each start gets before the best one is run to convergence
TOL = 1e-5           # relative change of the log-likelihood that ends EM
EDGE_QUANTILES = (0.005, 0.995)
BIC_PENALTY = 0.4    # times the BIC's parameter count: a single-peaked histogram has fewer free
                     # parameters than its bins - 1. Chosen on the tuning families of bench_recovery
                     # with the entropy term of cluster.icl: 0.3 to 0.45 did as well there, 0.5 did not
RATE_PRIOR = 0.5     # pseudo-events per class at the overall rate (a rate measure)
SHAPE_RANGE = (1.0, 100.0)  # the gamma shape of rates within a class is kept within these


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


def positions(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Values in bin units (0 at the low edge, BINS at the high edge); a constant measure all 0."""
    span = edges[:, 1] - edges[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, (x - edges[:, 0]) / np.where(span > 0, span, 1.0) * BINS, 0.0)


def soft_onehot(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(customers, measures x BINS) from each value's interval [low, high] in bin units: the share
    of the interval in each bin (beyond the ends: the end bins); a point is one bin, as in onehot;
    missing (NaN) all 0."""
    n, p = low.shape
    ok = np.isfinite(low) & np.isfinite(high)
    a = np.clip(np.where(ok, low, 0.0), 0.0, BINS)
    b = np.clip(np.where(ok, high, 0.0), 0.0, BINS)
    start = np.arange(BINS)[None, None, :]
    overlap = np.clip(np.minimum(b[..., None], start + 1) - np.maximum(a[..., None], start), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = overlap / (b - a)[..., None]
    at = np.clip(np.floor(a), 0, BINS - 1).astype(np.int64)
    out = np.where(((b - a) < 1e-9)[..., None], (start == at[..., None]).astype(float), out)
    out[~ok] = 0.0
    return out.reshape(n, p * BINS)


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
    by side (weekday and weekend orders, then orders per quarter...), already scaled. `kinds`, per
    count measure: "counts" (categories, the default) or "rate" (width 2: events, exposure in
    years). `low` and `high` (customers, binned measures), when given: each value's interval in bin
    units (positions), spread over the bins it covers instead of its one bin."""

    codes: np.ndarray
    counts: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    widths: tuple[int, ...] = ()
    kinds: tuple[str, ...] = ()
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    def __post_init__(self):
        if self.counts.shape[0] != len(self.codes):
            object.__setattr__(self, "counts", np.zeros((len(self.codes), 0)))
        if len(self.kinds) != len(self.widths):
            object.__setattr__(self, "kinds", ("counts",) * len(self.widths))

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
        def part(a):
            return None if a is None else a[rows]
        return Evidence(self.codes[rows], self.counts[rows], self.widths, self.kinds, part(self.low), part(self.high))

    def _bins(self, rows: slice) -> np.ndarray:
        if self.low is None or self.high is None:
            return onehot(self.codes[rows])
        return soft_onehot(self.low[rows], self.high[rows])

    def dense(self, rows: slice = slice(None)) -> np.ndarray:
        """(customers, measures x BINS): one-hot (or spread) bins, then each count measure's counts
        in the first `width` places of its BINS."""
        c = self.codes[rows]
        if not self.widths:
            return self._bins(rows)
        out = np.zeros((len(c), self.measures * BINS))
        out[:, : self.binned * BINS] = self._bins(rows)
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
    measure's weight in the likelihood (so a behaviour described by two measures counts once). A
    rate measure (`kinds` of the count measures, last in log_hist) keeps its class's log rate and
    log shape in the first two places, 0 in the third (three places: two parameters)."""

    log_share: np.ndarray
    log_hist: np.ndarray
    log_likelihood: float
    weights: np.ndarray
    kinds: tuple[str, ...] = ()

    def _rates(self) -> list[int]:
        """Indices (into log_hist) of the rate measures."""
        first = self.log_hist.shape[0] - len(self.kinds)
        return [first + i for i, kind in enumerate(self.kinds) if kind == "rate"]

    @property
    def k(self) -> int:
        return len(self.log_share)

    def _matrix(self) -> np.ndarray:
        """(measures x BINS, k): weighted log histograms, stacked to meet onehot rows (rate measures
        are not histograms: they add nothing here)."""
        w = self.weights.copy()
        w[self._rates()] = 0.0
        return (self.log_hist * w[:, None, None]).transpose(0, 2, 1).reshape(-1, self.k)

    def joint_onehot(self, o: np.ndarray) -> np.ndarray:
        out = self.log_share + o @ self._matrix()
        for j in self._rates():
            out += self.weights[j] * negbin_ll(o[:, j * BINS], o[:, j * BINS + 1], np.exp(self.log_hist[j, :, 0]),
                                               np.exp(self.log_hist[j, :, 1]))
        return out

    def joint(self, e: Evidence) -> np.ndarray:
        """(customers, k): log share + weighted log-likelihood of each customer's evidence per class."""
        return np.vstack([self.joint_onehot(e.dense(slice(i, i + CHUNK))) for i in range(0, len(e), CHUNK)]
                         or [np.empty((0, self.k))])

    def proba(self, e: Evidence) -> np.ndarray:
        return _log_normalise(self.joint(e))[1]

    def predict(self, e: Evidence) -> np.ndarray:
        return self.joint(e).argmax(axis=1)

    def bic(self, n: int) -> float:
        """BIC with free parameters: k - 1 shares and, per class and measure, categories - 1 (a rate
        measure: 2), counted at BIC_PENALTY."""
        categories = (self.log_hist[:, 0, :] > NEVER).sum(axis=1)
        params = (self.k - 1) + self.k * float((self.weights * (categories - 1)).sum())
        return -2 * self.log_likelihood + BIC_PENALTY * params * np.log(n)

    def icl(self, e: Evidence) -> float:
        """The criterion k is chosen by: BIC plus twice the entropy of the assignments of the
        customers `e` (ICL, Biernacki, Celeux and Govaert 2000), so that a class that only splits a
        group in two overlapping halves costs what it leaves uncertain."""
        p = self.proba(e)
        return self.bic(len(e)) + 2 * float(-(p * np.log(np.maximum(p, 1e-300))).sum())


def negbin_ll(y: np.ndarray, t: np.ndarray, rate: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """(customers, k): the negative binomial log-likelihood of y events over exposure t, mean
    rate x t and gamma shape `shape` per class, less the terms no class changes (log y!, y log t)."""
    values, at = np.unique(y, return_inverse=True)   # few distinct counts: gammaln once per count and class
    mu, r = t[:, None] * rate[None, :], shape[None, :]
    counts = (gammaln(values[:, None] + r) - gammaln(r) + r * np.log(r))[at]
    y = y[:, None]
    return counts - (r + y) * np.log(r + mu) + y * np.log(rate)[None, :]


def rate_params(y: np.ndarray, t: np.ndarray, resp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log rate, log shape) per class of a rate measure (y events over exposure t) under the
    responsibilities `resp`: events over exposure, pooled, shrunk by RATE_PRIOR towards the overall
    rate; the shape from the variance beyond Poisson (variance = mu + mu^2 / shape), within SHAPE_RANGE."""
    events, exposure = y @ resp, t @ resp
    overall = max(events.sum(), 1e-9) / max(exposure.sum(), 1e-9)
    rate = (events + RATE_PRIOR) / (exposure + RATE_PRIOR / overall)
    mu = t[:, None] * rate[None, :]
    excess = (resp * ((y[:, None] - mu) ** 2 - mu)).sum(axis=0)
    inverse = np.clip(excess / np.maximum((resp * mu ** 2).sum(axis=0), 1e-12), 1 / SHAPE_RANGE[1], 1 / SHAPE_RANGE[0])
    return np.log(rate), -np.log(inverse)


def _m_step(resp: np.ndarray, o: np.ndarray, widths: tuple[int, ...],
            kinds: tuple[str, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    sizes = resp.sum(axis=0) + 1e-10
    k = resp.shape[1]
    p = o.shape[1] // BINS
    b = p - len(widths)
    counts = (o.T @ resp).reshape(p, BINS, k).transpose(0, 2, 1)  # every measure at once
    hists = np.empty((p, k, BINS))
    hists[:b] = np.log(unimodal(counts[:b].reshape(b * k, BINS) + SMOOTHING)).reshape(b, k, BINS)
    for j, (width, kind) in enumerate(zip(widths, kinds or ("counts",) * len(widths)), start=b):
        hists[j] = NEVER
        if kind == "rate":
            hists[j, :, 0], hists[j, :, 1] = rate_params(o[:, j * BINS], o[:, j * BINS + 1], resp)
            hists[j, :, 2] = 0.0
            continue
        free = counts[j, :, :width] + SMOOTHING  # count measures: free histograms over their categories
        hists[j, :, :width] = np.log(free / free.sum(axis=1, keepdims=True))
    return np.log(sizes / sizes.sum()), hists


def _em(o: np.ndarray, widths: tuple[int, ...], resp: np.ndarray, weights: np.ndarray,
        max_iter: int = MAX_ITER, kinds: tuple[str, ...] = ()) -> tuple[Classes, np.ndarray]:
    """EM from the responsibilities `resp`: the model and its final responsibilities."""
    previous = -np.inf
    for _ in range(max_iter):
        log_share, hists = _m_step(resp, o, widths, kinds)
        model = Classes(log_share, hists, 0.0, weights, kinds)
        per_customer, resp = _log_normalise(model.joint_onehot(o))
        total = float(per_customer.sum())
        if total - previous < TOL * abs(total):
            break
        previous = total
    return Classes(log_share, hists, total, weights, kinds), resp


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
    counts. (Rate measures are split by _rate_split.)"""
    best, best_gain = None, 0.0
    for j, width in enumerate(e.widths):
        if e.kinds[j] != "counts":
            continue
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
    return None if best is None else _moved(resp, *best)


def fit_range(e: Evidence, k_max: int, seed: int, weights: np.ndarray | None = None) -> list[Classes]:
    """The best model found for each k = 1..k_max on the customers' evidence `e`; `weights`: each
    measure's weight in the likelihood (default 1).

    Each k starts from several points, each run a few EM iterations, and the most likely runs on
    to convergence: a random start and splits of the k - 1 model's classes (_split, _count_split).
    A second search also splits classes by their order rate (_rate_split) and keeps its own
    solutions; for each k the model with the better (lower) ICL is kept, the criterion k is then
    chosen by. (One search with every split would keep a k - 1 model that a rate split made more
    likely but whose own splits can be worse than the other search's at every larger k.) The two
    searches share their work until a rate split wins, so the second costs little where it finds
    nothing."""
    weights = np.ones(e.measures) if weights is None else np.asarray(weights, dtype="float64")
    n, widths, kinds = len(e), e.widths, e.kinds
    o = e.dense()

    def trial(start):
        return _em(o, widths, start, weights, SHORT_RUN, kinds)

    def converged(t):
        return _em(o, widths, t[1], weights, MAX_ITER, kinds)

    def trials(k, previous, rng):
        starts = [rng.dirichlet(np.ones(k), size=n)]
        if previous is not None:  # split each class of the k - 1 solution in two
            starts += [_split(previous, s, e.codes, o, rng) for s in range(k - 1)]
            if (by_counts := _count_split(previous, e)) is not None:
                starts.append(by_counts)
        return [trial(start) for start in starts]

    def best(ts):
        return max(ts, key=lambda t: t[0].log_likelihood)

    plain, by_rate = [], []            # each search's models
    rng = np.random.default_rng(seed)
    previous = rate_previous = rate_rng = None  # the rate search's own state, once it has left the other
    for k in range(1, k_max + 1):
        ts = trials(k, previous, rng)
        model, resp = converged(best(ts))
        plain.append(model)
        if rate_rng is None:           # still one search: does a rate split start beat the others?
            split = _rate_split(previous, e) if previous is not None else None
            if split is not None and (t := trial(split))[0].log_likelihood > best(ts)[0].log_likelihood:
                rate_rng = copy.deepcopy(rng)
                rate_model, rate_previous = converged(t)
            else:
                rate_model = model
        else:
            split = _rate_split(rate_previous, e)
            rts = trials(k, rate_previous, rate_rng) + ([trial(split)] if split is not None else [])
            rate_model, rate_previous = converged(best(rts))
        by_rate.append(rate_model)
        previous = resp
    return [a if a is b or a.icl(e) <= b.icl(e) else b for a, b in zip(plain, by_rate)]


def _rate_split(resp: np.ndarray, e: Evidence, cuts: int = 9) -> np.ndarray | None:
    """Responsibilities for k classes from k - 1: one class split in two by a rate measure, its
    customers above a cut of their own rates (events over exposure) moved to the new class, choosing
    the class, measure and cut (the class's deciles) whose two sides' own rates and spreads gain most
    likelihood. A small group of frequent buyers inside a large class of occasional ones shows in no
    single-peaked histogram, so neither _split nor _count_split finds it. (At the median rate alone,
    as measured before, the cut rarely separates such a group.) None without rate measures."""
    best, best_gain = None, 0.0
    levels = np.linspace(0, 1, cuts + 2)[1:-1]
    for j, kind in enumerate(e.kinds):
        if kind != "rate":
            continue
        block = e.count_block(j)
        y, t = block[:, 0], block[:, 1]
        own = y / np.maximum(t, 1e-12)
        for s in range(resp.shape[1]):
            rows = np.flatnonzero(resp[:, s] > 1e-3)   # the class's customers, and those it may take
            r, members = resp[rows, s], resp[rows, s] > 0.5
            if members.sum() < 2:
                continue
            edges = np.unique(np.quantile(own[rows][members], levels))
            upper = own[rows][:, None] > edges[None, :]
            sides = np.hstack([r[:, None] * upper, r[:, None] * ~upper])   # every cut's two sides
            size = sides.sum(axis=0)
            size_ll = size * np.log(np.maximum(size, 1e-300) / r.sum())
            side_ll = _rate_ll(y[rows], t[rows], sides) + size_ll
            m = len(edges)
            gain = side_ll[:m] + side_ll[m:] - _rate_ll(y[rows], t[rows], r[:, None])[0]
            gain[(size[:m] < 1) | (size[m:] < 1)] = -np.inf
            if len(gain) and gain.max() > best_gain:
                best_gain, best = float(gain.max()), (s, rows[upper[:, int(np.argmax(gain))]])
    return None if best is None else _moved(resp, *best)


def _moved(resp: np.ndarray, s: int, moved: np.ndarray) -> np.ndarray:
    """Responsibilities for k + 1 classes: class s's customers at `moved` taken into a new last class."""
    out = np.column_stack([resp, np.zeros(len(resp))])
    out[moved, -1] = resp[moved, s]
    out[moved, s] = 0.0
    return out


def _rate_ll(y: np.ndarray, t: np.ndarray, resp: np.ndarray) -> np.ndarray:
    """The rate measure's log-likelihood of each class in `resp`, with its own rate and spread."""
    log_rate, log_shape = rate_params(y, t, resp)
    return (resp * negbin_ll(y, t, np.exp(log_rate), np.exp(log_shape))).sum(axis=0)
