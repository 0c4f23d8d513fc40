"""Pareto/NBD, the alternative purchase model: the likelihood against direct integration of its
definition, the published CDNOW fit, and the predictions' limits."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad
from scipy.special import gammaln

from analysis.studies.value import clv
from analysis.studies.value import paretonbd
from analysis.studies.value.mle import ConvergenceWarning
from analysis.studies.value.paretonbd import ParetoNbdFit
from tests.test_clv import CDNOW, CDNOW_AS_OF, cdnow_lines, cdnow_weeks  # noqa: F401  (fixtures)

# The CDNOW sample's published Pareto/NBD fit (39 weeks of calibration), as the BTYD package's
# documentation reproduces Fader & Hardie's: r = 0.553, alpha = 10.580, s = 0.606, beta = 11.656,
# log-likelihood -9594.976. The likelihood is flat in beta there: 11.656 and 11.669 (this fit) agree
# to 0.001 in log-likelihood.
PUBLISHED = ParetoNbdFit(r=0.553, alpha=10.580, s=0.606, beta=11.656, time_unit="weeks")


def by_integration(fit: ParetoNbdFit, x: float, t_x: float, T: float) -> float:
    """ln L straight from the model's definition: alive at T, or dropped out at some tau in (t_x, T)."""
    r, alpha, s, beta = fit.r, fit.alpha, fit.s, fit.beta
    purchases = lambda end: np.exp(gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + end))  # noqa: E731
    survive = (beta / (beta + T)) ** s
    density = lambda tau: s * beta ** s * (beta + tau) ** (-(s + 1)) * purchases(tau)  # noqa: E731
    dropped = quad(density, t_x, T, epsabs=0, epsrel=1e-12, limit=200)[0] if T > t_x else 0.0
    return float(np.log(purchases(T) * survive + dropped))


@pytest.mark.parametrize("params", [
    (0.55, 10.6, 0.61, 11.7),        # CDNOW-like, alpha < beta
    (0.55, 11.7, 0.61, 10.6),        # alpha > beta
    (0.72, 0.3, 1e-3, 2000.0),       # almost no drop-out (UCI): beta >> alpha, s near 0
    (4.3, 175.0, 0.07, 0.06),        # beta << alpha
    (12.0, 5.0, 20.0, 40.0),         # large r and s
])
def test_the_likelihood_matches_integration_of_the_definition(params):
    fit = ParetoNbdFit(*params, time_unit="days")
    customers = [(0, 0.0, 30.0), (0, 0.0, 400.0), (1, 5.0, 40.0), (3, 100.0, 300.0), (12, 200.0, 210.0),
                 (40, 350.0, 365.0), (150, 360.0, 364.0), (5, 50.0, 50.0)]
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*customers))
    got = paretonbd.log_likelihood(fit, x, t_x, T)
    want = [by_integration(fit, *c) for c in customers]
    assert got == pytest.approx(want, rel=1e-8, abs=1e-8)


