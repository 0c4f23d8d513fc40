"""Customer value: summaries by hand, BG/NBD and Gamma-Gamma formulas against numerical
integration, the published CDNOW fits, CLV discounting, the holdout check and determinism."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import math
import warnings
from contextlib import redirect_stdout
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.integrate import quad
from scipy.optimize import check_grad
from scipy.special import beta as beta_fn

from analysis.studies.value import bgnbd
from analysis.studies.value import clv
from analysis.studies.value import gammagamma
from analysis.studies.value import mle
from analysis.studies.value.bgnbd import BgNbdFit
from analysis.studies.value.gammagamma import GammaGammaFit
from analysis.studies.value.mle import ConvergenceWarning

PROJECT = Path(__file__).resolve().parent.parent
CDNOW = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "cdnow"
CDNOW_AS_OF = dt.date(1997, 10, 1)      # calibration period through 1997-09-30 inclusive
PUBLISHED_BGNBD = BgNbdFit(r=0.243, alpha=4.414, a=0.793, b=2.426, time_unit="weeks")
PUBLISHED_GG = GammaGammaFit(p=6.25, q=3.74, gamma=15.44)

_spec = importlib.util.spec_from_file_location("bench_clv", PROJECT / "benchmarks" / "bench_clv.py")
bench_clv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_clv)


def lines_table(rows: list[tuple[str, str, float]]) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({"customer_id": [r[0] for r in rows],
                                       "order_ts": pd.to_datetime([r[1] for r in rows], format="ISO8601"),
                                       "revenue": [float(r[2]) for r in rows]}))


# A: two lines on Jan 1 (one purchase day), then Jan 4 and Jan 8. B: once on Jan 5. C: twice on
# the last day of the period. E: Jan 9 and late on Jan 10. D: only on the as-of date, so not seen.
TINY = [("A", "2024-01-01 10:00", 10), ("A", "2024-01-01 15:00", 5), ("A", "2024-01-04 09:00", 20),
        ("A", "2024-01-08 12:00", 30), ("B", "2024-01-05 08:00", 7), ("C", "2024-01-10 09:00", 4),
        ("C", "2024-01-10 17:00", 6), ("E", "2024-01-09 12:00", 3), ("E", "2024-01-10 23:59", 9),
        ("D", "2024-01-11 00:00", 50)]
TINY_AS_OF = dt.date(2024, 1, 11)       # the period is Jan 1 .. Jan 10


# --- summaries -------------------------------------------------------------------------------

def test_summary_counts_repeat_purchase_days_with_hand_computed_recency_and_T():
    got = clv.summary_from_lines(lines_table(TINY), TINY_AS_OF)
    expected = pd.DataFrame({
        "customer_id": pd.array(["A", "B", "C", "E"], dtype="string"),
        "frequency": [2, 0, 0, 1],                 # A: Jan 1, 4, 8 -> 3 days, 2 repeats
        "recency": [7, 0, 0, 1],                   # A: Jan 1 -> Jan 8
        "T": [9, 5, 0, 1],                         # A: Jan 1 -> Jan 10 (as_of - 1)
        "monetary_value": [25.0, 0.0, 0.0, 9.0],   # A: (20 + 30) / 2, the first day left out
        "days_to_second": [3.0, np.nan, np.nan, 1.0],
    })
    pd.testing.assert_frame_equal(got, expected)


def test_summary_with_a_cutoff_counts_holdout_purchase_days_of_calibration_customers():
    got = clv.summary_from_lines(lines_table(TINY), TINY_AS_OF, cutoff=dt.date(2024, 1, 6))
    assert list(got["customer_id"]) == ["A", "B"]          # C and E first bought after the cutoff
    assert got[["frequency", "recency", "T", "holdout_purchases"]].values.tolist() == [[1, 3, 4, 1], [0, 0, 0, 0]]
    assert got["monetary_value"].tolist() == [20.0, 0.0]


def test_a_cutoff_must_come_before_the_as_of_date():
    with pytest.raises(ValueError, match="cutoff 2024-01-11 must be before as_of 2024-01-11"):
        clv.summary_from_lines(lines_table(TINY), TINY_AS_OF, cutoff=TINY_AS_OF)


def test_impossible_summaries_are_refused_naming_the_customer():
    with pytest.raises(ValueError, match="recency must lie between 0 and T: 1 customer.*position 1"):
        bgnbd.p_alive(PUBLISHED_BGNBD, [1, 2], [1.0, 9.0], [5.0, 8.0])


# --- BG/NBD formulas -----------------------------------------------------------------------

def bgnbd_likelihood_by_integration(r, alpha, a, b, x, t_x, T):
    """L = E over lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b) of the individual-level
    likelihood (1-p)^x lambda^x e^(-lambda T) + [x > 0] p (1-p)^(x-1) lambda^x e^(-lambda t_x)."""
    log_gamma_norm = r * math.log(alpha) - math.lgamma(r)
    def given_p(p):
        def given_lam(lam):
            alive = (1 - p) ** x * lam ** x * math.exp(-lam * T)
            dropped = p * (1 - p) ** (x - 1) * lam ** x * math.exp(-lam * t_x) if x > 0 else 0.0
            return (alive + dropped) * math.exp(log_gamma_norm + (r - 1) * math.log(lam) - alpha * lam)
        return quad(given_lam, 0, np.inf, epsabs=0, epsrel=1e-11)[0] * p ** (a - 1) * (1 - p) ** (b - 1)
    return quad(given_p, 0, 1, epsabs=0, epsrel=1e-10)[0] / beta_fn(a, b)


@pytest.mark.parametrize("x, t_x, T", [(0, 0.0, 5.0), (1, 2.0, 6.0), (3, 4.5, 7.0)])
def test_bgnbd_likelihood_equals_direct_numerical_integration(x, t_x, T):
    params = dict(r=1.3, alpha=2.0, a=1.5, b=3.0)
    got = bgnbd.log_likelihood(BgNbdFit(**params, time_unit="days"), [x], [t_x], [T])[0]
    assert got == pytest.approx(math.log(bgnbd_likelihood_by_integration(**params, x=x, t_x=t_x, T=T)), abs=1e-8)


def test_likelihood_without_repeat_purchases_is_the_chance_of_no_purchase_by_T():
    # x = 0: L = (alpha / (alpha + T))^r, whatever a and b
    got = bgnbd.log_likelihood(BgNbdFit(0.5, 2.0, 0.7, 4.0, "days"), [0], [0], [6.0])[0]
    assert got == pytest.approx(0.5 * math.log(2 / 8))


def test_fitting_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    T = rng.uniform(1, 3, 200)
    x = rng.integers(0, 6, 200).astype(float)
    t_x = np.where(x > 0, rng.uniform(0, 1, 200) * T, 0.0)
    weight = rng.integers(1, 4, 200).astype(float)
    f = bgnbd._objective(x, t_x, T, weight)
    point = np.log([0.7, 1.3, 0.8, 2.5])
    assert check_grad(lambda v: f(v)[0], lambda v: f(v)[1], point) < 1e-6
    # a weight of k is k customers alike
    repeated = np.repeat(np.arange(200), weight.astype(int))
    plain = bgnbd._objective(x[repeated], t_x[repeated], T[repeated], np.ones(len(repeated)))
    assert plain(point)[0] == pytest.approx(f(point)[0], rel=1e-12)
    assert plain(point)[1] == pytest.approx(f(point)[1], rel=1e-10)
    m = rng.gamma(5, 2, 200)
    g = gammagamma._objective(x[x > 0], m[x > 0])
    assert check_grad(lambda v: g(v)[0], lambda v: g(v)[1], np.log([2.0, 3.0, 1.5])) < 1e-6


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_time_since_the_last():
    fit = PUBLISHED_BGNBD
    assert bgnbd.p_alive(fit, [0, 0], [0, 0], [1.0, 38.0]).tolist() == [1.0, 1.0]
    p = bgnbd.p_alive(fit, [3, 3, 3], [38.0, 20.0, 5.0], [38.0, 38.0, 38.0])
    assert 0 < p[2] < p[1] < p[0] < 1


def expected_by_integration(fit: BgNbdFit, t, x, t_x, T):
    """E[Y(t) | x, t_x, T]: the posterior mean of (1 - exp(-lambda p t)) / p given alive, with
    lambda integrated out analytically and p numerically (no hypergeometric function)."""
    alpha, a, b, k = fit.alpha, fit.a, fit.b, fit.r + x
    def g(p):   # (1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p, smooth at p = 0
        return -math.expm1(-k * math.log1p(p * t / (alpha + T))) / p if p > 0 else k * t / (alpha + T)
    num = quad(g, 0, 1, weight="alg", wvar=(a - 1, b + x - 1), epsabs=0, epsrel=1e-12, limit=200)[0]
    den = beta_fn(a, b + x) + (x > 0) * beta_fn(a + 1, b + x - 1) * ((alpha + T) / (alpha + t_x)) ** k
    return num / den


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("fit", [PUBLISHED_BGNBD, BgNbdFit(0.82, 69.1, 0.0031, 7.25, "days"),
                                 BgNbdFit(2.0, 5.0, 3.0, 1.5, "days")])
@pytest.mark.parametrize("x, t_x, T, t", [(0, 0, 10, 39), (2, 30.43, 38.86, 39), (129, 370, 373, 365),
                                          (300, 700, 730, 90), (1, 5, 300, 3650)])
def test_conditional_expected_purchases_equal_posterior_integration(fit, x, t_x, T, t):
    got = bgnbd.expected_purchases(fit, t, x, t_x, T)
    assert got == pytest.approx(expected_by_integration(fit, t, x, t_x, T), rel=1e-8)


def test_expected_purchases_start_at_zero_and_increase_with_the_horizon():
    got = [float(bgnbd.expected_purchases(PUBLISHED_BGNBD, t, 2, 30.43, 38.86)) for t in (0, 1, 13, 39, 52, 520)]
    assert got[0] == 0 and all(a < b for a, b in zip(got, got[1:]))


def test_purchase_count_probabilities_sum_to_one_and_start_with_the_nbd_zero_term():
    fit = BgNbdFit(0.5, 2.0, 0.7, 4.0, "days")
    probs = bgnbd.purchase_count_probability(fit, 10.0, np.arange(5000))
    assert probs.sum() == pytest.approx(1.0, abs=1e-12) and (probs >= 0).all()
    assert probs[0] == pytest.approx((2 / 12) ** 0.5)


@settings(max_examples=60, deadline=None)
@given(r=st.floats(0.05, 5), alpha=st.floats(0.1, 100), a=st.floats(0.05, 5), b=st.floats(0.05, 20),
       x=st.integers(0, 60), share=st.floats(0, 1), T=st.floats(0, 400))
def test_p_alive_is_a_probability_and_expected_purchases_grow_with_the_horizon(r, alpha, a, b, x, share, T):
    if abs(a - 1) < 1e-3:
        a += 0.01          # (a+b+x-1)/(a-1) is 0/0 at a = 1 exactly
    fit = BgNbdFit(r, alpha, a, b, "days")
    t_x = share * T if x > 0 else 0.0
    assert 0 <= bgnbd.p_alive(fit, x, t_x, T) <= 1
    e = [float(bgnbd.expected_purchases(fit, t, x, t_x, T)) for t in (1.0, 30.0, 365.0)]
    assert 0 <= e[0] <= e[1] <= e[2] and all(map(math.isfinite, e))


def test_a_boundary_fit_gives_a_convergence_warning():
    # everyone bought again on the last day: no sign of drop-out, so a -> 0 / b -> infinity
    x, T = np.array([1, 2, 3, 0, 1] * 20), np.full(100, 10.0)
    with pytest.warns(ConvergenceWarning, match="bound"):
        fit = bgnbd.fit_bgnbd(x, np.where(x > 0, T, 0.0), T, "days")
    assert fit.warnings and "bound" in fit.warnings[0]


def test_a_failed_optimisation_is_reported_as_not_converged():
    def wrong_gradient(v):
        return float((v ** 2).sum()), -2 * v + 5.0
    opt = mle.maximise(wrong_gradient, [(1.0, 1.0)], ("u", "v"))
    assert not opt.converged
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        assert mle.report_problems("Test", opt)


def test_fit_recovers_planted_parameters_from_simulated_customers():
    summary, _, _ = bench_clv.simulate(30_000, seed=5)
    fit = bgnbd.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], "days")
    planted = bench_clv.PLANTED
    assert fit.r == pytest.approx(planted["r"], rel=0.1) and fit.alpha == pytest.approx(planted["alpha"], rel=0.15)
    assert fit.a == pytest.approx(planted["a"], rel=0.25) and fit.b == pytest.approx(planted["b"], rel=0.25)
    gg = gammagamma.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    assert gg.p == pytest.approx(planted["p"], rel=0.15) and gg.q == pytest.approx(planted["q"], rel=0.15)


# --- Gamma-Gamma ---------------------------------------------------------------------------

@pytest.mark.parametrize("x, m", [(1, 12.0), (4, 30.5)])
def test_gamma_gamma_density_equals_integration_over_the_customers_spend_rate(x, m):
    p, q, g = 3.0, 4.0, 20.0
    # the average of x Gamma(p, rate nu) values is Gamma(p x, rate nu x); nu ~ Gamma(q, rate g)
    density = quad(lambda nu: stats.gamma.pdf(m, p * x, scale=1 / (nu * x)) * stats.gamma.pdf(nu, q, scale=1 / g),
                   0, np.inf, epsabs=0, epsrel=1e-11)[0]
    got = gammagamma.log_likelihood(GammaGammaFit(p, q, g), [x], [m])[0]
    assert got == pytest.approx(math.log(density), abs=1e-8)


def test_expected_spend_lies_between_the_customers_average_and_the_population_mean():
    fit = GammaGammaFit(6.25, 3.74, 15.44)
    population = 6.25 * 15.44 / 2.74
    assert fit.mean_spend == pytest.approx(population)
    low, high, none = gammagamma.expected_spend(fit, [3, 30, 0], [10.0, 10.0, 99.0])
    assert 10 < high < low < population and none == pytest.approx(population)


def test_gamma_gamma_is_fitted_only_on_repeat_customers_with_positive_spend():
    rng = np.random.default_rng(1)
    x = np.r_[rng.integers(1, 6, 200), [0, 0, 3]]
    m = np.r_[rng.gamma(6, 4, 200), [0.0, 0.0, 0.0]]
    assert gammagamma.fit_gamma_gamma(x, m).n_customers == 200


# --- CLV -----------------------------------------------------------------------------------

def test_months_are_a_twelfth_of_a_year_and_the_last_one_is_cut_at_the_horizon():
    assert clv.month_edges(90) == pytest.approx([0, 30.4375, 60.875, 90])
    edges = clv.month_edges(365)
    assert len(edges) == 13 and edges[-1] == 365 and edges[-2] == pytest.approx(11 * 30.4375)


def test_discounting_by_hand_with_one_purchase_a_month():
    one_a_month = lambda days: np.array([days / clv.MONTH_DAYS])   # noqa: E731
    got = clv.discounted_value(one_a_month, np.array([10.0]), 90, 0.01)[0]
    last = (90 - 2 * clv.MONTH_DAYS) / clv.MONTH_DAYS
    assert got == pytest.approx(10 * (1 / 1.01 + 1 / 1.01 ** 2 + last / 1.01 ** 3))


def test_clv_with_no_discount_is_expected_purchases_times_expected_spend(simulated):
    summary = clv.summary_from_lines(*simulated)
    bg, gg, _ = clv.fit_models(summary)
    plain = clv.value_table(summary, bg, gg, (90, 365), discount_rate=0.0)
    for h in (90, 365):
        assert np.allclose(plain[f"clv_{h}"], plain[f"expected_purchases_{h}"] * plain["expected_spend"], rtol=1e-12)
    discounted = clv.value_table(summary, bg, gg, (90, 365), discount_rate=0.01)
    assert (discounted["clv_365"] < plain["clv_365"]).all() and (discounted["clv_90"] <= discounted["clv_365"]).all()


def test_one_time_buyers_risk_is_the_share_of_returning_customers_who_waited_longer():
    summary = pd.DataFrame({
        "customer_id": list("abcdxyz"), "frequency": [1, 2, 1, 1, 0, 0, 0],
        "T": [100, 100, 30, 50, 25, 60, 100], "days_to_second": [10, 40, 20, 45, np.nan, np.nan, np.nan]})
    risk = clv.one_time_risk(summary).set_index("customer_id")
    # x waited 25 days: of the 4 repeat customers observed > 25 days, 2 came back after more than 25
    assert risk.loc["x"].tolist() == [25, 0.5]
    assert risk.loc["y"].tolist() == [60, 0.0]            # 2 observed > 60 days, none waited that long
    assert np.isnan(risk.loc["z", "one_time_later_share"])  # no repeat customer observed > 100 days
    assert risk.loc[list("abcd")].isna().all().all()


# --- the entry point -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def simulated():
    _, lines, as_of = bench_clv.simulate(4000, seed=11)
    return ibis.memtable(lines), as_of


def test_customer_value_gives_one_row_per_customer_with_the_declared_columns(simulated):
    lines, as_of = simulated
    value = clv.customer_value(lines, as_of)
    c = value.customers
    assert list(c.columns) == clv.value_columns((90, 365)) and len(c) == 4000
    assert c["customer_id"].is_unique and c["customer_id"].is_monotonic_increasing
    assert (c.loc[c["frequency"] == 0, "p_alive"] == 1).all()
    assert (c["expected_purchases_365"] > c["expected_purchases_90"]).all()
    assert c[clv.ONE_TIME_COLUMNS].notna().any(axis=1).equals(c["frequency"] == 0)
    assert value.purchase_model.model == "BG/NBD"       # without a holdout, the first model
    assert value.purchase_model.time_unit == "days" and value.purchase_model.converged and value.gamma_gamma.converged
    assert value.holdout is None and value.warnings == ()


def test_holdout_tables_have_eight_frequency_groups_that_add_up(simulated):
    lines, as_of = simulated
    check = clv.customer_value(lines, as_of, holdout_days=90).holdout
    assert check.cutoff == as_of - dt.timedelta(days=90) and set(check.fits) == set(clv.PURCHASE_MODELS)
    assert check.fits[check.model].time_unit == "days"
    table, per_customer = check.by_frequency, check.customers
    assert table["frequency_group"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["customers"].sum() == len(per_customer)
    assert table["actual_total"].sum() == per_customer["actual_purchases"].sum()
    assert table["predicted_total"].sum() == pytest.approx(per_customer["predicted_purchases"].sum())
    errors = (per_customer["predicted_purchases"] - per_customer["actual_purchases"]).abs()
    assert check.mae == pytest.approx(errors.mean())
    # planted model, so predictions track the truth in aggregate
    assert table["predicted_total"].sum() == pytest.approx(table["actual_total"].sum(), rel=0.15)


def test_customer_value_is_deterministic(simulated):
    lines, as_of = simulated
    first, second = (clv.customer_value(lines, as_of, holdout_days=60) for _ in range(2))
    pd.testing.assert_frame_equal(first.customers, second.customers)
    pd.testing.assert_frame_equal(first.holdout.by_frequency, second.holdout.by_frequency)
    assert first.purchase_model == second.purchase_model and first.gamma_gamma == second.gamma_gamma


def test_too_few_repeat_customers_give_a_warning_and_empty_predictions_not_an_error():
    value = clv.customer_value(lines_table(TINY[:5]), TINY_AS_OF, holdout_days=3)
    assert value.purchase_model is None and value.customers["clv_90"].isna().all()
    assert "too few to fit" in value.warnings[0] and "Holdout check" in value.warnings[-1]


def test_convergence_problems_are_returned_as_warnings_not_emitted():
    rows = [(f"c{i}", f"2024-01-{d:02d}", 5.0) for i in range(30) for d in (1, 10)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        value = clv.customer_value(lines_table(rows), TINY_AS_OF)
    assert any("bound" in w for w in value.warnings)


# --- CDNOW: the published results ----------------------------------------------------------

@pytest.fixture(scope="module")
def cdnow_lines() -> ibis.Table:
    path = CDNOW / "CDNOW_sample.txt"
    if not path.exists():
        pytest.skip(f"CDNOW sample not found at {path} (../shared/data/cdnow; absent in a fresh clone)")
    raw = pd.read_csv(path, sep=r"\s+", header=None, names=["original_id", "customer_id", "date", "cds", "dollars"],
                      dtype={"original_id": str, "customer_id": str, "date": str})
    return ibis.memtable(pd.DataFrame({"customer_id": raw["customer_id"],
                                       "order_ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
                                       "revenue": raw["dollars"].astype(float)}))


@pytest.fixture(scope="module")
def cdnow_weeks(cdnow_lines) -> pd.DataFrame:
    summary = clv.summary_from_lines(cdnow_lines, CDNOW_AS_OF)
    return summary.assign(recency=summary["recency"] / 7, T=summary["T"] / 7)


@pytest.fixture(scope="module")
def cdnow_value_in_days(cdnow_lines):
    summary = clv.summary_from_lines(cdnow_lines, CDNOW_AS_OF)
    bg, gg, _ = clv.fit_models(summary)
    return summary, bg, gg


def test_cdnow_calibration_has_2357_customers_and_946_repeat_buyers(cdnow_weeks):
    assert len(cdnow_weeks) == 2357 and (cdnow_weeks["frequency"] > 0).sum() == 946
    first = cdnow_weeks.iloc[0]              # the paper's worked example: x = 2, t_x = 30.43, T = 38.86
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == (2, 30.43, 38.86)


def test_cdnow_bgnbd_fit_reproduces_the_published_parameters(cdnow_weeks):
    fit = bgnbd.fit_bgnbd(cdnow_weeks["frequency"], cdnow_weeks["recency"], cdnow_weeks["T"], "weeks")
    assert fit.converged and fit.starts_agreeing == 3 and fit.time_unit == "weeks"
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit, name) == pytest.approx(getattr(PUBLISHED_BGNBD, name), abs=0.015), name
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.1)


def test_cdnow_fit_in_days_has_the_same_shape_parameters_and_alpha_seven_times_larger(cdnow_value_in_days):
    _, bg, _ = cdnow_value_in_days
    assert bg.time_unit == "days" and bg.alpha / 7 == pytest.approx(4.414, abs=0.015)
    assert (bg.r, bg.a, bg.b) == pytest.approx((0.243, 0.793, 2.426), abs=0.015)


def test_cdnow_gamma_gamma_fit_reproduces_the_published_parameters(cdnow_weeks):
    fit = gammagamma.fit_gamma_gamma(cdnow_weeks["frequency"], cdnow_weeks["monetary_value"])
    assert fit.n_customers == 946 and fit.converged
    for name in ("p", "q", "gamma"):
        assert getattr(fit, name) == pytest.approx(getattr(PUBLISHED_GG, name), abs=0.015), name
    assert clv.spend_frequency_correlation(cdnow_weeks) == pytest.approx(0.11, abs=0.01)   # Fader & Hardie 2013


def _natural_scale_std_errors(total_ll, values: np.ndarray, rel: float = 1e-4) -> np.ndarray:
    """Standard errors from a central-difference Hessian of the total log-likelihood in the natural
    parameters: an independent path (no gradient, no log scale) to check the fits' own."""
    k = len(values)
    h = values * rel
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            def at(di, dj):
                v = values.copy()
                v[i] += di * h[i]
                v[j] += dj * h[j]
                return total_ll(v)
            hess[i, j] = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h[i] * h[j])
    return np.sqrt(np.diag(np.linalg.inv(-hess)))


