"""Seeded generator of e-commerce transaction lines with planted customer groups of known truth.

Table contract (one row per invoice line, sorted by order_date then order_id):
  order_id      str    invoice number like "100234"; cancellations are "C" + digits
  customer_id   str    like "10001"; "" on guest orders
  order_date    str    "YYYY-MM-DD HH:MM:SS", shared by every line of an order
  product_id    str    stock code like "21730" or "84029G"; non-product codes are
                       POST, DOT, M, BANK CHARGES and AMAZONFEE
  product_name  str    upper-case description, e.g. "WHITE HANGING HEART T-LIGHT HOLDER"
  category      str    one of CATEGORIES, or "Service" on non-product lines
  quantity      int    units; negative on cancellation lines
  unit_price    float  2 decimals; 0 on a handful of noise lines
  country       str    the customer's country (per order for guests)
Truth: Series indexed by customer_id (str) with the planted group name (a key of GROUPS).

Noise (noise=True): cancellations (returns), guest orders, non-product lines, exact duplicate
lines and zero prices. Returns are cancellations, so with noise=False the returners keep their
shopping rhythm but return nothing.

`python data/generate_sample.py` writes data/sample_transactions.csv.gz with identical bytes
on every run (gzip mtime 0). `--lines N` sizes the customer base for about N lines (benchmarks).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["order_id", "customer_id", "order_date", "product_id", "product_name", "category",
           "quantity", "unit_price", "country"]


@dataclass(frozen=True)
class GroupSpec:
    share: float                      # default share of customers
    lines: tuple[int, int]            # product lines per order (min, max)
    qty: tuple[int, int]              # units per line (min, max)
    price_band: tuple[float, float]   # list prices of the products this group buys, [low, high)
    window: tuple[float, float] = (0.0, 1.0)  # active part of the period, as fractions of it
    last_days: int = 0                # if > 0 the active window is the last N days instead
    gap_days: tuple[float, float] | None = None  # range of each customer's mean days between orders
    n_orders: tuple[int, int] = (1, 1)  # orders per customer when gap_days is None
    qty_step: int = 1                 # units come in packs of this size
    price_factor: float = 1.0         # multiplier on list price (trade discount)
    return_rate: tuple[float, float] = (0.0, 0.03)  # range of each customer's share of lines returned
    uk_share: float = 0.88            # chance the customer is in the United Kingdom


GROUPS: dict[str, GroupSpec] = {
    "wholesale": GroupSpec(0.06, lines=(8, 25), qty=(6, 36), qty_step=6, price_band=(0, 10),
                           price_factor=0.85, gap_days=(12, 24), return_rate=(0, 0.02), uk_share=0.55),
    "loyal": GroupSpec(0.20, lines=(3, 8), qty=(1, 6), price_band=(0, 30), gap_days=(25, 50)),
    "one_off": GroupSpec(0.32, lines=(1, 4), qty=(1, 2), price_band=(2, 15), window=(0.0, 0.8)),
    "lapsed_big": GroupSpec(0.10, lines=(2, 5), qty=(1, 3), price_band=(15, 60), window=(0.0, 0.45),
                            n_orders=(3, 8)),
    "new": GroupSpec(0.16, lines=(2, 6), qty=(1, 4), price_band=(0, 30), last_days=60, n_orders=(1, 2)),
    "returners": GroupSpec(0.16, lines=(2, 6), qty=(1, 6), price_band=(0, 30), gap_days=(40, 80),
                           return_rate=(0.3, 0.6)),
}
# Guests are noise, not a group: one order each, anywhere in the period.
GUESTS = GroupSpec(0.0, lines=(1, 6), qty=(1, 4), price_band=(0, 30), uk_share=0.85)
GUEST_LINE_SHARE = 0.05

COUNTRIES = ["United Kingdom", "Germany", "France", "EIRE", "Netherlands", "Spain", "Belgium",
             "Switzerland", "Portugal", "Italy", "Norway", "Sweden", "Australia", "USA"]
COUNTRY_WEIGHTS = np.array([9, 8, 7, 4, 3, 3, 2, 2, 2, 1.5, 1.5, 1.5, 1.0])  # non-UK only
FAR_AWAY = np.isin(COUNTRIES, ["Australia", "USA"])  # dearer postage

# category -> (item, lowest, highest list price); items above 15 are the premium range.
CATEGORIES = {
    "Candles & Lights": [("T-LIGHT HOLDER", 1.25, 3.75), ("LANTERN", 3.75, 8.5), ("FAIRY LIGHTS", 4.25, 9.95),
                         ("NIGHT LIGHT", 1.65, 3.25), ("SCENTED CANDLE", 0.85, 2.95), ("CHANDELIER", 24.95, 59.95)],
    "Kitchen": [("MUG", 1.25, 2.95), ("TEA TOWEL", 0.85, 2.55), ("CAKE TIN", 3.75, 7.95), ("JAM JAR", 0.42, 1.25),
                ("LUNCH BOX", 1.65, 3.75), ("CAKE STAND 3 TIER", 14.95, 24.95), ("BREAD BIN", 16.95, 29.95)],
    "Bags": [("JUMBO BAG", 1.65, 2.55), ("SHOPPER BAG", 1.25, 2.95), ("LUNCH BAG", 1.45, 2.45),
             ("WASH BAG", 2.1, 4.25), ("WEEKEND BAG", 18.95, 39.95)],
    "Party": [("PARTY BUNTING", 2.95, 5.95), ("PAPER CUPS", 0.65, 1.25), ("NAPKINS", 0.55, 0.95),
              ("PAPER PLATES", 0.65, 1.45), ("BALLOONS", 0.29, 0.85), ("PARTY BAGS", 0.85, 1.65)],
    "Stationery": [("NOTEBOOK", 0.85, 2.45), ("GREETING CARD", 0.42, 0.65), ("WRAPPING PAPER", 0.42, 0.85),
                   ("PENCIL SET", 0.65, 1.65), ("GIFT TAGS", 0.39, 0.85), ("WRITING SET", 15.95, 24.95)],
    "Toys": [("SPINNING TOP", 0.42, 1.25), ("SKIPPING ROPE", 1.25, 1.95), ("JIGSAW", 1.65, 4.95),
             ("PLAYING CARDS", 1.25, 2.55), ("DOLLS HOUSE", 29.95, 59.95), ("ROCKING HORSE", 34.95, 59.95)],
    "Garden": [("PLANT POT", 1.25, 4.95), ("WATERING CAN", 2.55, 7.95), ("BIRD FEEDER", 2.95, 6.75),
               ("GARDEN SIGN", 1.65, 3.75), ("WIND CHIME", 2.1, 4.95), ("GARDEN BENCH CUSHION", 15.95, 29.95)],
    "Christmas": [("CHRISTMAS BAUBLE", 0.42, 1.65), ("ADVENT CALENDAR", 2.95, 5.95), ("TREE DECORATION", 0.65, 1.95),
                  ("CHRISTMAS STOCKING", 2.1, 4.25), ("STAR GARLAND", 1.65, 3.75), ("LIGHT UP TREE", 19.95, 44.95)],
}
MOTIFS = ["HANGING HEART", "REGENCY", "POLKADOT", "PAISLEY PARK", "STRAWBERRY", "VINTAGE DOILY", "SPACEBOY",
          "RETRO SPOT", "WOODLAND", "SWALLOWS", "ROSE GARDEN", "ALPHABET", "SCANDINAVIAN", "BLACK CAT"]
COLOURS = ["WHITE", "RED", "PINK", "BLUE", "IVORY", "GREEN", "CREAM", "SILVER"]
NON_PRODUCT = [("POST", "POSTAGE"), ("DOT", "DOTCOM POSTAGE"), ("M", "Manual"),
               ("BANK CHARGES", "Bank Charges"), ("AMAZONFEE", "AMAZON FEE")]
POST, DOT, MANUAL, BANK, AMAZON = range(5)  # offsets after the last real product


@dataclass(frozen=True)
class Catalogue:
    code: pd.api.extensions.ExtensionArray      # stock codes; real products first, then NON_PRODUCT
    name: pd.api.extensions.ExtensionArray
    category: pd.api.extensions.ExtensionArray
    price: np.ndarray                           # list price (0 for non-product rows)
    weight: np.ndarray                          # popularity
    n_products: int                             # rows before the non-product codes


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """A fixed product range: the same codes and prices whatever seed generate() is given."""
    rng = np.random.default_rng(20240101)
    codes, names, cats, prices, weights = [], [], [], [], []
    base_codes = rng.choice(np.arange(20000, 90000), size=500, replace=False)
    for category, items in CATEGORIES.items():
        for item, low, high in items:
            for motif in rng.choice(MOTIFS, size=4, replace=False):
                base, base_codes = str(base_codes[0]), base_codes[1:]
                price = max(0.29, round(rng.uniform(low, high) * 20) / 20)  # prices end in 0 or 5
                popularity = rng.lognormal(0, 1) * (0.3 if low >= 14 else 1.0)  # premium sells less
                colours = rng.choice(COLOURS, size=rng.integers(1, 4), replace=False)
                letters = sorted(rng.choice(list("ABCDEGLNPRSW"), len(colours), replace=False))
                suffixes = [""] if len(colours) == 1 else letters  # colour variants share a base code
                for colour, suffix in zip(colours, suffixes):
                    codes.append(base + suffix)
                    names.append(f"{colour} {motif} {item}")
                    cats.append(category)
                    prices.append(price)
                    weights.append(popularity * rng.uniform(0.5, 1.5))
    n = len(codes)
    codes += [c for c, _ in NON_PRODUCT]
    names += [d for _, d in NON_PRODUCT]
    cats += ["Service"] * len(NON_PRODUCT)
    return Catalogue(pd.array(codes, dtype="str"), pd.array(names, dtype="str"), pd.array(cats, dtype="str"),
                     np.array(prices + [0.0] * len(NON_PRODUCT)), np.array(weights + [0.0] * len(NON_PRODUCT)), n)


def _allocate(n: int, mix: dict[str, float] | None) -> dict[str, int]:
    """Customers per group by largest remainder, so counts add up to n exactly."""
    shares = {g: (s.share if mix is None else mix.get(g, 0.0)) for g, s in GROUPS.items()}
    unknown = set(mix or {}) - set(GROUPS)
    if unknown or sum(shares.values()) <= 0:
        raise ValueError(f"mix needs positive shares for groups in {list(GROUPS)}; bad: {sorted(unknown)}")
    exact = np.array(list(shares.values())) / sum(shares.values()) * n
    counts = np.floor(exact).astype(int)
    counts[np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]] += 1
    return dict(zip(shares, counts.tolist()))


def _order_days(rng, spec: GroupSpec, n: int, span: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer, day) per order. Regular buyers follow a jittered renewal process; others
    place a fixed number of orders uniformly in their window."""
    w0, w1 = spec.window[0] * span, spec.window[1] * span
    if spec.last_days:
        w0, w1 = max(0, span - spec.last_days), span
    if spec.gap_days is None:
        cust = np.repeat(np.arange(n), rng.integers(spec.n_orders[0], spec.n_orders[1] + 1, n))
        return cust, np.floor(rng.uniform(w0, w1, cust.size)).astype(np.int64)
    gap = rng.uniform(*spec.gap_days, n)
    k = np.ceil((w1 - w0) / gap * 1.6).astype(np.int64) + 2  # enough candidates to run past w1
    cust = np.repeat(np.arange(n), k)
    steps = gap[cust] * rng.lognormal(-0.045, 0.3, cust.size)  # mean-one jitter on each gap
    firsts = np.r_[0, np.cumsum(k)[:-1]]
    steps[firsts] = 0.0
    within = np.cumsum(steps)
    within -= within[firsts][cust]
    day = w0 + rng.uniform(0, np.minimum(gap, w1 - w0))[cust] + within  # first order within one gap
    keep = day < w1
    return cust[keep], np.floor(day[keep]).astype(np.int64)


