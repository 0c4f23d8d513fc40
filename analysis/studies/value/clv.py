"""Customer value: buy-till-you-die summaries, purchase and spend models, CLV, holdout.

Time is counted in whole days. `as_of` is exclusive, as everywhere in the project (clean.py
drops lines dated on or after it): the observation period ends on the day before `as_of`.
Per customer, from the distinct days on which they bought:

  frequency       repeat purchase days = distinct purchase days - 1
  recency         days from the first to the last purchase day (0 without repeats)
  T               days from the first purchase day to the last day of the period, as_of - 1
                  (so a purchase on that last day has recency = T; CDNOW's published T = 38.86
                  weeks for a first purchase on 1997-01-01 is 272 days to 1997-09-30, as_of 1997-10-01)
  monetary_value  mean revenue per repeat purchase day (the first day excluded; 0 without repeats)

Models are fitted with time in days (fit.time_unit == "days"); money is the data's.

Two purchase models are fitted on the data before the holdout (the last 90 days): BG/NBD and
Pareto/NBD. The one with the lower error per customer on the holdout is used, if it also beats
the naive predictors there and its parameters are pinned down by the data. Otherwise it is not
reliable on this data: its P(alive) is withheld and expected purchases (and so CLV) come from the
naive predictor that did best on the holdout, with the reasons in CustomerValue.doubts.

The functions read purchases: any table with customer_id, order_ts and revenue, one row per line
or (cheaper, and what the pipeline passes) per order (derived.orders).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import ibis
import numpy as np
import pandas as pd

from analysis import engine
from analysis.studies.value.bgnbd import BgNbdFit, distinct, fit_bgnbd
from analysis.studies.value.gammagamma import GammaGammaFit, expected_spend, fit_gamma_gamma, fitted_customers
from analysis.studies.value.mle import ConvergenceWarning
from analysis.studies.value.paretonbd import ParetoNbdFit, fit_pareto_nbd

PurchaseFit = BgNbdFit | ParetoNbdFit
# Purchase models, tried in this order on the holdout; the first is used when there is no holdout.
PURCHASE_MODELS: dict[str, Callable[..., PurchaseFit]] = {"BG/NBD": fit_bgnbd, "Pareto/NBD": fit_pareto_nbd}

SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "days_to_second"]
MONTH_DAYS = 365.25 / 12         # CLV discounts once per month of this length
TOP_FREQUENCY_GROUP = 7          # holdout groups: 0, 1, ..., 6, "7+"
FEW_REPEAT_CUSTOMERS = 50        # below this many repeat customers the fits get a caveat
CORRELATION_CAVEAT = 0.3         # |corr(frequency, spend)| above this questions Gamma-Gamma's independence
ONE_TIME_COLUMNS = ["one_time_wait_days", "one_time_later_share"]
# RFM vs P(alive) disagreements worth a look before a campaign: a lapsing RFM segment with
# P(alive) at least ALIVE_HIGH, or an active one with P(alive) below ALIVE_LOW.
ALIVE_HIGH, ALIVE_LOW = 0.8, 0.5


def _purchase_days(lines: ibis.Table, as_of: dt.date) -> ibis.Table:
    """One row per customer and purchase day before `as_of`: day, _revenue, and _k, the day's
    rank among the customer's purchase days (0 = the first)."""
    lines = lines.filter(lines.order_ts < engine.day_start(as_of))
    days = lines.group_by(["customer_id", lines.order_ts.date().name("day")]).aggregate(_revenue=lines.revenue.sum())
    return days.mutate(_k=ibis.row_number().over(group_by=days.customer_id, order_by=days.day))


def _summary_aggregates(days: ibis.Table, end: dt.date, prefix: str = "") -> dict:
    """Per customer, over the purchase days before `end` (ages in days before end - 1): T, the
    first day's age; last_age; second_age; n_days; revenue and first_revenue (the first day's).
    A customer's first days come first in _k, so the ranks of the days before `end` are theirs."""
    inside = days.day < ibis.date(end)
    age = ibis.date(end - dt.timedelta(days=1)).delta(days.day, unit="day")
    return {f"{prefix}T": age.max(where=inside), f"{prefix}last_age": age.min(where=inside),
            f"{prefix}second_age": age.max(where=inside & (days._k == 1)), f"{prefix}n_days": days.count(where=inside),
            f"{prefix}revenue": days._revenue.sum(where=inside),
            f"{prefix}first_revenue": days._revenue.sum(where=inside & (days._k == 0))}


