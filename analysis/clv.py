"""Customer value: buy-till-you-die summaries, BG/NBD + Gamma-Gamma predictions, CLV, holdout.

Time is counted in whole days. `as_of` is exclusive, as everywhere in the project (clean.py
drops lines dated on or after it): the observation period ends on the day before `as_of`.
Per customer, from the distinct days on which they bought:

  frequency       repeat purchase days = distinct purchase days - 1
  recency         days from the first to the last purchase day (0 without repeats)
  T               days from the first purchase day to the last day of the period, as_of - 1
                  (so a purchase on that last day has recency = T; CDNOW's published T = 38.86
                  weeks for a first purchase on 1997-01-01 is 272 days to 1997-09-30, as_of 1997-10-01)
  monetary_value  mean revenue per repeat purchase day (the first day excluded; 0 without repeats)

Models are fitted with time in days (BgNbdFit.time_unit == "days"); money is the data's.

The functions read purchases: any table with customer_id, order_ts and revenue, one row per line
or (cheaper, and what the pipeline passes) per order (derived.orders).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import ibis
import numpy as np
import pandas as pd

from analysis import engine
from analysis.bgnbd import BgNbdFit, distinct, expected_purchases, fit_bgnbd, p_alive
from analysis.gammagamma import GammaGammaFit, expected_spend, fit_gamma_gamma, fitted_customers
from analysis.mle import ConvergenceWarning

SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value", "days_to_second"]
MONTH_DAYS = 365.25 / 12         # CLV discounts once per month of this length
TOP_FREQUENCY_GROUP = 7          # holdout groups: 0, 1, ..., 6, "7+"
FEW_REPEAT_CUSTOMERS = 50        # below this many repeat customers the fits get a caveat
CORRELATION_CAVEAT = 0.3         # |corr(frequency, spend)| above this questions Gamma-Gamma's independence
ONE_TIME_COLUMNS = ["one_time_wait_days", "one_time_later_share"]
# RFM vs P(alive) disagreements worth a look before a campaign: a lapsing RFM segment with
# P(alive) at least ALIVE_HIGH, or an active one with P(alive) below ALIVE_LOW.
ALIVE_HIGH, ALIVE_LOW = 0.8, 0.5


def _day_start(day: dt.date) -> ibis.Value:
    return ibis.timestamp(dt.datetime.combine(day, dt.time()))


def _purchase_days(lines: ibis.Table, as_of: dt.date) -> ibis.Table:
    """One row per customer and purchase day before `as_of`: day, _revenue, and _k, the day's
    rank among the customer's purchase days (0 = the first)."""
    lines = lines.filter(lines.order_ts < _day_start(as_of))
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
    df = engine.execute(days.group_by("customer_id").aggregate(**aggregates))
    summary = _finish_summary(df, with_holdout=False)
    if cutoff is None:
        return summary, None
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


def _cumulative(fit: BgNbdFit, x, t_x, T) -> Callable[[float], np.ndarray]:
    """Memoised days -> conditional expected purchases (horizons share month edges), worked out
    once per distinct (x, t_x, T) and given to every customer who has it."""
    cache: dict[float, np.ndarray] = {}
    (ux, ut, uT), _counts, inv = distinct(x, t_x, T, inverse=True)

    def f(days: float) -> np.ndarray:
        if days not in cache:
            cache[days] = expected_purchases(fit, days / fit.days_per_unit, ux, ut, uT)[inv] if days > 0 \
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


def value_table(summary: pd.DataFrame, bg: BgNbdFit | None, gg: GammaGammaFit | None,
                horizons: tuple[int, ...] = (90, 365), discount_rate: float = 0.01) -> pd.DataFrame:
    """Per customer (summary's order): value_columns(horizons). The summary is in days. p_alive
    and expected_purchases_<h> (purchase days within h days after the period) come from `bg`;
    expected_spend (per purchase day) from `gg`, the population mean for customers without
    repeats, the mean monetary_value of the fitted customers where the model has no finite mean;
    clv_<h> = discounted_value(...). Model columns are NaN when a model is None."""
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    out = summary[SUMMARY_COLUMNS[:5]].copy()
    nan = np.full(len(out), np.nan)
    cumulative = _cumulative(bg, x, t_x, T) if bg is not None else (lambda days: nan)
    spend = expected_spend(gg, x, summary["monetary_value"]) if gg is not None else nan
    if gg is not None and np.isnan(spend).any():
        keep = fitted_customers(x, summary["monetary_value"])
        spend = np.where(np.isnan(spend), summary["monetary_value"].to_numpy(float)[keep].mean(), spend)
    out["p_alive"] = p_alive(bg, x, t_x, T) if bg is not None else nan
    for h in sorted(set(horizons) | {90, 365}):
        out[f"expected_purchases_{h}"] = cumulative(float(h))
    out["expected_spend"] = spend
    for h in horizons:
        out[f"clv_{h}"] = discounted_value(cumulative, spend, h, discount_rate)
    risk = one_time_risk(summary)
    return pd.concat([out, risk[ONE_TIME_COLUMNS]], axis=1)[value_columns(horizons)]


