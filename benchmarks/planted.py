"""Transaction files with planted customer groups, written from customer behaviour for the recovery
benchmark, independently of the clustering code and of the sample's generator (data/).

A group is a kind of shopper described the way a shop would describe them: how often they order
and when (the whole period, only lately, only until a year ago, only in the fourth quarter, only at
weekends), what a basket holds (lines, units, price level, how many different products over time),
and how much they send back. A family is a question about recovery: the groups that differ only in
recency, only in timing, in basket, in returns, one-time buyers against repeaters, or groups of a
few percent beside large ones; each data set of a family holds its own groups plus a few
background groups, 3 to 8 groups in all, with sizes from 2% to 50%. Files use the Online Retail II
column names (Invoice, StockCode, Description, Quantity, InvoiceDate, Price, Customer ID,
Country); noise adds occasional returns (credit notes), guest orders, postage lines and a few
outlier customers with one huge order.

    families = FAMILIES; transactions, truth = planted(family, seed, noise=True)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

START = dt.date(2022, 1, 1)
DAYS = 730                      # two years of trading
PRODUCTS = 600
COLUMNS = ["Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price", "Customer ID", "Country"]


@dataclass(frozen=True)
class Shopper:
    """How one kind of customer shops. Ranges are drawn per customer, uniformly."""

    orders_per_year: tuple[float, float] = (4, 8)   # while active; ignored for one-time buyers
    active: tuple[float, float] = (0.0, 1.0)         # part of the period they shop in (fractions)
    start_spread: float = 0.5                        # first order within this part of their window
    one_time: bool = False                           # exactly one order, anywhere in `active`
    min_orders: int = 1                              # at least this many orders (repeaters: 2)
    months: tuple[int, ...] = ()                     # only these calendar months (empty: any)
    weekend: float = 2 / 7                           # chance an order falls on a weekend
    lines: tuple[int, int] = (2, 6)                  # product lines per order
    units: tuple[int, int] = (1, 4)                  # units per line
    price: float = 1.0                               # multiplier on the catalogue price
    repertoire: tuple[int, int] = (10, 40)           # different products they buy from
    returns: tuple[float, float] = (0.0, 0.0)        # share of lines sent back (noise adds a little)


SHOPPERS = {
    "regular": Shopper(),
    "active": Shopper(orders_per_year=(8, 14)),
    "lapsed": Shopper(orders_per_year=(8, 14), active=(0.0, 0.45)),
    "newcomer": Shopper(orders_per_year=(8, 14), active=(0.8, 1.0), start_spread=0.3),
    "seasonal": Shopper(orders_per_year=(18, 30), months=(10, 11, 12), lines=(3, 8)),
    "weekender": Shopper(orders_per_year=(6, 12), weekend=1.0),
    "weekday": Shopper(orders_per_year=(6, 12), weekend=0.0),
    "wholesale": Shopper(orders_per_year=(12, 26), lines=(15, 40), units=(12, 48), price=0.8,
                         repertoire=(80, 200)),
    "small_basket": Shopper(orders_per_year=(4, 8), lines=(1, 2), units=(1, 2)),
    "big_spender": Shopper(orders_per_year=(3, 6), lines=(3, 6), units=(1, 3), price=4.0),
    "returner": Shopper(orders_per_year=(6, 10), returns=(0.35, 0.6)),
    "keeper": Shopper(orders_per_year=(6, 10)),
    "one_time": Shopper(one_time=True, lines=(1, 4)),
    "occasional": Shopper(orders_per_year=(1, 2.5), min_orders=2),
    "loyal": Shopper(orders_per_year=(10, 20), repertoire=(30, 80)),
}


@dataclass(frozen=True)
class Family:
    """A recovery question: `groups` always appear; `background` groups fill each data set up to
    3 to 8 groups in all."""

    groups: tuple[str, ...]
    background: tuple[str, ...] = ()
    held_out: bool = False     # kept out of tuning: only for checking
    note: str = ""
    extra: tuple[int, int] = field(default=(0, 2))  # background groups added, range
    rare: int = 0              # this many groups (the last drawn) hold only 2.5% to 4% of customers


FAMILIES = {
    "recency": Family(("active", "lapsed", "newcomer"), ("small_basket", "wholesale", "one_time"),
                      note="same volume, different recency"),
    "basket": Family(("small_basket", "regular", "wholesale", "big_spender"), ("lapsed", "one_time"),
                     note="same rhythm, different baskets"),
    "returns": Family(("keeper", "returner"), ("wholesale", "one_time", "lapsed"), extra=(1, 3),
                      note="same rhythm and basket, different returns"),
    "one_timers": Family(("one_time", "occasional", "loyal"), ("wholesale", "lapsed"),
                         note="one-time buyers spread over the period against repeaters"),
    "timing": Family(("regular", "seasonal", "weekender", "weekday"), ("lapsed", "one_time"), held_out=True,
                     note="same volume, different timing"),
    "five_groups": Family(("wholesale", "loyal", "one_time", "lapsed", "seasonal"), ("newcomer", "returner",
                                                                                      "big_spender"),
                          held_out=True, extra=(0, 3), note="the shape of the independent check"),
    "rare_groups": Family(("loyal", "occasional", "small_basket", "returner", "big_spender"),
                          ("newcomer", "lapsed", "wholesale"), extra=(0, 2), rare=2,
                          note="two groups of 2.5% to 4% beside large ones"),
}


def sizes(k: int, n: int, rng: np.random.Generator, low: float = 0.02, high: float = 0.5,
          rare: int = 0) -> np.ndarray:
    """Customers per group: k shares between `low` and `high` (a Dirichlet draw, redrawn until it
    fits), the last `rare` of them between 2.5% and 4% (at 900 customers, above the clusters'
    floor of 20), as counts adding up to n."""
    small = rng.uniform(0.025, 0.04, rare)
    for _ in range(1000):
        share = np.concatenate([rng.dirichlet(np.full(k - rare, 0.8)) * (1 - small.sum()), small])
        if share.min() >= low and share.max() <= high:
            break
    else:
        share = np.concatenate([np.full(k - rare, (1 - small.sum()) / (k - rare)), small])
    counts = np.floor(share * n).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    return counts


def planted(family: str, seed: int, n_customers: int = 900, noise: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """(transactions, truth) for one data set of `family`: transactions in Online Retail II layout,
    truth the planted group name per customer id (index: the Customer ID as written)."""
    rng = np.random.default_rng([seed, list(FAMILIES).index(family)])
    fam = FAMILIES[family]
    extra = rng.integers(fam.extra[0], fam.extra[1] + 1)
    extra = min(extra, len(fam.background), 8 - len(fam.groups))
    names = list(fam.groups) + list(rng.choice(fam.background, size=max(extra, 3 - len(fam.groups)),
                                               replace=False)) if fam.background else list(fam.groups)
    counts = sizes(len(names), n_customers, rng, rare=fam.rare)
    catalogue = _catalogue(rng)
    rows, truth = [], {}
    next_id = 20000
    for name, count in zip(names, counts):
        for _ in range(count):
            cid = str(next_id)
            next_id += 1
            truth[cid] = name
            rows.extend(_customer(SHOPPERS[name], cid, catalogue, rng))
    lines = pd.DataFrame(rows, columns=["order", "day", "minute", "product", "units", "price", "customer", "returned"])
    if noise:
        lines = _noise(lines, catalogue, rng, next_id)
    return _layout(lines, catalogue, rng), pd.Series(truth, name="group")


def _catalogue(rng: np.random.Generator) -> pd.DataFrame:
    price = np.round(np.exp(rng.normal(np.log(3.5), 0.7, PRODUCTS)), 2).clip(0.19, 60)
    return pd.DataFrame({"code": [f"{85000 + i}" for i in range(PRODUCTS)],
                         "name": [f"PRODUCT {i:03d}" for i in range(PRODUCTS)], "price": price})


def _order_days(s: Shopper, rng: np.random.Generator) -> np.ndarray:
    """The days (0..DAYS-1) on which one customer of kind `s` orders."""
    lo, hi = s.active[0] * DAYS, s.active[1] * DAYS
    if s.one_time:
        return np.array([int(rng.uniform(lo, hi))])
    rate = rng.uniform(*s.orders_per_year) / 365
    if s.months:  # the rate holds within the season
        day = np.arange(DAYS)
        month = (pd.Timestamp(START) + pd.to_timedelta(day, unit="D")).month
        allowed = day[np.isin(month, s.months) & (day >= lo) & (day < hi)]
        return np.sort(rng.choice(allowed, size=max(1, rng.poisson(rate * len(allowed)))))
    first = rng.uniform(lo, lo + s.start_spread * (hi - lo))
    n = max(s.min_orders, rng.poisson(rate * (hi - first)))
    days = np.sort(rng.uniform(first, hi, n)).astype(int)
    while len(np.unique(days)) < s.min_orders:  # repeaters order on different days
        days = np.sort(rng.uniform(first, hi, n)).astype(int)
    return days


def _move_to_weekday(days: np.ndarray, weekend: float, rng: np.random.Generator) -> np.ndarray:
    """Shift each day to a weekend day with chance `weekend`, else to a weekday (within its week)."""
    weekday0 = pd.Timestamp(START).weekday()
    dow = (days + weekday0) % 7
    want_weekend = rng.random(len(days)) < weekend
    target = np.where(want_weekend, rng.integers(5, 7, len(days)), rng.integers(0, 5, len(days)))
    moved = days - dow + target
    return np.clip(moved, 0, DAYS - 1)


def _customer(s: Shopper, cid: str, catalogue: pd.DataFrame, rng: np.random.Generator) -> list[tuple]:
    days = np.unique(_move_to_weekday(_order_days(s, rng), s.weekend, rng))
    repertoire = rng.choice(PRODUCTS, size=min(PRODUCTS, int(rng.integers(*s.repertoire, endpoint=True))),
                            replace=False)
    return_share = rng.uniform(*s.returns)
    out = []
    for i, day in enumerate(days):
        n_lines = int(rng.integers(*s.lines, endpoint=True))
        products = rng.choice(repertoire, size=min(n_lines, len(repertoire)), replace=False)
        minute = int(rng.integers(8 * 60, 20 * 60))
        for p in products:
            units = int(rng.integers(*s.units, endpoint=True))
            price = round(float(catalogue["price"].iat[p]) * s.price, 2)
            out.append((f"{cid}-{i}", int(day), minute, int(p), units, price, cid, rng.random() < return_share))
    return out


def _noise(lines: pd.DataFrame, catalogue: pd.DataFrame, rng: np.random.Generator, next_id: int) -> pd.DataFrame:
    """Occasional returns (up to 3% of any customer's lines), guest orders (no customer id),
    postage lines on some orders, and three outlier customers with one order a hundred times the
    usual size (customers of no planted group: their truth is missing and the benchmark leaves
    them out)."""
    share = lines["customer"].map(dict(zip(lines["customer"].unique(),
                                           rng.uniform(0, 0.03, lines["customer"].nunique()))))
    lines = lines.assign(returned=lines["returned"] | (rng.random(len(lines)) < share))
    guests = lines.sample(frac=0.08, random_state=int(rng.integers(1 << 31))).assign(customer="")
    guests["order"] = "g" + guests["order"]
    orders = lines.drop_duplicates("order").sample(frac=0.2, random_state=int(rng.integers(1 << 31)))
    postage = orders.assign(product=-1, units=1, price=15.0, returned=False)
    outliers = []
    for j in range(3):
        for p in rng.choice(PRODUCTS, 30, replace=False):
            outliers.append((f"x{j}", int(rng.integers(0, DAYS)), 600, int(p), 500, float(catalogue["price"].iat[p]),
                             str(next_id + j), False))
    return pd.concat([lines, guests, postage, pd.DataFrame(outliers, columns=lines.columns)], ignore_index=True)


def _layout(lines: pd.DataFrame, catalogue: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Online Retail II rows: one per line, invoices numbered in time order, and a credit note
    (C + number, negative quantity) 1 to 20 days after each order with returned lines."""
    order_keys = lines.drop_duplicates("order").sort_values(["day", "minute", "order"])["order"]
    number = {key: 500000 + i for i, key in enumerate(order_keys)}
    when = pd.to_datetime(START) + pd.to_timedelta(lines["day"], unit="D") + pd.to_timedelta(lines["minute"], unit="m")
    is_post = lines["product"] < 0
    code = np.where(is_post, "POST", catalogue["code"].to_numpy()[lines["product"].clip(lower=0)])
    name = np.where(is_post, "POSTAGE", catalogue["name"].to_numpy()[lines["product"].clip(lower=0)])
    out = pd.DataFrame({
        "Invoice": lines["order"].map(number).astype(str), "StockCode": code, "Description": name,
        "Quantity": lines["units"], "InvoiceDate": when, "Price": lines["price"],
        "Customer ID": lines["customer"], "Country": "United Kingdom",
    })
    back = lines["returned"].to_numpy() & (lines["customer"] != "").to_numpy()
    credits = out[back].copy()
    later = pd.to_timedelta(rng.integers(1, 21, back.sum()), unit="D")
    credits["InvoiceDate"] = (credits["InvoiceDate"] + later).clip(upper=pd.Timestamp(START) + pd.Timedelta(days=DAYS))
    credits["Invoice"] = "C" + credits["Invoice"]
    credits["Quantity"] = -credits["Quantity"]
    out = pd.concat([out, credits], ignore_index=True).sort_values(["InvoiceDate", "Invoice"], kind="stable")
    out["InvoiceDate"] = out["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out[COLUMNS].reset_index(drop=True)
