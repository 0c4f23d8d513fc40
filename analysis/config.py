"""Options for one build, as a frozen dataclass with defaults.

Sources, weakest first: the defaults here, an optional `report.toml`, then command-line flags.
Every problem found is reported together (ConfigError), not one at a time.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NamedTuple

from analysis.errors import ConfigError
from analysis.schema import CANONICAL

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_INPUT = ROOT / "data" / "sample_transactions.csv.gz"
DEFAULT_CONFIG_FILE = "report.toml"
MAX_CLUSTERS = 8    # behaviour clusters: as many as the charts have distinct colour-blind-safe colours
MAX_SEGMENTS = 12   # RFM segments (a segment_map): likewise
WHY_MAX = "more could not each keep a distinct colour on the charts, nor be acted on one by one"
LAPSING_R_SCORE = 2  # a segment_map rule without 'lapsing' is lapsing when its R scores reach at most this



class Rule(NamedTuple):
    """An RFM segment rule: inclusive score ranges (1-5) for recency, frequency and monetary, the
    recommended action, and whether the segment is one customers lapse into (movers into it are
    listed; see analysis.customers.rfm.lapsing_segments)."""
    name: str
    r: tuple[int, int]
    f: tuple[int, int]
    m: tuple[int, int]
    action: str
    lapsing: bool = False


# Where the transaction-level work runs changes no number in the report, so these are not
# recorded with the options: the same data gives the same site on every engine.
ENGINE_FIELDS = ("engine", "spark_master")


def _opt(default, doc: str, flag: str | None = None):
    return field(default=default, metadata={"doc": doc, "flag": flag})


@dataclass(frozen=True)
class Config:
    input: Path | str = _opt(SAMPLE_INPUT, "transactions file, folder or glob (CSV/TSV/text, .gz, .zip, Parquet, "
                             ".xlsx), a Spark table (--engine spark) or an Ibis connection URL with ?table=",
                             "--input")
    output: Path = _opt(Path("site"), "folder the site is written to", "--output")
    column_map: tuple[tuple[str, str], ...] = _opt((), "canonical field -> input column overrides", "--map")
    as_of: dt.date | None = _opt(None, "analysis date; default the day after the last order or return", "--as-of")
    dayfirst: bool = _opt(False, "read ambiguous dates like 01/02/2011 as day/month", "--dayfirst")
    encoding: str | None = _opt(None, "text encoding of the input; default detected (UTF-8 or cp1252)",
                                "--encoding")
    decimal: str = _opt(".", "decimal separator of amounts: '.' or ','", "--decimal")
    sheet: str | None = _opt(None, "Excel sheet to read; default the first", "--sheet")
    only_currency: str | None = _opt(None, "keep only rows in this currency code (when the file has a currency "
                                     "column with several)", "--only-currency")
    strict: bool = _opt(False, "fail when any row would be dropped for a reason other than cancellation or a "
                        "missing customer id", "--strict")
    keep_outlier_dates: bool = _opt(False, "keep rows dated more than a year away from the rest of the data "
                                    "(by default dropped as bad dates, with a warning)", "--keep-outlier-dates")
    seed: int = _opt(0, "seed for clustering and sampling", "--seed")
    clusters: int | None = _opt(None, "number of behaviour clusters; default chosen automatically", "--clusters")
    k_min: int = _opt(3, "smallest number of clusters tried", "--k-min")
    k_max: int = _opt(8, "largest number of clusters tried", "--k-max")
    title: str = _opt("Customer segments", "report title", "--title")
    currency: str = _opt("", "currency symbol for display, e.g. £ or $", "--currency")
    top_n: int = _opt(10, "products and countries listed per segment", "--top-n")
    clv_horizon: int = _opt(365, "customer lifetime value horizon in days", "--clv-horizon")
    discount_rate: float = _opt(0.01, "monthly discount rate for lifetime value, e.g. 0.01 for 1% a month",
                                "--discount-rate")
    engine: str = _opt("duckdb", "engine for the transaction-level stages: duckdb or spark", "--engine")
    spark_master: str = _opt("local[*]", "Spark master when --engine spark and SPARK_REMOTE is not set",
                             "--spark-master")
    segment_map: tuple[Rule, ...] = _opt((), "RFM segment rules replacing the standard map (report.toml only)")

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.column_map)

    def as_dict(self) -> dict:
        """Plain JSON-ready view (paths as given, dates ISO) for summary.json."""
        out = {}
        for f in fields(self):
            if f.name in ENGINE_FIELDS:
                continue
            value = getattr(self, f.name)
            if isinstance(value, Path) or f.name == "input":
                value = display_path(value)
            elif isinstance(value, dt.date):
                value = value.isoformat()
            elif f.name == "column_map":
                value = dict(value)
            elif f.name == "segment_map":
                value = [{"name": r[0], "r": list(r[1]), "f": list(r[2]), "m": list(r[3]), "action": r[4]}
                         for r in value]
            out[f.name] = value
        return out


def is_url(value) -> bool:
    """An Ibis connection URL such as duckdb:///orders.duckdb?table=orders (not a file path)."""
    return isinstance(value, str) and "://" in value