def fit_models(summary: pd.DataFrame) -> tuple[BgNbdFit | None, GammaGammaFit | None, list[str]]:
    """BG/NBD (days) and Gamma-Gamma fits on a summary, with caveats as sentences. A model is
    None when the data cannot support it (fewer than 2 repeat customers); convergence problems
    are in each fit's `warnings` and in the caveats."""
    repeat = int((summary["frequency"] > 0).sum())
    if repeat < 2:
        return None, None, [f"Only {repeat} customer(s) bought on more than one day: too few to fit the "
                            "purchase and spend models; no value predictions were made"]
    notes = []
    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], time_unit="days")
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
    """BG/NBD fitted on lines before `cutoff`, predicting purchase days in [cutoff, as_of).

    customers: customer_id, frequency (calibration), actual_purchases, predicted_purchases.
    by_frequency: frequency_group ("0".."6", "7+"; all eight rows), customers, actual_mean,
    predicted_mean, actual_total, predicted_total (means NaN for an empty group).
    mae: mean absolute error of predicted vs actual purchase days per customer."""

    cutoff: dt.date
    holdout_days: int
    bgnbd: BgNbdFit
    customers: pd.DataFrame
    by_frequency: pd.DataFrame
    mae: float
    comparison: pd.DataFrame | None = None   # COMPARISON_COLUMNS: the model against naive predictors

    @property
    def beats_naive(self) -> bool:
        """The model's error per customer is below every naive predictor's."""
        c = self.comparison
        if c is None or c.empty:
            return True
        return bool(c.loc[c["predictor"] == MODEL, "mae"].iloc[0] < c.loc[c["predictor"] != MODEL, "mae"].min())


MODEL = "BG/NBD"
COMPARISON_COLUMNS = ["predictor", "mae", "predicted_total", "actual_total", "total_error"]
NAIVE = {"rate": "Each customer's repeat-purchase rate so far", "previous": "Same as the previous window"}