def test_cdnow_parameter_standard_errors_match_an_independent_hessian_and_the_reference(cdnow_weeks):
    x, t_x, T = (cdnow_weeks[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    fit = bgnbd.fit_bgnbd(x, t_x, T, "weeks")
    values = np.array([fit.r, fit.alpha, fit.a, fit.b])
    expected = _natural_scale_std_errors(
        lambda v: bgnbd.log_likelihood(bgnbd.BgNbdFit(*v, "weeks"), x, t_x, T).sum(), values)
    got = np.array([fit.std_errors[n] for n in ("r", "alpha", "a", "b")])
    np.testing.assert_allclose(got, expected, rtol=2e-3)
    # lifetimes' BetaGeoFitter summary on this sample: 0.0126, 0.378, 0.186, 0.705
    np.testing.assert_allclose(got, [0.0126, 0.378, 0.186, 0.705], rtol=0.01)
    assert fit.unidentified == ()
    low, high = fit.intervals["a"]
    assert low < fit.a < high and high / fit.a == pytest.approx(fit.a / low)

    m = cdnow_weeks["monetary_value"].to_numpy(dtype=float)
    gg = gammagamma.fit_gamma_gamma(x, m)
    keep = x > 0
    expected = _natural_scale_std_errors(
        lambda v: gammagamma.log_likelihood(gammagamma.GammaGammaFit(*v), x[keep], m[keep]).sum(),
        np.array([gg.p, gg.q, gg.gamma]))
    np.testing.assert_allclose([gg.std_errors[n] for n in ("p", "q", "gamma")], expected, rtol=2e-3)
    assert gg.unidentified == ()


def test_customers_who_never_drop_out_leave_the_drop_out_side_unidentified():
    """Every customer buys at a steady rate to the end: nothing in the data says when anyone stops,
    so the drop-out parameters run to the bound or carry errors larger than themselves."""
    rng = np.random.default_rng(0)
    n = 2_000
    T = rng.uniform(200, 400, n)
    rate = rng.gamma(2.0, 1 / 60, n)
    x = rng.poisson(rate * T).astype(float)
    t_x = np.where(x > 0, T - rng.exponential(1 / np.maximum(rate, 1e-9)).clip(0, None), 0.0)
    t_x = np.clip(np.where(x > 0, t_x, 0.0), 0, T)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit = bgnbd.fit_bgnbd(x, t_x, T, "days")
    assert set(fit.unidentified) & {"a", "b"}
    assert "r" not in fit.unidentified and "alpha" not in fit.unidentified


def test_holdout_comparison_scores_the_model_against_both_naive_predictors():
    # three customers; the holdout is 90 days
    cal = pd.DataFrame({"frequency": [2, 0, 1], "T": [180, 0, 90], "holdout_purchases": [1, 0, 3],
                        "previous_purchases": [1, 0, 2]})
    got = clv.holdout_comparison(cal, {"BG/NBD": np.array([1.0, 0.5, 1.0])}, 90).set_index("predictor")
    assert list(got.index) == ["BG/NBD", *clv.NAIVE.values()]
    # model: |1-1| + |0.5-0| + |1-3| = 2.5; rate: 2/180*90 = 1, 0 (T = 0), 1/90*90 = 1 -> 0 + 0 + 2 = 2; previous: 0 + 0 + 1
    assert got["mae"].tolist() == pytest.approx([2.5 / 3, 2 / 3, 1 / 3])
    assert got["predicted_total"].tolist() == pytest.approx([2.5, 2.0, 3.0]) and (got["actual_total"] == 4).all()
    assert got.loc["BG/NBD", "total_error"] == pytest.approx(-1.5 / 4)


def test_the_cdnow_model_beats_the_naive_predictors_on_its_holdout(cdnow_lines):
    value = clv.customer_value(cdnow_lines, CDNOW_AS_OF, holdout_days=90)
    c = value.holdout.comparison.set_index("predictor")
    naive = c.loc[list(clv.NAIVE.values()), "mae"].min()
    # both models beat both naive predictors per customer; the one in use has the lower error
    assert c.loc["BG/NBD", "mae"] < naive and c.loc["Pareto/NBD", "mae"] < naive
    assert value.holdout.model == c.loc[list(clv.PURCHASE_MODELS), "mae"].idxmin() == value.purchase_model.model
    assert value.reliable and value.doubts == () and value.naive is None
    assert abs(c.loc[value.holdout.model, "total_error"]) < 0.07
    assert not any("not reliable" in w for w in value.warnings)


@pytest.mark.slow
def test_the_command_line_build_of_the_cdnow_sample_reproduces_the_published_fits(tmp_path):
    import json

    from tests.conftest import run_cli

    path = CDNOW / "CDNOW_sample.txt"
    if not path.exists():
        pytest.skip(f"CDNOW sample not found at {path} (../shared/data/cdnow; absent in a fresh clone)")
    code, _, err = run_cli("--input", str(path), "--as-of", "1997-10-01", "--map", "customer_id=column1",
                           "--map", "order_ts=column3", "--map", "quantity=column4", "--map", "revenue=column5",
                           "--currency", "$", "--output", str(tmp_path / "site"), "--quiet")
    assert code == 0, err
    summary = json.loads((tmp_path / "site" / "downloads" / "summary.json").read_text(encoding="utf-8"))
    # cleaning drops zero-price lines, so the 8 customers whose only purchase cost $0.00 are left out
    assert summary["headline"]["customers"] == 2357 - 8
    bg, gg = summary["models"]["purchase_models"]["BG/NBD"], summary["models"]["gamma_gamma"]
    assert bg["time_unit"] == "days" and bg["alpha"] / 7 == pytest.approx(PUBLISHED_BGNBD.alpha, abs=0.015)
    for name in ("r", "a", "b"):
        assert bg[name] == pytest.approx(getattr(PUBLISHED_BGNBD, name), abs=0.015), name
    pnbd = summary["models"]["purchase_models"]["Pareto/NBD"]       # Fader & Hardie (2005): 0.553, 10.58, 0.606, 11.67
    assert pnbd["alpha"] / 7 == pytest.approx(10.58, rel=0.02) and pnbd["beta"] / 7 == pytest.approx(11.67, rel=0.03)
    assert pnbd["r"] == pytest.approx(0.553, abs=0.015) and pnbd["s"] == pytest.approx(0.606, abs=0.03)
    assert summary["models"]["purchase_model"]["reliable"] is True
    # cleaning also drops rows that repeat another verbatim, which the papers keep: spend within 1%
    for name in ("p", "q", "gamma"):
        assert gg[name] == pytest.approx(getattr(PUBLISHED_GG, name), rel=0.01), name


def test_published_conditional_expectation_for_the_worked_example():
    assert bgnbd.expected_purchases(PUBLISHED_BGNBD, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.001)


def test_published_probability_of_no_purchases_in_39_weeks():
    assert bgnbd.purchase_count_probability(PUBLISHED_BGNBD, 39, 0) == pytest.approx(0.5737864, abs=1e-4)


# --- the benchmark -------------------------------------------------------------------------

def test_benchmark_runs_at_a_small_size_and_reports_the_target():
    out = io.StringIO()
    with redirect_stdout(out):
        assert bench_clv.main(["--customers", "2000", "--seed", "3"]) == 0
    text = out.getvalue()
    assert "BG/NBD fit" in text and "Gamma-Gamma fit" in text and "predictions" in text
    assert "target fits + predictions < 2 s on 2,000 customers:" in text


def test_alive_disagreements_list_repeat_customers_whose_segment_and_p_alive_disagree():
    from analysis.studies.value.clv import ALIVE_HIGH, ALIVE_LOW, alive_disagreements

    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f"],
        "rfm_segment": ["Lost", "Lost", "Champions", "Champions", "Lost", "Champions"],
        "frequency_orders": [3, 2, 5, 4, 1, 2],
        "p_alive": [ALIVE_HIGH, ALIVE_HIGH - 0.01, ALIVE_LOW - 0.01, ALIVE_LOW, 0.99, 0.1],
        "monetary": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
    })
    got = alive_disagreements(customers, frozenset({"Lost"}))
    # a: lapsing yet likely alive; c and f: active segment yet likely gone (f first: more revenue);
    # b, d: on the right side of the thresholds; e: one order, left out
    assert got["customer_id"].tolist() == ["f", "c", "a"]
    assert got["disagreement"].tolist() == ["model: likely gone", "model: likely gone", "model: still active"]