def display_path(path: Path | str) -> str:
    """A path as a reader should see it: relative to the project when inside it. A connection
    URL is shown without its password."""
    if is_url(path):
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(path)
        if not parts.password:
            return path
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def load_toml(path: Path) -> dict:
    """Options from a report.toml; paths in it are relative to the file's folder."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"]) from None
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[:exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}: line {line}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                           "save the file as UTF-8 (most editors offer it under 'Save as' or 'Encoding')"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML ({exc})"]) from None
    data = {k.replace("-", "_"): v for k, v in data.items()}
    if "map" in data:
        data["column_map"] = data.pop("map")
    for key in ("input", "output"):
        if isinstance(data.get(key), str) and not is_url(data[key]):
            data[key] = str((Path(path).parent / data[key]))
    data["_source"] = str(path)
    return data


def _check_rule(i: int, rule: dict, problems: list[str]) -> Rule | None:
    where = f"segment_map[{i}]"
    if not isinstance(rule, dict) or not isinstance(rule.get("name"), str):
        problems.append(f"{where}: needs a name")
        return None
    ranges = []
    for key in ("r", "f", "m"):
        value = rule.get(key, [1, 5])
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
                and 1 <= value[0] <= value[1] <= 5):
            problems.append(f"{where} ({rule['name']}): '{key}' must be [low, high] scores within 1..5")
            return None
        ranges.append(tuple(value))
    lapsing = rule.get("lapsing", ranges[0][1] <= LAPSING_R_SCORE)
    if not isinstance(lapsing, bool):
        problems.append(f"{where} ({rule['name']}): 'lapsing' must be true or false")
        return None
    return Rule(rule["name"], *ranges, str(rule.get("action", "")), lapsing)


def make_config(**options) -> Config:
    """Build a Config from options (None means default), checking all of them at once."""
    source = options.pop("_source", None)
    where = f"{source}: " if source else ""
    given = {k: v for k, v in options.items() if v is not None}
    problems = []
    names = {f.name: f for f in fields(Config)}
    for key in sorted(set(given) - set(names)):
        problems.append(f"{where}unknown option '{key}' (known: {', '.join(sorted(names))})")
        given.pop(key)
    if isinstance(given.get("column_map"), dict):
        given["column_map"] = tuple(given["column_map"].items())
    for canon, _col in given.get("column_map", ()):
        if canon not in CANONICAL:
            problems.append(f"{where}--map: unknown field '{canon}' (known: {', '.join(CANONICAL)})")
    if "discount_rate" in given:
        if not isinstance(given["discount_rate"], (int, float)) or not 0 <= given["discount_rate"] < 1:
            problems.append(f"{where}discount_rate must be a monthly rate between 0 and 1, got {given['discount_rate']!r}")
            given.pop("discount_rate")
        else:
            given["discount_rate"] = float(given["discount_rate"])
    if isinstance(given.get("clv_horizon"), int) and not 30 <= given["clv_horizon"] <= 3650:
        problems.append(f"{where}clv_horizon must be between 30 and 3650 days, got {given['clv_horizon']}")
    for key in ("seed", "clusters", "k_min", "k_max", "top_n", "clv_horizon"):
        if key in given and (not isinstance(given[key], int) or isinstance(given[key], bool)):
            problems.append(f"{where}{key} must be a whole number, got {given[key]!r}")
            given.pop(key)
    for key in ("dayfirst", "strict", "keep_outlier_dates"):
        if key in given and not isinstance(given[key], bool):
            problems.append(f"{where}{key} must be true or false, got {given[key]!r}")
            given.pop(key)
    if isinstance(given.get("as_of"), str):
        try:
            given["as_of"] = dt.date.fromisoformat(given["as_of"])
        except ValueError:
            problems.append(f"{where}as_of must be a date like 2011-12-10, got {given['as_of']!r}")
            given.pop("as_of")
    if "clusters" in given and not 2 <= given["clusters"] <= MAX_CLUSTERS:
        problems.append(f"--clusters must be between 2 and {MAX_CLUSTERS}, got {given['clusters']} ({WHY_MAX})")
    k_min, k_max = given.get("k_min", 3), given.get("k_max", 8)
    if not 2 <= k_min <= k_max <= MAX_CLUSTERS:
        problems.append(f"cluster range must satisfy 2 <= k_min <= k_max <= {MAX_CLUSTERS}, got {k_min}..{k_max} "
                        f"({WHY_MAX})")
    if len(given.get("segment_map", ())) > MAX_SEGMENTS:
        problems.append(f"segment_map has {len(given['segment_map'])} rules; at most {MAX_SEGMENTS} segments "
                        "can each keep a colour of their own on the charts")
    if given.get("top_n", 10) < 1:
        problems.append("--top-n must be at least 1")
    if given.get("decimal", ".") not in (".", ","):
        problems.append(f"--decimal must be '.' or ',', got {given['decimal']!r}")
    if "segment_map" in given:
        rules = [_check_rule(i, r, problems) for i, r in enumerate(given["segment_map"])]
        given["segment_map"] = tuple(r for r in rules if r)
    if given.get("engine", "duckdb") not in ("duckdb", "spark"):
        problems.append(f"{where}--engine must be duckdb or spark, got {given['engine']!r}")
    if problems:
        raise ConfigError(problems)
    for key in ("input", "output"):
        if key in given and not (key == "input" and is_url(given[key])):
            given[key] = Path(given[key])
    return Config(**given)


def resolve_config(cli: dict, config_file: str | None) -> Config:
    """report.toml (the named file, or ./report.toml when present), overridden by CLI flags."""
    path = Path(config_file) if config_file else Path(DEFAULT_CONFIG_FILE)
    if config_file and not path.is_file():
        raise ConfigError([f"--config: file not found: {config_file}"])
    base = load_toml(path) if path.is_file() else {}
    merged = base | {k: v for k, v in cli.items() if v is not None}
    if isinstance(base.get("column_map"), dict) and cli.get("column_map"):
        merged["column_map"] = base["column_map"] | dict(cli["column_map"])  # flags win per field
    return make_config(**merged)