def holdout_comparison(cal: pd.DataFrame, predicted: np.ndarray, holdout_days: int) -> pd.DataFrame:
    """COMPARISON_COLUMNS, one row per predictor of each customer's purchase days in the holdout:
    the model; each customer's repeat purchase days per day since their first purchase day, times
    the holdout's days (0 for a customer first seen on the cutoff's eve); and the purchase days in
    the window of the same length just before the cutoff. mae: mean absolute error per customer;
    total_error: (predicted - actual) / actual over all customers."""
    actual = cal["holdout_purchases"].to_numpy(dtype=float)
    x, T = cal["frequency"].to_numpy(dtype=float), cal["T"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(T > 0, x / T, 0.0) * holdout_days
    rows = []
    for name, guess in ((MODEL, predicted), (NAIVE["rate"], rate),
                        (NAIVE["previous"], cal["previous_purchases"].to_numpy(dtype=float))):
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
    """Fit BG/NBD on lines before as_of - holdout_days and compare its predictions with the
    purchase days that followed, per customer who bought before the cutoff. ValueError when the
    calibration data cannot support a fit. `calibration`: that summary, when already made
    (value_summaries)."""
    if not _valid_holdout(holdout_days):
        raise ValueError(f"holdout_days must be a whole number of days >= 1, not {holdout_days!r}")
    cutoff = as_of - dt.timedelta(days=int(holdout_days))
    cal = summary_from_lines(lines, as_of, cutoff) if calibration is None else calibration
    bg = fit_bgnbd(cal["frequency"], cal["recency"], cal["T"], time_unit="days")
    predicted = expected_purchases(bg, holdout_days, *(cal[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    customers = pd.DataFrame({"customer_id": cal["customer_id"], "frequency": cal["frequency"],
                              "actual_purchases": cal["holdout_purchases"], "predicted_purchases": predicted})
    comparison = holdout_comparison(cal, predicted, int(holdout_days))
    mae = float(comparison.loc[comparison["predictor"] == MODEL, "mae"].iloc[0])
    return HoldoutCheck(cutoff, int(holdout_days), bg, customers, holdout_by_frequency(customers), mae, comparison)


@dataclass(frozen=True)
class CustomerValue:
    """The customer-value stage's result. customers: value_columns(horizons), one row per
    customer sorted by customer_id; time in days, money in the data's currency, discount_rate
    per month. Fits are None when the data cannot support them; warnings are sentences for the
    report (convergence, few customers, spend/frequency correlation, holdout problems)."""

    customers: pd.DataFrame
    bgnbd: BgNbdFit | None
    gamma_gamma: GammaGammaFit | None
    spend_frequency_correlation: float
    as_of: dt.date
    horizons_days: tuple[int, ...]
    discount_rate: float
    holdout: HoldoutCheck | None
    warnings: tuple[str, ...]


def value_summaries(lines: ibis.Table, as_of: dt.date,
                    holdout_days: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The engine's part of customer_value: the summary of the purchases before `as_of` and, with
    a valid `holdout_days`, the calibration summary for the holdout check (else None)."""
    valid = bool(holdout_days) and _valid_holdout(holdout_days)
    return _summaries(lines, as_of, as_of - dt.timedelta(days=int(holdout_days)) if valid else None)


def customer_value(lines: ibis.Table, as_of: dt.date, horizons: tuple[int, ...] = (90, 365),
                   discount_rate: float = 0.01, holdout_days: int | None = None,
                   summaries: tuple[pd.DataFrame, pd.DataFrame | None] | None = None) -> CustomerValue:
    """Summarise kept lines or orders (customer_id, order_ts, revenue) before `as_of`, fit BG/NBD and
    Gamma-Gamma, predict per customer, and optionally check predictions on a holdout of the last
    `holdout_days` days (a separate fit on the lines before it). Convergence problems do not
    raise: they are returned in `warnings` (ConvergenceWarnings are not re-emitted).
    `summaries`: value_summaries(lines, as_of, holdout_days), when already made."""
    horizons = tuple(dict.fromkeys(int(h) for h in horizons))
    if not horizons or min(horizons) < 1 or not discount_rate > -1:
        raise ValueError(f"horizons must be whole days >= 1 and discount_rate > -1; got {horizons}, {discount_rate}")
    summary, calibration = summaries if summaries is not None else value_summaries(lines, as_of, holdout_days)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bg, gg, notes = fit_models(summary)
        customers = value_table(summary, bg, gg, horizons, discount_rate)
        holdout = None
        if holdout_days:
            try:
                holdout = holdout_check(lines, as_of, holdout_days, calibration)
                notes += [f"Holdout check: {w}" for w in holdout.bgnbd.warnings]
                if not holdout.beats_naive:
                    c = holdout.comparison.set_index("predictor")["mae"]
                    notes.append(f"Holdout check: the purchase model does not beat a naive predictor on the last "
                                 f"{holdout_days} days (mean error {c[MODEL]:.3f} purchase days per customer against "
                                 f"{c.drop(MODEL).min():.3f} for '{c.drop(MODEL).idxmin()}'): its predictions are "
                                 "not reliable on this data")
            except ValueError as exc:
                notes.append(f"Holdout check of the last {holdout_days} days skipped: {exc}")
    corr = spend_frequency_correlation(summary)
    if abs(corr) > CORRELATION_CAVEAT:
        notes.append(f"Spend and purchase frequency are correlated (r = {corr:.2f}); the spend model assumes "
                     "they are independent, so expected spend is less reliable")
    return CustomerValue(customers, bg, gg, corr, as_of, horizons, float(discount_rate), holdout, tuple(notes))


def alive_disagreements(customers: pd.DataFrame, lapsing: frozenset[str]) -> pd.DataFrame:
    """Repeat customers whose RFM segment and BG/NBD P(alive) disagree: in a `lapsing` RFM segment
    yet P(alive) >= ALIVE_HIGH ('model: still active'), or outside one yet P(alive) < ALIVE_LOW
    ('model: likely gone'), with a `disagreement` column; sorted by it, then by revenue (largest
    first). One-order customers are left out: the model gives them P(alive) = 1."""
    repeat = customers[(customers["frequency_orders"] > 1) & customers["p_alive"].notna()]
    is_lapsing = repeat["rfm_segment"].isin(lapsing)
    active = repeat[is_lapsing & (repeat["p_alive"] >= ALIVE_HIGH)].assign(disagreement="model: still active")
    gone = repeat[~is_lapsing & (repeat["p_alive"] < ALIVE_LOW)].assign(disagreement="model: likely gone")
    out = pd.concat([gone, active], ignore_index=True)
    return out.sort_values(["disagreement", "monetary", "customer_id"], ascending=[True, False, True], kind="stable")
