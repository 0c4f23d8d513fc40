"""Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987), the alternative to BG/NBD.

While alive, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha), as in
BG/NBD; unlike BG/NBD, their lifetime is exponential with rate mu ~ Gamma(s, beta), so a customer
can drop out at any time, also before a second purchase. A customer is summarised as (x, t_x, T)
as for BG/NBD, in one time unit; alpha and beta are in that unit, r and s have no unit.

The likelihood is the one derived in Fader & Hardie (2005), "A note on deriving the Pareto/NBD
model and related expressions", written here as
    L = Gamma(r+x) alpha^r beta^s / Gamma(r) x [(alpha+T)^-(r+x) (beta+T)^-s + s (G(t_x) - G(T))],
    G(u) = integral from u to infinity of (alpha+y)^-(r+x) (beta+y)^-(s+1) dy,
the likelihood of dying after T plus that of dying between the last purchase and T. G is a
Gauss hypergeometric function; it is evaluated through Euler's transformation as 2F1(1, b; c; z)
with c - b > 1, a series that converges on all of [0, 1]. P(alive) is the first term's share of
the bracket; the conditional expectation is E[purchases in (T, T+t] | alive] x P(alive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, hyp2f1

from analysis.studies.value.bgnbd import PurchaseModel, check_summary, distinct
from analysis.studies.value.mle import log_std_errors, maximise, report_problems

NAMES = ("r", "alpha", "s", "beta")
GRADIENT_STEP = 1e-6     # central differences on the log scale for the optimiser's gradient
R_LOG_BOUND = 5.0        # r at most e^5 = 148: purchase rates that vary by under a tenth between
                         # customers; beyond it SciPy's 2F1 takes a second per call, often to fail
S_LOG_BOUND = 5.0        # s at most e^5 likewise: drop-out rates that vary by under a tenth. 300,000
                         # generated customers with one drop-out rate peaked at s = 164 in 645 s; with
                         # the bound 132 s, the same rate s / beta and log-likelihood within 1.6


@dataclass(frozen=True)
class ParetoNbdFit(PurchaseModel):
    """Parameters (alpha and beta per `time_unit`), total log-likelihood and fit diagnostics.

    Build one by hand with the four parameters and a time unit to use published values."""

    names = NAMES
    model = "Pareto/NBD"

    r: float
    alpha: float
    s: float
    beta: float
    time_unit: str
    log_likelihood: float = math.nan
    n_customers: int = 0
    converged: bool = True
    starts_agreeing: int = 0
    warnings: tuple[str, ...] = ()
    log_std_errors: tuple[float, ...] = ()   # of log(r, alpha, s, beta): see mle.log_std_errors
    at_bound: tuple[str, ...] = ()

    def p_alive(self, x, t_x, T) -> np.ndarray:
        return p_alive(self, x, t_x, T)

    def expected_purchases(self, t, x, t_x, T) -> np.ndarray:
        return expected_purchases(self, t, x, t_x, T)


EXPAND_ABOUT_ALPHA = 6.0  # with beta > alpha, expand about alpha while r + x is below this (see _log_g)


def _log_g(u: np.ndarray, x: np.ndarray, r: float, alpha: float, s: float, beta: float) -> np.ndarray:
    """log G(u) (module docstring) by Euler's transformation of the 2F1 about alpha,
        G = (alpha+u)^-(r+x) (beta+u)^-s / (r+s+x) x 2F1(1, r+x; r+s+x+1; (alpha-beta)/(alpha+u)),
    or about beta,
        G = (alpha+u)^-(r+x-1) (beta+u)^-(s+1) / (r+s+x) x 2F1(1, s+1; r+s+x+1; (beta-alpha)/(beta+u)).
    Both are exact. About alpha is used when alpha >= beta (argument in [0, 1)) and, with beta > alpha,
    for small r + x: there SciPy's 2F1 about beta is slow (argument near 1, a series barely
    converging), and about alpha (a negative argument) fast and accurate to 1e-8 against mpmath
    (and about beta the other way round for large r + x and s). Where one form is not finite the
    other is tried."""
    rsx = r + s + x

    def about_alpha(u, x):
        return (-(r + x) * np.log(alpha + u) - s * np.log(beta + u) - np.log(r + s + x)
                + np.log(hyp2f1(1.0, r + x, r + s + x + 1.0, (alpha - beta) / (alpha + u))))

    def about_beta(u, x):
        return (-(r + x - 1.0) * np.log(alpha + u) - (s + 1.0) * np.log(beta + u) - np.log(r + s + x)
                + np.log(hyp2f1(1.0, s + 1.0, r + s + x + 1.0, (beta - alpha) / (beta + u))))

    first = (alpha >= beta) | (r + x < EXPAND_ABOUT_ALPHA)
    out = np.empty(np.broadcast(u, x, rsx).shape)
    with np.errstate(all="ignore"):
        out[first] = about_alpha(u[first], x[first])
        out[~first] = about_beta(u[~first], x[~first])
        bad = ~np.isfinite(out)
        if bad.any():
            out[bad] = np.where(first[bad], about_beta(u[bad], x[bad]), about_alpha(u[bad], x[bad]))
    return out


def _distinct_pairs(x: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (x, u) pairs as two columns and each customer's pair: G depends on x and u
    only, and the customers without repeat purchases (t_x = 0) all share one pair."""
    (ux, uu), _, inv = distinct(x, u, inverse=True)
    return ux, uu, inv