def _summaries(lines: ibis.Table, as_of: dt.date, cutoff: dt.date | None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The summary before `as_of` and, with `cutoff`, the one before `cutoff` with each customer's
    holdout_purchases (purchase days in [cutoff, as_of)): one pass over the purchase days."""
    days = _purchase_days(lines, as_of)
    aggregates = _summary_aggregates(days, as_of)
    if cutoff is not None:
        aggregates |= _summary_aggregates(days, cutoff, "cal_")
        aggregates["cal_holdout_purchases"] = days.count(where=days.day >= ibis.date(cutoff))
        before = cutoff - (as_of - cutoff)           # a window as long as the holdout, just before it
        aggregates["cal_previous_purchases"] = days.count(where=(days.day >= ibis.date(before))
                                                          & (days.day < ibis.date(cutoff)))
        aggregates["recent_purchases"] = aggregates["cal_holdout_purchases"]
    df = engine.execute(days.group_by("customer_id").aggregate(**aggregates))
    summary = _finish_summary(df, with_holdout=False)
    if cutoff is None:
        return summary, None
    # purchase days in the last window, for the naive "same as the previous window" forecast
    summary["recent_purchases"] = df.set_index("customer_id")["recent_purchases"].reindex(
        summary["customer_id"]).fillna(0).to_numpy(dtype="int64")
    cal = df[df["cal_n_days"] > 0]
    cal = cal[["customer_id"]].join(cal.filter(like="cal_").rename(columns=lambda c: c[len("cal_"):]))
    return summary, _finish_summary(cal, with_holdout=True)


def summary_from_lines(lines: ibis.Table, as_of: dt.date, cutoff: dt.date | None = None) -> pd.DataFrame:
    """One row per customer, sorted by customer_id, from kept lines or orders (customer_id, order_ts, revenue).

    Columns SUMMARY_COLUMNS (days, see the module docstring; days_to_second is NaN without a
    repeat purchase). Without `cutoff`: lines before `as_of`. With `cutoff` (exclusive, before
    `as_of`): the summary of lines before `cutoff` (T counted to cutoff - 1), for customers who
    bought before it, plus `holdout_purchases`: their purchase days in [cutoff, as_of)."""
    if cutoff is not None and not cutoff < as_of:
        raise ValueError(f"cutoff {cutoff} must be before as_of {as_of}")
    summary, calibration = _summaries(lines, as_of, cutoff)
    return summary if cutoff is None else calibration


def _finish_summary(df: pd.DataFrame, with_holdout: bool) -> pd.DataFrame:
    """Engine aggregates -> SUMMARY_COLUMNS (+ holdout_purchases), typed and sorted."""
    frequency = df["n_days"].astype("int64") - 1
    # Engine sums carry float noise in the last bits; cents keep the fits identical run to run.
    repeat_revenue = (df["revenue"].astype("float64") - df["first_revenue"].astype("float64")).round(2)
    out = pd.DataFrame({
        "customer_id": df["customer_id"].astype("string"),
        "frequency": frequency,
        "recency": (df["T"] - df["last_age"]).astype("int64"),
        "T": df["T"].astype("int64"),
        "monetary_value": (repeat_revenue / frequency.where(frequency > 0)).fillna(0.0).astype("float64").round(6),
        "days_to_second": (df["T"] - df["second_age"]).astype("float64"),
    })
    if with_holdout:
        out["holdout_purchases"] = df["holdout_purchases"].fillna(0).astype("int64")
        out["previous_purchases"] = df["previous_purchases"].fillna(0).astype("int64")
    return out.sort_values("customer_id", kind="stable").reset_index(drop=True)


def one_time_risk(summary: pd.DataFrame) -> pd.DataFrame:
    """For customers without a repeat purchase: customer_id, one_time_wait_days (T: days from
    their only purchase day to the last day of the period) and one_time_later_share: among repeat
    customers observed for more than that many days (T > wait), the share whose second purchase
    came more than `wait` days after their first. A low share means few returning customers took
    this long; it is NaN when no repeat customer was observed that long, and NaN for repeat
    customers. The share leaves out customers who will return after the period ends, so it errs
    low (towards "at risk")."""
    repeat = summary[summary["frequency"] > 0]
    gaps = np.sort(repeat["days_to_second"].to_numpy(dtype=float))
    observed = np.sort(repeat["T"].to_numpy(dtype=float))
    wait = summary["T"].to_numpy(dtype=float)
    later = len(gaps) - np.searchsorted(gaps, wait, side="right")
    long_enough = len(observed) - np.searchsorted(observed, wait, side="right")
    one_time = summary["frequency"].to_numpy() == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(one_time & (long_enough > 0), later / long_enough, np.nan)
    return pd.DataFrame({"customer_id": summary["customer_id"],
                         "one_time_wait_days": np.where(one_time, wait, np.nan), "one_time_later_share": share})


def month_edges(horizon_days: float) -> np.ndarray:
    """0, one month, two months, ... in days, the last edge clipped to the horizon."""
    months = max(1, math.ceil(horizon_days / MONTH_DAYS - 1e-9))
    return np.minimum(np.arange(months + 1) * MONTH_DAYS, horizon_days)


def discounted_value(cumulative: Callable[[float], np.ndarray], spend: np.ndarray, horizon_days: float,
                     discount_rate: float) -> np.ndarray:
    """CLV over the horizon: sum over months m = 1..M of (expected purchases in month m) x spend
    / (1 + d)^m, where cumulative(days) gives each customer's expected purchases within `days`
    of the end of the period, d is the monthly discount rate and the last month may be partial."""
    edges = month_edges(horizon_days)
    cum = [cumulative(float(e)) for e in edges]
    value = sum((cum[m] - cum[m - 1]) / (1 + discount_rate) ** m for m in range(1, len(edges)))
    return value * np.asarray(spend, dtype=float)


def _cumulative(fit: PurchaseFit, x, t_x, T) -> Callable[[float], np.ndarray]:
    """Memoised days -> conditional expected purchases (horizons share month edges), worked out
    once per distinct (x, t_x, T) and given to every customer who has it."""
    cache: dict[float, np.ndarray] = {}
    (ux, ut, uT), _counts, inv = distinct(x, t_x, T, inverse=True)

    def f(days: float) -> np.ndarray:
        if days not in cache:
            cache[days] = fit.expected_purchases(days / fit.days_per_unit, ux, ut, uT)[inv] if days > 0 \
                else np.zeros(len(x))
        return cache[days]

    return f


def spend_frequency_correlation(summary: pd.DataFrame) -> float:
    """Pearson correlation of frequency and monetary_value over the Gamma-Gamma customers
    (NaN with fewer than 3 of them or no variation)."""
    keep = fitted_customers(summary["frequency"], summary["monetary_value"])
    x, m = summary["frequency"].to_numpy(float)[keep], summary["monetary_value"].to_numpy(float)[keep]
    if len(x) < 3 or x.std() == 0 or m.std() == 0:
        return math.nan
    return float(np.corrcoef(x, m)[0, 1])


def value_columns(horizons: tuple[int, ...] = (90, 365)) -> list[str]:
    """Columns of CustomerValue.customers for these horizons (expected_purchases_90 and _365
    are always present)."""
    expected = sorted(set(horizons) | {90, 365})
    return [*SUMMARY_COLUMNS[:5], "p_alive", *[f"expected_purchases_{h}" for h in expected],
            "expected_spend", *[f"clv_{h}" for h in horizons], *ONE_TIME_COLUMNS]


def value_table(summary: pd.DataFrame, bg: PurchaseFit | None, gg: GammaGammaFit | None,
                horizons: tuple[int, ...] = (90, 365), discount_rate: float = 0.01,
                naive_per_day: np.ndarray | None = None) -> pd.DataFrame:
    """Per customer (summary's order): value_columns(horizons). The summary is in days. p_alive
    and expected_purchases_<h> (purchase days within h days after the period) come from the
    purchase model `bg`, or with `naive_per_day` (each customer's purchase days per day, from a
    naive predictor) expected purchases are that rate times the days and p_alive is NaN;
    expected_spend (per purchase day) from `gg`, the population mean for customers without
    repeats, the mean monetary_value of the fitted customers where the model has no finite mean;
    clv_<h> = discounted_value(...). Model columns are NaN when a model is None."""
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    out = summary[SUMMARY_COLUMNS[:5]].copy()
    nan = np.full(len(out), np.nan)
    if naive_per_day is not None:
        cumulative = lambda days: naive_per_day * days  # noqa: E731
    else:
        cumulative = _cumulative(bg, x, t_x, T) if bg is not None else (lambda days: nan)
    spend = expected_spend(gg, x, summary["monetary_value"]) if gg is not None else nan
    if gg is not None and np.isnan(spend).any():
        keep = fitted_customers(x, summary["monetary_value"])
        spend = np.where(np.isnan(spend), summary["monetary_value"].to_numpy(float)[keep].mean(), spend)
    out["p_alive"] = bg.p_alive(x, t_x, T) if bg is not None and naive_per_day is None else nan
    for h in sorted(set(horizons) | {90, 365}):
        out[f"expected_purchases_{h}"] = cumulative(float(h))
    out["expected_spend"] = spend
    for h in horizons:
        out[f"clv_{h}"] = discounted_value(cumulative, spend, h, discount_rate)
    risk = one_time_risk(summary)
    return pd.concat([out, risk[ONE_TIME_COLUMNS]], axis=1)[value_columns(horizons)]


def fit_models(summary: pd.DataFrame, model: str = "BG/NBD", near: PurchaseFit | None = None
               ) -> tuple[PurchaseFit | None, GammaGammaFit | None, list[str]]:
    """The purchase model named `model` (PURCHASE_MODELS; days) and Gamma-Gamma fitted on a summary,
    with caveats as sentences; `near`: a fit of that model to most of the same data to start from.
    A model is None when the data cannot support it (fewer than 2 repeat customers); convergence
    problems are in each fit's `warnings` and in the caveats."""
    repeat = int((summary["frequency"] > 0).sum())
    if repeat < 2:
        return None, None, [f"Only {repeat} customer(s) bought on more than one day: too few to fit the "
                            "purchase and spend models; no value predictions were made"]
    notes = []
    bg = PURCHASE_MODELS[model](summary["frequency"], summary["recency"], summary["T"], time_unit="days", near=near)
    n_gg = int(fitted_customers(summary["frequency"], summary["monetary_value"]).sum())
    gg = fit_gamma_gamma(summary["frequency"], summary["monetary_value"]) if n_gg >= 2 else None
    notes += list(bg.warnings) + (list(gg.warnings) if gg else ["Too few repeat customers with positive "
                                                                "spend to fit the spend model"])
    if repeat < FEW_REPEAT_CUSTOMERS:
        notes.append(f"Only {repeat} customers bought on more than one day: the model parameters are uncertain")
    if gg is not None and gg.q <= 1:
        notes.append(f"The spend model's q = {gg.q:.2f} <= 1 has no finite mean spend; customers without "
                     "repeat purchases get the average observed repeat spend instead")
    return bg, gg, notes


@dataclass(frozen=True)
class HoldoutCheck:
    """Each purchase model fitted on lines before `cutoff`, predicting purchase days in
    [cutoff, as_of), against naive predictors; `model` names the one with the lowest error.

    fits: model name -> calibration fit (models that could be fitted).
    customers: customer_id, frequency (calibration), actual_purchases, predicted_purchases (`model`'s).
    by_frequency: frequency_group ("0".."6", "7+"; all eight rows), customers, actual_mean,
    predicted_mean, actual_total, predicted_total (means NaN for an empty group), for `model`.
    mae: `model`'s mean absolute error of predicted vs actual purchase days per customer.
    comparison: COMPARISON_COLUMNS, one row per model, then the naive predictors."""

    cutoff: dt.date
    holdout_days: int
    model: str
    fits: dict
    customers: pd.DataFrame
    by_frequency: pd.DataFrame
    mae: float
    comparison: pd.DataFrame

    @property
    def best_naive(self) -> str:
        """The key in NAIVE of the naive predictor with the lowest error."""
        naive = self.comparison[self.comparison["predictor"].isin(NAIVE.values())]
        label = naive.sort_values("mae", kind="stable")["predictor"].iloc[0]
        return next(k for k, v in NAIVE.items() if v == label)

    @property
    def beats_naive(self) -> bool:
        """The model in use has a lower error per customer than every naive predictor."""
        c = self.comparison
        return bool(self.mae < c.loc[c["predictor"].isin(NAIVE.values()), "mae"].min())


COMPARISON_COLUMNS = ["predictor", "mae", "predicted_total", "actual_total", "total_error"]
NAIVE = {"rate": "Each customer's repeat-purchase rate so far", "previous": "Same as the previous window"}


def naive_per_day(summary: pd.DataFrame, naive: str, window_days: int) -> np.ndarray:
    """Each customer's purchase days per day by a naive predictor (NAIVE): repeat purchase days
    per day since the first purchase day (0 for a customer first seen on the last day), or the
    purchase days of the last `window_days` (summary's recent_purchases, or holdout's
    previous_purchases) per day."""
    if naive == "rate":
        x, T = summary["frequency"].to_numpy(dtype=float), summary["T"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(T > 0, x / T, 0.0)
    column = "recent_purchases" if "recent_purchases" in summary else "previous_purchases"
    return summary[column].to_numpy(dtype=float) / window_days


def holdout_comparison(cal: pd.DataFrame, predicted: dict[str, np.ndarray], holdout_days: int) -> pd.DataFrame:
    """COMPARISON_COLUMNS, one row per predictor of each customer's purchase days in the holdout:
    each model in `predicted` (name -> predictions); each customer's repeat purchase days per day
    since their first purchase day, times the holdout's days (0 for a customer first seen on the
    cutoff's eve); and the purchase days in the window of the same length just before the cutoff.
    mae: mean absolute error per customer; total_error: (predicted - actual) / actual over all customers."""
    actual = cal["holdout_purchases"].to_numpy(dtype=float)
    guesses = {**predicted, **{label: naive_per_day(cal, key, holdout_days) * holdout_days
                               for key, label in NAIVE.items()}}
    rows = []
    for name, guess in guesses.items():
        total = float(guess.sum())
        rows.append({"predictor": name, "mae": float(np.abs(guess - actual).mean()), "predicted_total": total,
                     "actual_total": float(actual.sum()),
                     "total_error": (total - actual.sum()) / actual.sum() if actual.sum() else np.nan})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def frequency_groups(frequency: pd.Series) -> pd.Series:
    """Calibration frequency as an ordered category: "0", "1", ..., "6", "7+"."""
    labels = [str(k) for k in range(TOP_FREQUENCY_GROUP)] + [f"{TOP_FREQUENCY_GROUP}+"]
    codes = np.minimum(frequency.to_numpy(dtype=int), TOP_FREQUENCY_GROUP)
    return pd.Series(pd.Categorical.from_codes(codes, categories=labels, ordered=True), index=frequency.index)


def holdout_by_frequency(customers: pd.DataFrame) -> pd.DataFrame:
    """HoldoutCheck.by_frequency from HoldoutCheck.customers."""
    grouped = customers.groupby(frequency_groups(customers["frequency"]).rename("frequency_group"), observed=False)
    table = grouped.agg(customers=("customer_id", "size"), actual_mean=("actual_purchases", "mean"),
                        predicted_mean=("predicted_purchases", "mean"), actual_total=("actual_purchases", "sum"),
                        predicted_total=("predicted_purchases", "sum")).reset_index()
    table["frequency_group"] = table["frequency_group"].astype("string")
    return table.astype({"customers": "int64", "actual_total": "int64", "predicted_total": "float64"})


def _valid_holdout(holdout_days) -> bool:
    return int(holdout_days) == holdout_days and holdout_days >= 1


def holdout_check(lines: ibis.Table, as_of: dt.date, holdout_days: int,
                  calibration: pd.DataFrame | None = None) -> HoldoutCheck:
    """Fit every purchase model on lines before as_of - holdout_days and compare their predictions
    with the purchase days that followed, per customer who bought before the cutoff. ValueError
    when the calibration data cannot support a fit. `calibration`: that summary, when already made
    (value_summaries)."""
    if not _valid_holdout(holdout_days):
        raise ValueError(f"holdout_days must be a whole number of days >= 1, not {holdout_days!r}")
    cutoff = as_of - dt.timedelta(days=int(holdout_days))
    cal = summary_from_lines(lines, as_of, cutoff) if calibration is None else calibration
    summary = tuple(cal[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    fits = {name: fit(*summary, time_unit="days") for name, fit in PURCHASE_MODELS.items()}
    predicted = {name: fit.expected_purchases(holdout_days, *summary) for name, fit in fits.items()}
    comparison = holdout_comparison(cal, predicted, int(holdout_days))
    errors = comparison.set_index("predictor")["mae"]
    model = min(fits, key=lambda name: (errors[name], list(fits).index(name)))
    customers = pd.DataFrame({"customer_id": cal["customer_id"], "frequency": cal["frequency"],
                              "actual_purchases": cal["holdout_purchases"], "predicted_purchases": predicted[model]})
    return HoldoutCheck(cutoff, int(holdout_days), model, fits, customers, holdout_by_frequency(customers),
                        float(errors[model]), comparison)


@dataclass(frozen=True)
class CustomerValue:
    """The customer-value stage's result. customers: value_columns(horizons), one row per
    customer sorted by customer_id; time in days, money in the data's currency, discount_rate
    per month. purchase_model: the fit in use (the holdout's best, BG/NBD without a holdout).
    Fits are None when the data cannot support them. doubts: why the purchase model is not
    reliable on this data (empty when it is); then `naive` names the NAIVE predictor whose
    forecast replaced it. warnings are sentences for the report (convergence, few customers,
    spend/frequency correlation, holdout problems)."""

    customers: pd.DataFrame
    purchase_model: PurchaseFit | None
    gamma_gamma: GammaGammaFit | None
    spend_frequency_correlation: float
    as_of: dt.date
    horizons_days: tuple[int, ...]
    discount_rate: float
    holdout: HoldoutCheck | None
    warnings: tuple[str, ...]
    doubts: tuple[str, ...] = ()
    naive: str | None = None
    fits: dict = field(default_factory=dict)   # model name -> its fit on all the data (purchase_model included)

    @property
    def reliable(self) -> bool:
        return self.purchase_model is not None and not self.doubts


def value_summaries(lines: ibis.Table, as_of: dt.date,
                    holdout_days: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The engine's part of customer_value: the summary of the purchases before `as_of` and, with
    a valid `holdout_days`, the calibration summary for the holdout check (else None)."""
    valid = bool(holdout_days) and _valid_holdout(holdout_days)
    return _summaries(lines, as_of, as_of - dt.timedelta(days=int(holdout_days)) if valid else None)


def model_doubts(fit: PurchaseFit, holdout: HoldoutCheck | None) -> tuple[str, ...]:
    """Why a purchase model is not reliable on this data: a naive predictor beat it on the holdout,
    or parameters the data do not pin down (in the full fit)."""
    doubts = []
    if holdout is not None and not holdout.beats_naive:
        c = holdout.comparison.set_index("predictor")["mae"]
        naive = NAIVE[holdout.best_naive]
        doubts.append(f"a naive predictor ('{naive}') beats it on the last {holdout.holdout_days} days (mean error "
                      f"{c[naive]:.3f} purchase days per customer against {c[fit.model]:.3f})")
    if fit.unidentified:
        doubts.append(f"{', '.join(fit.unidentified)} not pinned down by the data")
    return tuple(doubts)


def customer_value(lines: ibis.Table, as_of: dt.date, horizons: tuple[int, ...] = (90, 365),
                   discount_rate: float = 0.01, holdout_days: int | None = None,
                   summaries: tuple[pd.DataFrame, pd.DataFrame | None] | None = None) -> CustomerValue:
    """Summarise kept lines or orders (customer_id, order_ts, revenue) before `as_of`; with
    `holdout_days`, fit every purchase model on the data before the last `holdout_days` days and
    keep the one that predicts them best (else BG/NBD); fit it and Gamma-Gamma on all the data and
    predict per customer. A model that is not reliable (model_doubts) has its forecast replaced by
    the best naive predictor's. Convergence problems do not raise: they are returned in `warnings`
    (ConvergenceWarnings are not re-emitted). `summaries`: value_summaries(lines, as_of,
    holdout_days), when already made."""
    horizons = tuple(dict.fromkeys(int(h) for h in horizons))
    if not horizons or min(horizons) < 1 or not discount_rate > -1:
        raise ValueError(f"horizons must be whole days >= 1 and discount_rate > -1; got {horizons}, {discount_rate}")
    summary, calibration = summaries if summaries is not None else value_summaries(lines, as_of, holdout_days)
    notes, holdout = [], None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if holdout_days:
            try:
                holdout = holdout_check(lines, as_of, holdout_days, calibration)
                notes += [f"Holdout check: {w}" for w in holdout.fits[holdout.model].warnings]
            except ValueError as exc:
                notes.append(f"Holdout check of the last {holdout_days} days skipped: {exc}")
        model = holdout.model if holdout else next(iter(PURCHASE_MODELS))
        bg, gg, fit_notes = fit_models(summary, model, holdout.fits[model] if holdout else None)
        notes = fit_notes + notes
        doubts = model_doubts(bg, holdout) if bg is not None else ()
        naive = (holdout.best_naive if holdout else "rate") if doubts else None
        rates = naive_per_day(summary, naive, int(holdout_days or 1)) if naive else None
        customers = value_table(summary, bg, gg, horizons, discount_rate, rates)
        columns = tuple(summary[c] for c in ("frequency", "recency", "T"))
        fits = {name: bg if name == bg.model else fit(*columns, time_unit="days",
                                                      near=holdout.fits.get(name) if holdout else None)
                for name, fit in PURCHASE_MODELS.items()} if bg is not None else {}
    if doubts:
        notes.append(f"The purchase model ({bg.model}) is not reliable on this data: {'; '.join(doubts)}. Its "
                     f"probabilities alive are withheld and expected purchases come from '{NAIVE[naive]}' instead")
    corr = spend_frequency_correlation(summary)
    if abs(corr) > CORRELATION_CAVEAT:
        notes.append(f"Spend and purchase frequency are correlated (r = {corr:.2f}); the spend model assumes "
                     "they are independent, so expected spend is less reliable")
    return CustomerValue(customers, bg, gg, corr, as_of, horizons, float(discount_rate), holdout, tuple(notes),
                         doubts, naive, fits)


def value_order(customers: pd.DataFrame) -> pd.Series:
    """Every customer with a lifetime value, highest first (ties: customer id): their ids in list
    order (top_clv.csv and the value page)."""
    valued = customers.loc[customers["clv"].notna(), ["clv", "customer_id"]]
    return valued.sort_values(["clv", "customer_id"], ascending=[False, True], kind="stable")["customer_id"].reset_index(
        drop=True)


def alive_disagreements(customers: pd.DataFrame, lapsing: frozenset[str]) -> pd.DataFrame:
    """Repeat customers whose RFM segment and the purchase model's P(alive) disagree: in a `lapsing` RFM segment
    yet P(alive) >= ALIVE_HIGH ('model: still active'), or outside one yet P(alive) < ALIVE_LOW
    ('model: likely gone'), with a `disagreement` column; sorted by it, then by revenue (largest
    first). One-order customers are left out: the model gives them P(alive) = 1."""
    read = ["customer_id", "frequency_orders", "p_alive", "rfm_segment", "monetary"]
    repeat = customers.loc[(customers["frequency_orders"] > 1) & customers["p_alive"].notna(), read]
    is_lapsing = repeat["rfm_segment"].isin(lapsing)
    active = repeat[is_lapsing & (repeat["p_alive"] >= ALIVE_HIGH)].assign(disagreement="model: still active")
    gone = repeat[~is_lapsing & (repeat["p_alive"] < ALIVE_LOW)].assign(disagreement="model: likely gone")
    out = pd.concat([gone, active], ignore_index=True)
    return out.sort_values(["disagreement", "monetary", "customer_id"], ascending=[True, False, True], kind="stable")