def _shop(rng, spec: GroupSpec, n: int, span: int, cat: Catalogue) -> tuple[dict, dict, np.ndarray]:
    """Per-order arrays, per-line arrays and per-customer return rates for n customers of one spec."""
    cust, day = _order_days(rng, spec, n, span)
    time = day * 86400 + rng.integers(7 * 60, 20 * 60, cust.size) * 60  # opening hours, whole minutes
    country = np.where(rng.random(n) < spec.uk_share, 0,
                       1 + rng.choice(len(COUNTRY_WEIGHTS), n, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum()))
    lo, hi = spec.lines
    habit = rng.uniform(lo, hi, n)  # each customer has a habitual basket size
    size = np.clip(np.rint(habit[cust] + rng.normal(0, 0.15 * (hi - lo) + 0.3, cust.size)), lo, hi)
    order = np.repeat(np.arange(cust.size), size.astype(np.int64))
    pool = np.flatnonzero((cat.price >= spec.price_band[0]) & (cat.price < spec.price_band[1]))
    p = cat.weight[pool] / cat.weight[pool].sum()
    prod = rng.choice(pool, order.size, p=p)
    for _ in range(2):  # a product appears once per order: redraw clashes twice, then drop leftovers
        clash = pd.Series(order * len(cat.price) + prod).duplicated().to_numpy()
        if not clash.any():
            break
        prod[clash] = rng.choice(pool, int(clash.sum()), p=p)
    keep = ~pd.Series(order * len(cat.price) + prod).duplicated().to_numpy()
    order, prod = order[keep], prod[keep]
    step = spec.qty_step
    qty = rng.integers(spec.qty[0] // step, spec.qty[1] // step + 1, order.size) * step
    price = np.round(cat.price[prod] * spec.price_factor, 2)
    orders = dict(time=time, cust=cust, country=country[cust], cancel=np.zeros(cust.size, bool))
    return orders, dict(order=order, prod=prod, qty=qty, price=price), rng.uniform(*spec.return_rate, n)


def _append(o: dict, lines: dict, new_o: dict | None, new_l: dict) -> None:
    """Concatenate in place. Lines of new orders index new_o; without new_o they index o."""
    if new_o is None:
        new_o = {key: value[:0] for key, value in o.items()}
    else:
        new_l = dict(new_l, order=new_l["order"] + len(o["time"]))
    for key in o:
        o[key] = np.concatenate([o[key], new_o[key]])
    for key in lines:
        lines[key] = np.concatenate([lines[key], new_l[key]])


def _returns(rng, o: dict, lines: dict, rates: np.ndarray, end_sec: int, n_products: int):
    """Cancel lines at each customer's return rate; one "C" invoice per returning order, 1h-21d later."""
    cust = o["cust"][lines["order"]]
    hit = np.flatnonzero((cust >= 0) & (lines["prod"] < n_products) & (rng.random(cust.size) < rates[cust]))
    parents, local = np.unique(lines["order"][hit], return_inverse=True)
    bought = o["time"][parents]
    when = bought + rng.integers(3600, 21 * 86400, parents.size)
    late = when > end_sec  # returns near the end squeeze into the time left, not onto the last minute
    when[late] = bought[late] + (end_sec - bought[late]) * rng.uniform(0.1, 1.0, late.sum())
    when = when // 60 * 60
    qty = lines["qty"][hit]
    qty = np.where(rng.random(hit.size) < 0.25, rng.integers(1, qty + 1), qty)  # some give back part
    new_o = dict(time=when, cust=o["cust"][parents], country=o["country"][parents],
                 cancel=np.ones(parents.size, bool))
    return new_o, dict(order=local, prod=lines["prod"][hit], qty=-qty, price=lines["price"][hit])


def _sample(rng, idx: np.ndarray, k: float) -> np.ndarray:
    return np.sort(rng.choice(idx, min(idx.size, max(1, round(k))), replace=False))


def _fees(rng, o: dict, lines: dict, n_products: int) -> dict:
    """Non-product lines on existing orders: postage (mostly abroad), dotcom postage and Amazon
    fees on guest orders, manual adjustments and bank charges anywhere."""
    shop = np.flatnonzero(~o["cancel"])
    abroad = o["country"][shop] != 0
    post = shop[rng.random(shop.size) < np.where(abroad, 0.5, 0.01)]
    guest = shop[o["cust"][shop] < 0]
    parts = [(post, POST, rng.integers(1, 4, post.size), np.where(FAR_AWAY[o["country"][post]], 40.0, 18.0))]
    for code, pool, rate, low, high in [(DOT, guest, 0.02, 20, 300), (MANUAL, shop, 0.001, 0.5, 60),
                                        (BANK, shop, 0.0005, 15, 15), (AMAZON, guest, 0.002, 1000, 6000)]:
        if pool.size:
            at = _sample(rng, pool, rate * pool.size)
            parts.append((at, code, np.ones(at.size, np.int64), np.round(rng.uniform(low, high, at.size), 2)))
    order, code, qty, price = (np.concatenate(x) for x in zip(*[(at, np.full(at.size, c), q, p)
                                                                for at, c, q, p in parts]))
    return dict(order=order, prod=n_products + code, qty=qty, price=price)


def _glitches(rng, lines: dict, n_products: int) -> dict:
    """A handful of zero-price lines (a product already in the order) and a few dozen verbatim
    duplicates, both taken from real product lines so they look like export glitches."""
    real = np.flatnonzero((lines["prod"] < n_products) & (lines["qty"] > 0))
    zero, dup = _sample(rng, real, max(3, 2e-5 * real.size)), _sample(rng, real, max(12, 1e-4 * real.size))
    both = np.r_[zero, dup]
    return dict(order=lines["order"][both], prod=lines["prod"][both],
                qty=np.r_[rng.integers(1, 13, zero.size), lines["qty"][dup]],
                price=np.r_[np.zeros(zero.size), lines["price"][dup]])


def generate(n_customers: int = 4000, seed: int = 7, mix: dict[str, float] | None = None,
             start: str = "2024-01-01", end: str = "2025-12-31", noise: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """Returns (transactions, truth). truth: index customer_id (str), values group name."""
    rng, cat = np.random.default_rng(seed), catalogue()
    t0 = pd.Timestamp(start).normalize()
    span = (pd.Timestamp(end).normalize() - t0).days + 1
    o = {key: np.zeros(0, np.int64) for key in ("time", "cust", "country")} | {"cancel": np.zeros(0, bool)}
    lines = {key: np.zeros(0, np.int64) for key in ("order", "prod", "qty")} | {"price": np.zeros(0)}
    groups, rates = [], []
    for name, n in _allocate(n_customers, mix).items():
        if n:
            new_o, new_l, rate = _shop(rng, GROUPS[name], n, span, cat)
            new_o["cust"] += len(groups)
            _append(o, lines, new_o, new_l)
            groups += [name] * n
            rates.append(rate)
    if noise:
        guests = round(lines["order"].size * GUEST_LINE_SHARE / (1 - GUEST_LINE_SHARE) / np.mean(GUESTS.lines))
        new_o, new_l, _ = _shop(rng, GUESTS, guests, span, cat)
        new_o["cust"][:] = -1
        _append(o, lines, new_o, new_l)
        rates = np.concatenate(rates + [[0.0]])  # the trailing 0 is what guests (-1) look up
        _append(o, lines, *_returns(rng, o, lines, rates, span * 86400 - 60, cat.n_products))
        _append(o, lines, None, _fees(rng, o, lines, cat.n_products))
        _append(o, lines, None, _glitches(rng, lines, cat.n_products))
    return _frame(rng, o, lines, groups, t0, cat)


def _frame(rng, o: dict, lines: dict, groups: list[str], t0: pd.Timestamp,
           cat: Catalogue) -> tuple[pd.DataFrame, pd.Series]:
    """Number invoices in time order (ties: purchases first, as in string order), then build the
    string columns per order or per product and take them per line (no per-line formatting)."""
    rank = np.empty(o["time"].size, np.int64)
    rank[np.lexsort((o["cancel"], o["time"]))] = np.arange(o["time"].size)
    base = 10 ** max(5, len(str(o["time"].size)))  # same digit count keeps string order numeric
    number = (base + rank).astype(str)
    order_id = pd.array(np.where(o["cancel"], np.char.add("C", number), number), dtype="str")
    ids = (10001 + rng.permutation(len(groups))).astype(str)  # ids do not give the group away
    customer = pd.array(np.r_[ids, [""]][o["cust"]], dtype="str")  # index -1 (guest) hits the ""
    date = pd.array((t0 + pd.to_timedelta(o["time"], unit="s")).strftime("%Y-%m-%d %H:%M:%S"), dtype="str")
    country = pd.array(np.array(COUNTRIES)[o["country"]], dtype="str")
    row = np.argsort(rank[lines["order"]], kind="stable")  # appended noise lines follow their originals
    per_order, prod = lines["order"][row], lines["prod"][row]
    df = pd.DataFrame({"order_id": order_id.take(per_order), "customer_id": customer.take(per_order),
                       "order_date": date.take(per_order), "product_id": cat.code.take(prod),
                       "product_name": cat.name.take(prod), "category": cat.category.take(prod),
                       "quantity": lines["qty"][row], "unit_price": np.round(lines["price"][row], 2),
                       "country": country.take(per_order)})
    truth = pd.Series(groups, index=pd.Index(ids, name="customer_id", dtype="str"), name="group", dtype="str")
    return df, truth.iloc[np.argsort(ids.astype(np.int64), kind="stable")]


def customers_for_lines(n_lines: int, seed: int = 7, mix: dict[str, float] | None = None) -> int:
    """Customers needed for about n_lines, measured on a 2,000-customer pilot (lines scale linearly)."""
    pilot, _ = generate(2000, seed, mix)
    return max(1, round(n_lines / (len(pilot) / 2000)))


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """CSV with 2-decimal prices; .gz output gets mtime 0 so equal data gives equal bytes."""
    gz = str(path).endswith(".gz")
    df.to_csv(path, index=False, float_format="%.2f", compression={"method": "gzip", "mtime": 0} if gz else None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=4000)
    parser.add_argument("--lines", type=int, help="size the customer base for about this many lines")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", default=str(Path(__file__).with_name("sample_transactions.csv.gz")))
    args = parser.parse_args(argv)
    customers = customers_for_lines(args.lines, args.seed) if args.lines else args.customers
    began = time.perf_counter()
    df, truth = generate(customers, args.seed)
    made = time.perf_counter()
    write_csv(df, args.output)
    print(f"{len(df):,} lines, {len(truth):,} customers -> {args.output} "
          f"(generate {made - began:.1f}s, write {time.perf_counter() - made:.1f}s)")


if __name__ == "__main__":
    main()
