"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, JMR; Fader & Hardie
2013, "The Gamma-Gamma Model of Monetary Value").

A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across customers,
independent of how often they buy. Fitted on customers with at least one repeat purchase,
from x (repeat purchases) and m_x (their average value). gamma is in money; p and q have no
unit. The population mean spend per transaction is p * gamma / (q - 1), finite when q > 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, psi

from analysis.studies.value.mle import Uncertain, log_std_errors, maximise, report_problems

NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaFit(Uncertain):
    """Parameters (gamma in the data's money), total log-likelihood and fit diagnostics."""

    names = NAMES

    p: float
    q: float
    gamma: float
    log_likelihood: float = math.nan
    n_customers: int = 0
    converged: bool = True
    starts_agreeing: int = 0
    warnings: tuple[str, ...] = ()
    log_std_errors: tuple[float, ...] = ()   # of log(p, q, gamma): see mle.log_std_errors
    at_bound: tuple[str, ...] = ()

    @property
    def mean_spend(self) -> float:
        """E[spend per transaction] of a customer drawn at random (inf when q <= 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf


def fitted_customers(frequency, monetary_value) -> np.ndarray:
    """Boolean mask of the customers the model is fitted on: x >= 1 and m_x > 0."""
    x, m = np.asarray(frequency, dtype=float), np.asarray(monetary_value, dtype=float)
    return (x >= 1) & np.isfinite(m) & (m > 0)


def log_likelihood(fit: GammaGammaFit, x, m) -> np.ndarray:
    """Each customer's ln f(m_x | p, q, gamma, x): the density of the average of x values."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    p, q, g = fit.p, fit.q, fit.gamma
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(g)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(g + m * x))


def _objective(x: np.ndarray, m: np.ndarray):
    """Negative mean log-likelihood and gradient in log-parameters; gamma-function terms are
    computed once per distinct x."""
    xu, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    n = len(x)
    sum_log_m, sum_x_log_xm = np.log(m).sum(), (x * np.log(x * m)).sum()

    def f(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        p, q, g = np.exp(log_theta)
        log_gxm = np.log(g + x * m)
        ll = (counts @ (gammaln(p * xu + q) - gammaln(p * xu)) + n * (q * np.log(g) - gammaln(q))
              + p * sum_x_log_xm - sum_log_m - ((p * x + q) * log_gxm).sum())
        g_p = counts @ (xu * (psi(p * xu + q) - psi(p * xu))) + sum_x_log_xm - (x * log_gxm).sum()
        g_q = counts @ psi(p * xu + q) - n * psi(q) + n * np.log(g) - log_gxm.sum()
        g_g = n * q / g - ((p * x + q) / (g + x * m)).sum()
        grad = np.array([g_p, g_q, g_g]) * np.array([p, q, g])
        return -ll / n, -grad / n

    return f


def fit_gamma_gamma(frequency, monetary_value) -> GammaGammaFit:
    """Maximum-likelihood fit on the customers selected by `fitted_customers`.

    monetary_value is the average value of the repeat purchases (as in the published CDNOW
    fit). Money is rescaled by the mean m_x while fitting; three starting points are tried;
    a ConvergenceWarning is issued when no start converges or a parameter ends on its bound."""
    keep = fitted_customers(frequency, monetary_value)
    x = np.asarray(frequency, dtype=float)[keep]
    m = np.asarray(monetary_value, dtype=float)[keep]
    if len(x) < 2:
        raise ValueError(f"Gamma-Gamma needs at least 2 customers with repeat purchases and positive spend; "
                         f"got {len(x)}")
    scale = float(m.mean())
    starts = [(1.0, 2.0, 1.0), (5.0, 3.0, 0.4), (0.5, 1.5, 0.5)]   # population mean spend ~ 1 (scaled)
    opt = maximise(_objective(x, m / scale), starts, NAMES)
    p, q, g = (float(v) for v in opt.params)
    fit = GammaGammaFit(p, q, g * scale)
    ll = float(log_likelihood(fit, x, m).sum())
    return GammaGammaFit(p, q, g * scale, ll, len(x), opt.converged, opt.starts_agreeing,
                         report_problems("Gamma-Gamma", opt), log_std_errors(opt, float(len(x))), opt.at_bound)


def expected_spend(fit: GammaGammaFit, x, m) -> np.ndarray:
    """E[spend per transaction | x, m_x] = (gamma + x m_x) p / (p x + q - 1): a weighted mean
    of the population mean and the customer's own average. For x = 0, m is ignored and the
    result is the population mean; NaN where p x + q - 1 <= 0 (no finite mean)."""
    x = np.asarray(x, dtype=float)
    m = np.where(x > 0, np.asarray(m, dtype=float), 0.0)
    denom = fit.p * x + fit.q - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, (fit.gamma + x * m) * fit.p / denom, np.nan)
