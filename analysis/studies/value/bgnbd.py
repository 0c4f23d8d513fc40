"""BG/NBD purchase model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after
each purchase they drop out with probability p ~ Beta(a, b). A customer is summarised as
(x, t_x, T): x repeat purchases, the last at t_x, observed for T since their first purchase,
all in one time unit (days in the product, weeks in the published CDNOW example). alpha is
in that unit; r, a and b have no unit.

Formulas are written from the paper: likelihood (its eq. 6), P(X(t) = x) (eq. 8), P(alive)
and the conditional expectation (eq. 10), the latter with Euler's transformation of 2F1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import betaln, expit, gammaln, hyp2f1, psi, xlog1py
from scipy.stats import nbinom

from analysis.studies.value.mle import Uncertain, log_std_errors, maximise, report_problems

UNIT_DAYS = {"days": 1.0, "weeks": 7.0}   # length of a time unit in days
NAMES = ("r", "alpha", "a", "b")


class PurchaseModel(Uncertain):
    """What the purchase models' fits share: their time unit (checked when built) and its length in
    days, besides Uncertain's standard errors and intervals."""

    time_unit: str

    def __post_init__(self):
        if self.time_unit not in UNIT_DAYS:
            raise ValueError(f"time_unit must be one of {sorted(UNIT_DAYS)}, not {self.time_unit!r}")

    @property
    def days_per_unit(self) -> float:
        return UNIT_DAYS[self.time_unit]


@dataclass(frozen=True)
class BgNbdFit(PurchaseModel):
    """Parameters (alpha per `time_unit`), total log-likelihood and fit diagnostics.

    Build one by hand with the four parameters and a time unit to use published values."""

    names = NAMES
    model = "BG/NBD"

    r: float
    alpha: float
    a: float
    b: float
    time_unit: str
    log_likelihood: float = math.nan
    n_customers: int = 0
    converged: bool = True
    starts_agreeing: int = 0
    warnings: tuple[str, ...] = ()
    log_std_errors: tuple[float, ...] = ()   # of log(r, alpha, a, b): see mle.log_std_errors
    at_bound: tuple[str, ...] = ()

    def p_alive(self, x, t_x, T) -> np.ndarray:
        return p_alive(self, x, t_x, T)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        return expected_purchases(self, t, x, t_x, T)


def check_summary(x, t_x, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) as float arrays; ValueError naming the first customer that breaks
    x >= 0 whole, 0 <= t_x <= T, t_x = 0 when x = 0."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    rules = [(~np.isfinite(x) | ~np.isfinite(t_x) | ~np.isfinite(T), "values must be finite"),
             ((x < 0) | (x != np.round(x)), "frequency must be a whole number >= 0"),
             ((t_x < 0) | (t_x > T), "recency must lie between 0 and T"),
             ((x == 0) & (t_x != 0), "recency must be 0 for customers without repeat purchases")]
    for bad, rule in rules:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{rule}: {int(bad.sum())} customer(s), e.g. position {i} with "
                             f"frequency={x[i]}, recency={t_x[i]}, T={T[i]}")
    return x, t_x, T