@pytest.mark.slow
def test_a_value_model_whose_drop_out_side_is_not_identified_is_marked_not_reliable_everywhere(tmp_path):
    """Customers who buy steadily to the end of the data and never stop: neither purchase model
    can pin its drop-out side down, so the one in use is marked not reliable on the overview (card
    and finding), the value page and the console; its P(alive) is withheld from the page and the
    downloads, and CLV comes from the best naive forecast instead."""
    import json

    from tests.conftest import run_cli

    rng = np.random.default_rng(3)
    rows = []
    start = dt.date(2023, 1, 1)
    for c in range(400):
        day = int(rng.integers(0, 300))
        gap = float(rng.uniform(10, 40))
        while day < 730:
            rows.append({"order_id": f"o{c}-{day}", "customer_id": f"c{c}", "product_id": "P1",
                         "date": (start + dt.timedelta(days=day)).isoformat(), "quantity": 1, "unit_price": 10.0})
            day += max(1, int(rng.exponential(gap)))
    path = tmp_path / "steady.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    site = tmp_path / "site"
    code, out, err = run_cli("--input", str(path), "--output", str(site))
    assert code == 0, err
    summary = json.loads((site / "downloads" / "summary.json").read_text(encoding="utf-8"))
    h, model = summary["headline"], summary["models"]["purchase_model"]
    assert h["value_model_reliable"] is False and model["reliable"] is False
    assert "not pinned down" in h["value_model_doubts"] and model["forecast_from"] in clv.NAIVE.values()
    assert summary["models"]["purchase_models"][model["model"]]["unidentified"]
    texts = [f["text"] for f in summary["findings"]]
    assert any(t.startswith(f"The purchase model ({model['model']}) is not reliable on this data") for t in texts)
    assert not any(t.startswith("Customers are predicted to spend") for t in texts)
    assert "the purchase model is not reliable on this data" in (site / "index.html").read_text(encoding="utf-8")
    value_page = (site / "value.html").read_text(encoding="utf-8")
    assert "The purchase model is not reliable on this data" in value_page and value_page.count("Withheld") == 2
    assert "NOT RELIABLE on this data" in out
    customers = pd.read_csv(site / "downloads" / "customers.csv")
    assert customers["p_alive"].isna().all() and customers["clv_365"].notna().all()
    assert len(pd.read_csv(site / "downloads" / "p_alive_disagreements.csv")) == 0
    # the forecast in use is the naive one: each customer's rate so far x days, discounted monthly
    assert (customers["clv_365"] >= 0).all() and customers["clv_365"].sum() > 0
