"""The one object the analysis hands to the report layer."""

from __future__ import annotations

from dataclasses import dataclass, field
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
class Analysis:
    """Everything the report shows. Tables are pandas frames with the columns in schema.TABLES.

    headline keys: rows_read, rows_kept, rows_dropped, customers (with at least one order that was
    not returned in full), customers_with_purchases (ids with a purchase line in the file),
    customers_returned_everything, customers_only_dropped_lines, orders, revenue (net of returns,
    = net_revenue), gross_revenue, returned_value (matched returns at the price paid),
    unmatched_returns_value, orders_returned_in_full, avg_order_value, revenue_per_customer,
    repeat_customer_share, median_days_between_orders, period_start, period_end, as_of, build_date
    (ISO dates), date_format, n_clusters, silhouette, cluster_method, cluster_stability,
    cluster_reason (why this k, in words), cluster_outliers (customers assigned but not fitted on),
    clusters_stable (stability at least cluster.MIN_STABILITY),
    returns_lines (return lines matched), returns_customers, guest_rows; from the next-90-day
    validation: validation_from (ISO date), recommended_segmentation ('rfm' or 'cluster', None
    without enough history), recommendation_reason, separation_difference (clusters - RFM) and its
    95% interval separation_difference_low/high.
    """

    config: Config
    source: SourceInfo
    tables: Mapping[str, pd.DataFrame]
    headline: Mapping[str, object]
    findings: tuple[Finding, ...] = ()
    warnings: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # about the run (not the data), for the console; never in the site

    def __post_init__(self):
        for name, columns in TABLES.items():
            if name not in self.tables:
                raise ValueError(f"Analysis is missing table '{name}'")
            got = list(self.tables[name].columns)
            if got != columns:
                raise ValueError(f"table '{name}' has columns {got}, declared {columns}")
        object.__setattr__(self, "tables", MappingProxyType(dict(self.tables)))
        object.__setattr__(self, "headline", MappingProxyType(dict(self.headline)))

    def segments(self, kind: str) -> pd.DataFrame:
        """Segment profiles of one kind ('rfm' or 'cluster'), largest first as stored."""
        seg = self.tables["segments"]
        return seg[seg["kind"] == kind]