def log_likelihood(fit: BgNbdFit, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood ln L(r, alpha, a, b | x, t_x, T) (FHL 2005 eq. 6)."""
    x, t_x, T = check_summary(x, t_x, T)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    first = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
             + betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T))
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.where(x > 0, np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)),
                           -np.inf)
    return first + np.logaddexp(0.0, dropped)


def _objective(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray):
    """Negative mean log-likelihood and its gradient in log-parameters, over customers (x, t_x, T)
    each standing for `weight` customers. Terms that depend on x alone are computed once per
    distinct x and weighted by its count."""
    xu, inv = np.unique(x, return_inverse=True)
    counts = np.bincount(inv, weights=weight)
    n, rep = float(weight.sum()), xu > 0

    def f(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = np.exp(log_theta)
        bx1 = np.where(rep, b + xu - 1, 1.0)
        l4 = np.where(rep, np.log(a) - np.log(bx1), -np.inf)[inv]
        log_T, log_t = np.log(alpha + T), np.log(alpha + t_x)
        rx = r + x
        A3, A4 = -rx * log_T, l4 - rx * log_t
        m = np.logaddexp(A3, A4)
        w = np.exp(A4 - m)                        # weight of the "dropped out after t_x" branch
        ll = (counts @ (gammaln(r + xu) + gammaln(b + xu) - gammaln(a + b + xu))
              + n * (-gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)) + weight @ m)
        g_r = counts @ psi(r + xu) - n * psi(r) + n * np.log(alpha) - weight @ ((1 - w) * log_T + w * log_t)
        g_alpha = n * r / alpha - weight @ (rx * ((1 - w) / (alpha + T) + w / (alpha + t_x)))
        g_a = n * psi(a + b) - counts @ psi(a + b + xu) + (weight @ w) / a
        g_b = (n * (psi(a + b) - psi(b)) + counts @ (psi(b + xu) - psi(a + b + xu))
               - weight @ (w * np.where(rep, 1 / bx1, 0.0)[inv]))
        grad = np.array([g_r, g_alpha, g_a, g_b]) * np.array([r, alpha, a, b])
        return -ll / n, -grad / n

    return f


def distinct(*columns: np.ndarray, inverse: bool = False):
    """The distinct rows of equal-length float columns in ascending order (as np.unique(axis=0)
    gives them), as one array per column, and how many customers each stands for (and with
    `inverse`, each customer's row among them).

    Each column's values are ranked by hashing (pandas.factorize), and the ranks combined into one
    whole-number key per row whose order is the rows' order: ten times faster than sorting the
    rows at a million customers, where the value models call this dozens of times."""
    columns = [np.atleast_1d(np.asarray(c, dtype=float)) for c in columns]
    key, values = None, []
    for c in columns:
        codes, uniques = pd.factorize(c, sort=True, use_na_sentinel=False)
        values.append(np.asarray(uniques, dtype=float))
        key = codes.astype(np.int64) if key is None else key * len(uniques) + codes
    if math.prod(len(v) for v in values) >= 2 ** 62 or not all(np.isfinite(v).all() for v in values):
        rows, inv, counts = np.unique(np.column_stack(columns), axis=0, return_inverse=True, return_counts=True)
        out = tuple(np.ascontiguousarray(rows[:, j]) for j in range(rows.shape[1])), counts.astype(float)
        return (*out, inv.ravel()) if inverse else out
    inv, keys = pd.factorize(key, sort=True)
    counts = np.bincount(inv, minlength=len(keys)).astype(float)
    out = []
    for v in reversed(values):  # the key's digits, last column first
        out.append(np.ascontiguousarray(v[keys % len(v)]))
        keys = keys // len(v)
    out = tuple(reversed(out)), counts
    return (*out, inv.astype(np.intp)) if inverse else out


def fit_bgnbd(frequency, recency, T, time_unit: str, near: BgNbdFit | None = None) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit on per-customer (frequency, recency, T) in `time_unit`.

    Time is rescaled by mean(T) while fitting (alpha scales with time; r, a, b do not) and
    three starting points are tried. Issues a ConvergenceWarning when no start converges or
    a parameter ends on its bound; the messages are kept in `warnings`."""
    x, t_x, T = check_summary(frequency, recency, T)
    if len(x) < 2 or not (x > 0).any():
        raise ValueError(f"BG/NBD needs at least 2 customers and one repeat purchase; got {len(x)} "
                         f"customers, {int((x > 0).sum())} with repeat purchases")
    scale = float(T.mean()) if T.mean() > 0 else 1.0
    rate = max(float(x.mean()), 1e-2)           # purchases per scaled time unit, for alpha's start
    starts = [(1.0, 1.0 / rate, 1.0, 1.0), (0.5, 0.5 / rate, 0.5, 3.0), (2.0, 2.0 / rate, 2.0, 10.0)]
    if near is not None:  # a fit of most of the same data: start there, and from the first default point
        starts = [(near.r, near.alpha / scale, near.a, near.b), starts[0]]
    # Customers with the same (x, t_x, T) have the same likelihood: each distinct triple is worked
    # out once and weighted (in whole days, 118k customers hold 47k triples; more share at scale).
    (ux, ut, uT), weight = distinct(x, t_x, T)
    opt = maximise(_objective(ux, ut / scale, uT / scale, weight), starts, NAMES)
    r, alpha, a, b = opt.params
    fit = BgNbdFit(r, alpha * scale, a, b, time_unit)
    ll = float(weight @ log_likelihood(fit, ux, ut, uT))
    return BgNbdFit(float(r), float(alpha * scale), float(a), float(b), time_unit, ll, len(x), opt.converged,
                    opt.starts_agreeing, report_problems("BG/NBD", opt), log_std_errors(opt, float(weight.sum())),
                    opt.at_bound)


def p_alive(fit: BgNbdFit, x, t_x, T) -> np.ndarray:
    """P(still alive at T | x, t_x, T); exactly 1 when x = 0 (in this model a customer can only
    drop out right after a purchase, so one without repeat purchases has not dropped out)."""
    x, t_x, T = check_summary(x, t_x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = (np.log(fit.a) - np.log(fit.b + x - 1)
                + (fit.r + x) * (np.log(fit.alpha + T) - np.log(fit.alpha + t_x)))
    return np.where(x > 0, expit(-odds), 1.0)


def expected_purchases(fit: BgNbdFit, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T] (FHL 2005 eq. 10), t in the fit's time unit.

    2F1(r+x, b+x; a+b+x-1; z) is rewritten with Euler's transformation as
    (1-z)^(a-1-r-x) 2F1(a+b-1-r, a-1; a+b+x-1; z), which stays small for large x."""
    x, t_x, T = check_summary(x, t_x, T)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    bracket = 1.0 - ((alpha + T) / (alpha + T + t)) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * bracket * p_alive(fit, x, t_x, T)


def purchase_count_probability(fit: BgNbdFit, t: float, x) -> np.ndarray:
    """P(X(t) = x) for a customer drawn at random, over a period of length t from their first
    purchase (FHL 2005 eq. 8); the sum over x = 0, 1, ... is 1."""
    x = np.asarray(x, dtype=float)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    p0 = alpha / (alpha + t)
    nbd = np.exp(gammaln(r + x) - gammaln(r) - gammaln(x + 1) + r * np.log(p0) + xlog1py(x, -p0))
    alive = np.exp(betaln(a, b + x) - betaln(a, b)) * nbd
    with np.errstate(divide="ignore", invalid="ignore"):
        dropped = np.exp(betaln(a + 1, b + x - 1) - betaln(a, b)) * nbinom.sf(x - 1, r, p0)
    return alive + np.where(x > 0, dropped, 0.0)
