"""Maximum likelihood on log-parameters, shared by the BG/NBD, Pareto/NBD and Gamma-Gamma models.

Every parameter of the models is positive, so the optimiser works on log(parameter) with
box bounds, starts from several points and keeps the best. Problems are reported as a
ConvergenceWarning (and recorded on the result), never silently.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

LOG_BOUND = 9.0          # parameters (on the fitting scale) stay within exp(+-9) = 1.2e-4 .. 8.1e3
AGREE_TOL = 1e-6         # starts whose mean log-likelihood is this close to the best one "agree"

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


class ConvergenceWarning(UserWarning):
    """A model fit did not converge, or a parameter ended on its bound."""


@dataclass(frozen=True)
class Optimum:
    """Best of several local fits: params (natural scale), mean log-likelihood, diagnostics."""

    params: np.ndarray
    mean_log_likelihood: float
    converged: bool
    starts_agreeing: int
    at_bound: tuple[str, ...]
    message: str
    mean_information: np.ndarray | None = None   # observed information per customer, on the log scale
    bound_index: tuple[int, ...] = ()             # positions of the parameters in at_bound


def log_std_errors(opt: Optimum, n: float) -> tuple[float, ...]:
    """Standard errors of log(parameter) from the observed information of `n` customers (the
    inverse of the Hessian of the total negative log-likelihood at the optimum); NaN for every
    parameter when the information is not positive definite (the likelihood is flat some way:
    that parameter is not identified). Parameters on the optimiser's bound get NaN and the others'
    errors are those with the bound ones held fixed. A parameter's standard error is its value
    times its log's."""
    info = opt.mean_information
    k = len(opt.params)
    free = np.array([j not in opt.bound_index for j in range(k)])
    out = np.full(k, math.nan)
    if info is None or not free.any() or n <= 0:
        return tuple(out)
    info = info[np.ix_(free, free)]
    if not np.all(np.isfinite(info)):
        return tuple(out)
    try:
        np.linalg.cholesky(info)
        cov = np.linalg.inv(info * n)
    except np.linalg.LinAlgError:
        return tuple(out)
    out[free] = np.sqrt(np.maximum(np.diag(cov), 0.0))
    return tuple(float(v) for v in out)


def unidentified(names: tuple[str, ...], log_se: tuple[float, ...], at_bound: tuple[str, ...]) -> tuple[str, ...]:
    """The parameters the data do not pin down: on the optimiser's bound, without a finite standard
    error, or with a standard error larger than the estimate (log-scale error over 1)."""
    if not log_se:
        return ()
    return tuple(n for n, e in zip(names, log_se) if n in at_bound or not math.isfinite(e) or e > 1.0)


def interval(value: float, log_se: float, z: float = 1.96) -> tuple[float, float]:
    """The 95% interval of a positive parameter from its log's standard error (asymmetric, positive);
    NaN when there is none to speak of (no finite error, or one so large the interval is everything)."""
    if not math.isfinite(log_se) or z * log_se > 300:
        return (math.nan, math.nan)
    return (value * math.exp(-z * log_se), value * math.exp(z * log_se))


class Uncertain:
    """Standard errors, 95% intervals and identification of a fit's parameters, for a dataclass with
    the parameters named in NAMES (module constant passed as `names`), `log_std_errors` and `at_bound`."""

    names: tuple[str, ...] = ()

    @property
    def std_errors(self) -> dict[str, float]:
        return {n: getattr(self, n) * e for n, e in zip(self.names, self.log_std_errors)}

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        return {n: interval(getattr(self, n), e) for n, e in zip(self.names, self.log_std_errors)}

    @property
    def unidentified(self) -> tuple[str, ...]:
        return unidentified(self.names, self.log_std_errors, self.at_bound)


def _information(neg_mean_ll: Objective, x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Hessian of the negative mean log-likelihood at x (log scale), by central differences of
    its analytic gradient, made symmetric."""
    k = len(x)
    h = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step
        h[:, j] = (neg_mean_ll(x + e)[1] - neg_mean_ll(x - e)[1]) / (2 * step)
    return (h + h.T) / 2


def maximise(neg_mean_ll: Objective, starts: list[tuple[float, ...]], names: tuple[str, ...],
             upper: dict[str, float] | None = None) -> Optimum:
    """Minimise `neg_mean_ll(log_params) -> (value, gradient)` with L-BFGS-B from each start
    (natural scale). Converged means at least one start reported success; the best successful
    start wins (the best of all when none succeeded). `upper`: a lower upper bound (log scale)
    for some parameters, by name."""
    bounds = [(-LOG_BOUND, (upper or {}).get(name, LOG_BOUND)) for name in names]
    runs = []
    # L-BFGS-B's BLAS work is on tiny matrices, where threads only add wake-up latency.
    with np.errstate(all="ignore"), threadpool_limits(1, user_api="blas"):
        for start in starts:
            res = minimize(neg_mean_ll, np.log(np.asarray(start, dtype=float)), jac=True, method="L-BFGS-B",
                           bounds=bounds, options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
            if np.isfinite(res.fun):
                runs.append(res)
    if not runs:
        return Optimum(np.full(len(names), np.nan), np.nan, False, 0, (), "log-likelihood not finite at any start")
    ok = [r for r in runs if r.success] or runs
    best = min(ok, key=lambda r: r.fun)
    agreeing = int(sum(abs(r.fun - best.fun) <= AGREE_TOL * max(1.0, abs(best.fun)) for r in runs))
    bound_index = tuple(j for j, v in enumerate(best.x) if v <= bounds[j][0] + 1e-3 or v >= bounds[j][1] - 1e-3)
    at_bound = tuple(names[j] for j in bound_index)
    with np.errstate(all="ignore"), threadpool_limits(1, user_api="blas"):
        information = _information(neg_mean_ll, best.x)
    return Optimum(np.exp(best.x), -float(best.fun), bool(best.success), agreeing, at_bound, str(best.message),
                   information, bound_index)


def report_problems(model: str, opt: Optimum) -> tuple[str, ...]:
    """Warn (ConvergenceWarning) about a failed or boundary fit; returns the messages."""
    problems = []
    if not opt.converged:
        problems.append(f"{model} fit did not converge ({opt.message}); its parameters are the best found "
                        "and predictions may be unreliable")
    if opt.at_bound:
        problems.append(f"{model} parameter(s) {', '.join(opt.at_bound)} ended on the optimiser's bound: the "
                        "likelihood is flat that way, typically because there are few repeat customers or the data "
                        "show almost no drop-out (BG/NBD a near 0 and b large; Pareto/NBD s near 0 and beta large), or "
                        "because purchase or drop-out rates barely vary between customers (Pareto/NBD r or s at "
                        "their upper bound); "
                        "predictions use the values reached")
    for message in problems:
        warnings.warn(message, ConvergenceWarning, stacklevel=3)
    return tuple(problems)
