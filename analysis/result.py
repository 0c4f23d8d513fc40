"""The one object the analysis hands to the report layer."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Mapping

import pandas as pd

from analysis.config import Config
from analysis.schema import TABLES


@dataclass(frozen=True)
class SourceInfo:
    """What was read: the file, its format, its fingerprint and the column mapping used."""

    path: str            # as the user gave it (or relative to the project for the bundled sample)
    format: str          # csv, csv.gz, zip/csv, parquet
    sha256: str          # of the file's bytes
    rows: int            # input rows (the ledger sums to this)
    columns: tuple[str, ...]
    mapping: Mapping[str, str]  # canonical field -> input column
    attribution: str = ""       # citation to show when the data is a known public data set
    profile: str = ""           # the known export the columns were recognised as, e.g. a Shopify orders export
    encoding: str = "utf-8"     # text encoding read (detected or --encoding)


@dataclass(frozen=True)
class Finding:
    """A key finding in plain language, citing its figure and `evidence`, the name of the table
    (Analysis.tables) it rests on. stake: the money it is about, in the data's currency (findings
    are ranked by it)."""

    text: str
    figure: str
    evidence: str
    stake: float = 0.0


@dataclass(frozen=True)
class DataFigures:
    """What was read, kept and dropped, and the data's dates (ISO dates as text)."""

    rows_read: int
    rows_kept: int
    rows_dropped: int
    customers: int                      # with at least one order that was not returned in full
    customers_with_purchases: int       # customer ids with a purchase line in the file
    customers_returned_everything: int
    customers_only_dropped_lines: int   # ids whose purchase lines were all dropped
    guest_rows: int                     # rows without a customer id
    period_start: str
    period_end: str
    as_of: str
    build_date: str                     # the day the report was built: SOURCE_DATE_EPOCH when set, else today
    date_format: str                    # how the dates were read


@dataclass(frozen=True)
class MoneyFigures:
    """Orders and money, net of returns (in the data's currency)."""

    orders: int
    revenue: float                      # net of returns (= net_revenue)
    avg_order_value: float
    revenue_per_customer: float
    gross_revenue: float
    returned_value: float               # matched returns at the price paid
    net_revenue: float
    unmatched_returns_value: float
    orders_returned_in_full: int
    returns_lines: int                  # return lines matched to purchases
    returns_customers: int
    repeat_customer_share: float        # customers with more than one order
    median_days_between_orders: float   # of repeat customers (NaN without any)


@dataclass(frozen=True)
class ClusterFigures:
    """The behaviour clusters chosen (analysis.customers.cluster)."""

    n_clusters: int
    silhouette: float
    cluster_method: str
    cluster_stability: float
    cluster_reason: str                 # why this k, in words
    cluster_outliers: int               # customers assigned but not fitted on
    clusters_stable: bool               # stability at least cluster.MIN_STABILITY


# Analysis fields that hold figures, in the order summary.json's headline merges them. Each study's
# figures (a frozen dataclass of its own module) sit under the study's name.
SECTIONS = ("data", "money", "clusters", "statistics", "changes", "validation", "value", "cohorts", "products")


@dataclass(frozen=True)
class Analysis:
    """Everything the report shows. Tables are pandas frames with the columns in schema.TABLES
    (and those a study declares). Figures are typed sections: data, money and clusters here, and one
    per study (stats.StatsFigures, changes.ChangeFigures, validation.ValidationFigures,
    value.tables.ValueFigures, cohorts.CohortFigures, products.ProductFigures); `more` holds the
    figures of studies added since, by study name. `headline` is all of them as one mapping (for
    summary.json)."""

    config: Config
    source: SourceInfo
    tables: Mapping[str, pd.DataFrame]
    data: DataFigures
    money: MoneyFigures
    clusters: ClusterFigures
    statistics: object
    changes: object
    validation: object
    value: object
    cohorts: object
    products: object
    more: Mapping[str, object] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    cpu_timings: Mapping[str, float] = field(default_factory=dict)  # this process's CPU seconds during each stage
    notes: tuple[str, ...] = ()  # about the run (not the data), for the console; never in the site
    engine: Mapping[str, str] = field(default_factory=dict)  # engine.describe: name, master, version

    def __post_init__(self):
        for name, columns in TABLES.items():
            if name not in self.tables:
                raise ValueError(f"Analysis is missing table '{name}'")
            got = list(self.tables[name].columns)
            if got != columns:
                raise ValueError(f"table '{name}' has columns {got}, declared {columns}")
        object.__setattr__(self, "tables", MappingProxyType(dict(self.tables)))
        object.__setattr__(self, "more", MappingProxyType(dict(self.more)))

    @property
    def headline(self) -> Mapping[str, object]:
        """Every figure of every section by its field name (summary.json's headline)."""
        out: dict = {}
        for section in (*(getattr(self, name) for name in SECTIONS), *self.more.values()):
            out.update({f.name: getattr(section, f.name) for f in fields(section)})
        return MappingProxyType(out)

    def segments(self, kind: str) -> pd.DataFrame:
        """Segment profiles of one kind ('rfm' or 'cluster'), largest first as stored."""
        seg = self.tables["segments"]
        return seg[seg["kind"] == kind]