def _terms(x, t_x, T, r, alpha, s, beta, pairs=None) -> tuple[np.ndarray, np.ndarray]:
    """log of the bracket's two terms: alive at T, and dropped out between t_x and T. `pairs`:
    (_distinct_pairs(x, t_x), _distinct_pairs(x, T)), when already made."""
    at_last, at_end = pairs if pairs is not None else (_distinct_pairs(x, t_x), _distinct_pairs(x, T))
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    g_t = _log_g(at_last[1], at_last[0], r, alpha, s, beta)[at_last[2]]
    g_T = _log_g(at_end[1], at_end[0], r, alpha, s, beta)[at_end[2]]
    with np.errstate(divide="ignore", invalid="ignore"):
        # log(G(t_x) - G(T)); G falls with u, so the difference is >= 0 (0 when t_x = T)
        dropped = np.where(g_t > g_T, np.log(s) + g_t + np.log1p(-np.exp(np.minimum(g_T - g_t, 0.0))), -np.inf)
    return alive, dropped


def log_likelihood(fit: ParetoNbdFit, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood ln L(r, alpha, s, beta | x, t_x, T)."""
    x, t_x, T = check_summary(x, t_x, T)
    return _log_likelihood(x, t_x, T, fit.r, fit.alpha, fit.s, fit.beta)


def _log_likelihood(x, t_x, T, r, alpha, s, beta, pairs=None) -> np.ndarray:
    alive, dropped = _terms(x, t_x, T, r, alpha, s, beta, pairs)
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(alive, dropped)


def _objective(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weight: np.ndarray):
    """Negative mean log-likelihood over customers (x, t_x, T) each standing for `weight`
    customers, and its gradient in log-parameters by central differences."""
    n = float(weight.sum())
    pairs = (_distinct_pairs(x, t_x), _distinct_pairs(x, T))

    seen: dict[bytes, float] = {}  # the line search retries points

    def value(log_theta: np.ndarray) -> float:
        key = np.asarray(log_theta, dtype=float).tobytes()
        if key not in seen:
            ll = _log_likelihood(x, t_x, T, *np.exp(log_theta), pairs=pairs)
            seen[key] = -float(weight @ ll) / n
        return seen[key]

    def f(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        # Where the likelihood cannot be evaluated, +inf: the optimiser's line search steps back
        # (a NaN kept one start in that corner for minutes: 255 s on 10M generated lines).
        at = value(log_theta)
        grad = np.zeros(len(log_theta))
        if not np.isfinite(at):
            return np.inf, grad
        for j in range(len(log_theta)):
            e = np.zeros(len(log_theta))
            e[j] = GRADIENT_STEP
            up, down = value(log_theta + e), value(log_theta - e)
            if np.isfinite(up) and np.isfinite(down):
                grad[j] = (up - down) / (2 * GRADIENT_STEP)
            elif np.isfinite(up) or np.isfinite(down):  # one side only: a one-sided difference
                grad[j] = (up - at) / GRADIENT_STEP if np.isfinite(up) else (at - down) / GRADIENT_STEP
        return at, grad

    return f


def fit_pareto_nbd(frequency, recency, T, time_unit: str, near: ParetoNbdFit | None = None) -> ParetoNbdFit:
    """Maximum-likelihood Pareto/NBD fit on per-customer (frequency, recency, T) in `time_unit`.

    Time is rescaled by mean(T) while fitting (alpha and beta scale with time; r and s do not)
    and three starting points are tried; problems are reported as for BG/NBD. With `near` (a fit
    of most of the same data in the same unit, such as the holdout's), the search starts there
    and from the first default point only: the likelihood's flat corners make wandering starts slow."""
    x, t_x, T = check_summary(frequency, recency, T)
    if len(x) < 2 or not (x > 0).any():
        raise ValueError(f"Pareto/NBD needs at least 2 customers and one repeat purchase; got {len(x)} "
                         f"customers, {int((x > 0).sum())} with repeat purchases")
    scale = float(T.mean()) if T.mean() > 0 else 1.0
    rate = max(float(x.mean()), 1e-2)
    starts = [(1.0, 1.0 / rate, 1.0, 1.0), (0.5, 0.5 / rate, 0.5, 2.0), (2.0, 2.0 / rate, 2.0, 0.5)]
    if near is not None:
        starts = [(near.r, near.alpha / scale, near.s, near.beta / scale), starts[0]]
    (ux, ut, uT), weight = distinct(x, t_x, T)
    opt = maximise(_objective(ux, ut / scale, uT / scale, weight), starts, NAMES,
                   upper={"r": R_LOG_BOUND, "s": S_LOG_BOUND})
    r, alpha, s, beta = (float(v) for v in opt.params)
    fit = ParetoNbdFit(r, alpha * scale, s, beta * scale, time_unit)
    ll = float(weight @ log_likelihood(fit, ux, ut, uT))
    return ParetoNbdFit(r, alpha * scale, s, beta * scale, time_unit, ll, len(x), opt.converged,
                        opt.starts_agreeing, report_problems("Pareto/NBD", opt),
                        log_std_errors(opt, float(weight.sum())), opt.at_bound)


def p_alive(fit: ParetoNbdFit, x, t_x, T) -> np.ndarray:
    """P(still alive at T | x, t_x, T): below 1 for every customer observed after their last
    purchase, also those without repeat purchases."""
    x, t_x, T = check_summary(x, t_x, T)
    alive, dropped = _terms(x, t_x, T, fit.r, fit.alpha, fit.s, fit.beta)
    return np.exp(alive - np.logaddexp(alive, dropped))


def expected_purchases(fit: ParetoNbdFit, t, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T + t] | x, t_x, T], t in the fit's time unit:
    (r+x)/(alpha+T) x (beta+T)/(s-1) x [1 - ((beta+T)/(beta+T+t))^(s-1)] x P(alive),
    the bracket over (s-1) taken to its limit log((beta+T+t)/(beta+T)) at s = 1."""
    x, t_x, T = check_summary(x, t_x, T)
    r, alpha, s, beta = fit.r, fit.alpha, fit.s, fit.beta
    t = np.asarray(t, dtype=float)
    shrink = np.log(beta + T) - np.log(beta + T + t)          # <= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        life = np.where(abs(s - 1) < 1e-9, -shrink, -np.expm1((s - 1) * shrink) / (s - 1))
    return (r + x) / (alpha + T) * (beta + T) * life * p_alive(fit, x, t_x, T)