def test_the_cdnow_fit_reproduces_the_published_parameters_and_log_likelihood(cdnow_weeks):  # noqa: F811
    w = cdnow_weeks
    fit = paretonbd.fit_pareto_nbd(w["frequency"], w["recency"], w["T"], "weeks")
    for name in ("r", "alpha", "s", "beta"):
        assert getattr(fit, name) == pytest.approx(getattr(PUBLISHED, name), rel=2e-3), name
    assert fit.log_likelihood == pytest.approx(-9594.98, abs=0.01)
    assert fit.converged and fit.unidentified == () and fit.starts_agreeing == 3
    # the published parameters give the same likelihood
    x, t_x, T = (w[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    assert paretonbd.log_likelihood(PUBLISHED, x, t_x, T).sum() == pytest.approx(-9594.98, abs=0.01)


def test_cdnow_probabilities_alive_match_the_btyd_package(cdnow_weeks):  # noqa: F811
    """BTYD's documentation (pnbd.PAlive on cdnowSummary with its fitted parameters 0.553, 10.580,
    0.606, 11.656): quartiles 0.3174, 0.3499, 0.4763 and mean 0.4462."""
    w = cdnow_weeks
    fit = PUBLISHED
    p = pd.Series(fit.p_alive(*(w[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))))
    assert p.quantile([0.25, 0.5, 0.75]).tolist() == pytest.approx([0.3174, 0.3499, 0.4763], abs=1e-3)
    assert p.mean() == pytest.approx(0.4462, abs=1e-3)


def test_without_drop_out_predictions_are_the_poisson_gamma_rate_times_the_time():
    """s -> 0 (nobody drops out): P(alive) -> 1 and E[purchases in t] -> (r + x) / (alpha + T) * t."""
    fit = ParetoNbdFit(r=0.8, alpha=30.0, s=1e-7, beta=1.0, time_unit="days")
    x, t_x, T = np.array([0.0, 4.0, 20.0]), np.array([0.0, 100.0, 300.0]), np.array([50.0, 200.0, 365.0])
    assert fit.p_alive(x, t_x, T) == pytest.approx(1.0, abs=1e-5)
    assert fit.expected_purchases(90, x, t_x, T) == pytest.approx((0.8 + x) / (30.0 + T) * 90, rel=1e-4)


def test_probability_alive_falls_with_silence_and_one_time_buyers_can_be_gone():
    fit = ParetoNbdFit(0.553, 10.58, 0.606, 11.67, "weeks")
    p = fit.p_alive(np.full(4, 3.0), np.full(4, 10.0), np.array([10.0, 20.0, 40.0, 80.0]))
    assert p[0] == pytest.approx(1.0) and np.all(np.diff(p) < 0)
    assert fit.p_alive(np.array([0.0]), np.array([0.0]), np.array([60.0]))[0] < 0.5   # unlike BG/NBD
    e = fit.expected_purchases(np.array([13.0, 26.0, 52.0]), 3.0, 10.0, 40.0)
    assert np.all(np.diff(e) > 0)


def test_the_holdout_picks_the_model_with_the_lower_error_per_customer(cdnow_lines):  # noqa: F811
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check = clv.holdout_check(cdnow_lines, CDNOW_AS_OF, 90)
    errors = check.comparison.set_index("predictor")["mae"]
    assert check.model == errors[list(clv.PURCHASE_MODELS)].idxmin() and check.mae == errors[check.model]
    assert check.cutoff == CDNOW_AS_OF - dt.timedelta(days=90)


def test_customers_whose_rates_do_not_vary_leave_r_on_its_bound_and_the_fit_ends():
    """Identical Poisson buyers who never drop out: the likelihood keeps rising with r (no
    heterogeneity) and s falls towards 0. r stops at e^R_LOG_BOUND, reported as on the bound, where
    it once ran to e^9, a corner in which SciPy's 2F1 takes a second per call (a fit of 10M
    generated lines took 255 s there)."""
    rng = np.random.default_rng(7)
    T = np.full(400, 52.0)
    times = [np.sort(rng.uniform(0, 52, rng.poisson(0.5 * 52))) for _ in T]
    x = np.array([len(t) for t in times], dtype=float)
    t_x = np.array([t[-1] if len(t) else 0.0 for t in times])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = paretonbd.fit_pareto_nbd(x, t_x, T, "weeks")
    assert fit.r <= np.exp(paretonbd.R_LOG_BOUND) * (1 + 1e-9)
    assert "r" in fit.at_bound and "r" in fit.unidentified
    # the rate it finds is the buyers' own: r / alpha = 0.5 a week
    assert fit.r / fit.alpha == pytest.approx(0.5, rel=0.1)


def test_where_the_likelihood_cannot_be_evaluated_the_objective_is_infinite_and_the_gradient_one_sided(monkeypatch):
    real = paretonbd._log_likelihood

    def failing_for_large_r(x, t_x, T, r, alpha, s, beta, pairs=None):
        out = real(x, t_x, T, r, alpha, s, beta, pairs)
        return out if r < 2.0 else np.full_like(out, np.nan)

    monkeypatch.setattr(paretonbd, "_log_likelihood", failing_for_large_r)
    x, t_x, T = np.array([0.0, 2.0, 5.0]), np.array([0.0, 10.0, 30.0]), np.array([40.0, 40.0, 40.0])
    f = paretonbd._objective(x, t_x, T, np.ones(3))
    value, grad = f(np.log([3.0, 10.0, 0.5, 10.0]))
    assert value == np.inf and (grad == 0).all()
    edge = np.log([2.0, 10.0, 0.5, 10.0]) - np.array([1e-7, 0, 0, 0])   # r just under 2: one side fails
    value, grad = f(edge)
    assert np.isfinite(value) and np.isfinite(grad).all()
    below = f(edge - np.array([paretonbd.GRADIENT_STEP, 0, 0, 0]))[0]
    assert grad[0] == pytest.approx((value - below) / paretonbd.GRADIENT_STEP)


def test_distinct_rows_are_what_sorting_the_rows_gives_with_each_customers_row():
    # the models work on distinct (x, t_x, T) rows: ranked by hashing, in np.unique's order
    from analysis.studies.value.bgnbd import distinct

    rng = np.random.default_rng(3)
    n = 5_000
    columns = [rng.integers(0, 6, n).astype(float), rng.integers(0, 40, n) * 0.25, rng.normal(size=n).round(1)]
    columns[2][:3] = [np.nan, np.inf, np.nan]  # not finite: the rows are sorted instead
    for cols in (columns[:1], columns[:2], columns[:2] + [np.abs(columns[2][::-1].round(0))], columns):
        rows, inv, counts = np.unique(np.column_stack(cols), axis=0, return_inverse=True, return_counts=True)
        got, weight, each = distinct(*cols, inverse=True)
        assert len(got) == len(cols) and all(np.array_equal(g, rows[:, j], equal_nan=True) for j, g in enumerate(got))
        assert np.array_equal(weight, counts) and np.array_equal(each, inv.ravel())
        assert np.array_equal(np.column_stack(got)[each], np.column_stack(cols), equal_nan=True)
    assert distinct(np.zeros(0), np.zeros(0))[1].size == 0


def test_customers_whose_drop_out_barely_varies_leave_s_on_its_bound_with_their_drop_out_rate():
    """Buyers of varied rates whose chance of dropping out is the same for all: the likelihood
    peaks at s = 161 (drop-out rates varying by 8%), in a corner where SciPy's 2F1 is slow (20 s for
    these 1,000 customers, 645 s for 300,000). s stops at e^5 = 148 (S_LOG_BOUND), reported as on
    the bound, with the same drop-out rate s / beta (7 s)."""
    rng = np.random.default_rng(0)
    n = 1000
    T = rng.integers(1, 730, n).astype(float)
    rate = rng.gamma(0.5, 1 / 60, n)
    x = rng.poisson(rate * T * rng.uniform(0.2, 1, n)).astype(float)
    t_x = np.where(x > 0, np.floor(rng.uniform(0.3, 1, n) * T), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = paretonbd.fit_pareto_nbd(x, t_x, T, "days")
    assert fit.s == pytest.approx(np.exp(5.0)) and "s" in fit.at_bound
    assert fit.s / fit.beta == pytest.approx(0.00119, rel=0.01)  # as where the likelihood peaks (s = 161)
