"""What page builders hand to templates: table and chart specs, KPI cards, page entries, and
rows as plain dicts, and the helpers every page module uses; nothing here computes a number."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from analysis.result import Analysis
from report.charts.style import Figure, dressed

KIND_TITLES = {"rfm": "RFM segments", "cluster": "Behaviour clusters"}
KIND_LABELS = {"rfm": "RFM segment", "cluster": "Behaviour cluster"}
KIND_PLURALS = {"rfm": "RFM segments", "cluster": "behaviour clusters"}  # within a sentence


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    fmt: str = "text"          # a filter name from report.formatters
    link: str | None = None    # row key holding a root-relative address to link the cell to
    numeric: bool = False      # right-aligned
    nowrap: bool = False       # short codes and names kept on one line


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: tuple[Column, ...]
    rows: list[dict]


@dataclass(frozen=True)
class Chart:
    id: str                    # fixed div id: deterministic output
    figure: Figure
    note: str = ""             # text alternative / how to read it
    table: Table | None = None  # the numbers behind the chart, shown on request
    wide: bool = False         # needs a minimum width: scrolls sideways on phones instead of squeezing


@dataclass(frozen=True)
class Kpi:
    label: str
    value: object
    fmt: str
    note: str = ""


@dataclass(frozen=True)
class Page:
    file: str                  # path inside the site
    title: str
    template: str
    nav_label: str
    build: Callable[..., dict] = field(repr=False)

    @property
    def root(self) -> str:
        return "../" * self.file.count("/")


def records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict]:
    """Rows as plain dicts (NaN/NA -> None) for templates."""
    frame = frame if columns is None else frame[columns]
    # Column by column: DataFrame.to_dict('records') boxes every cell on its own and is slow.
    names = list(frame.columns)
    values = [[None if _is_missing(v) else v for v in column.tolist()] for _, column in frame.items()]
    return [dict(zip(names, row)) for row in zip(*values)] if names else [{} for _ in range(len(frame))]


def _is_missing(value) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def segment_href(slug: str) -> str:
    return f"segments/{slug}.html"


def segments(a: Analysis) -> pd.DataFrame:
    """The analysis's segments table with each segment's page name (slug) and colour
    (charts.style.dressed): what every page and download reads."""
    return dressed(a.tables["segments"], a.tables["rfm_rules"]["segment"].tolist())


def primary_kind(a: Analysis) -> str:
    """The segmentation the report recommends (RFM when the data cannot tell): its segments get a
    page each; the other is summarised on the segments page."""
    return a.validation.recommended_segmentation or "rfm"


def segment_rows(a: Analysis, kind: str) -> list[dict]:
    """Segments of one kind with their page address (None for the segmentation not recommended,
    which has no pages of its own)."""
    seg = segments(a)
    rows = records(seg[seg["kind"] == kind])
    for row in rows:
        row["href"] = segment_href(row["slug"]) if kind == primary_kind(a) else None
        row["kind_label"] = KIND_LABELS[kind]
    return rows


SEGMENT_COLUMNS = (
    Column("segment", "Segment", link="href", nowrap=True),
    Column("customers", "Customers", "int", numeric=True),
    Column("share_customers", "Share of customers", "pct", numeric=True),
    Column("revenue", "Revenue", "money0", numeric=True),
    Column("share_revenue", "Share of revenue", "pct", numeric=True),
    Column("avg_order_value", "Average order value", "money", numeric=True),
    Column("revenue_per_customer", "Revenue per customer", "money", numeric=True),
    Column("median_recency_days", "Median days since last order", "num", numeric=True),
    Column("median_frequency_orders", "Median orders", "num", numeric=True),
    Column("return_rate", "Return rate", "pct", numeric=True),
)


# labels of the analysis's stats.KEY_FEATURES, in the order the pages show them
KEY_FEATURE_LABELS = {"monetary": "Revenue", "frequency_orders": "Orders", "recency_days": "Days since last order",
                "avg_order_value": "Avg order value"}


VALUE_FEATURES = {"clv": "CLV", "p_alive": "Probability alive"}


SHOWN_ROWS = 50  # long customer lists: the first rows on the page, the full list as CSV


FEATURE_FMT = {"monetary": "money", "avg_order_value": "money", "frequency_orders": "num",
               "recency_days": "num", "clv": "money", "p_alive": "pct"}


def kinds_present(a: Analysis) -> list[tuple[str, str]]:
    seg = a.tables["segments"]
    return [(kind, title) for kind, title in KIND_TITLES.items() if (seg["kind"] == kind).any()]


def of_kind(table, kind):
    return table[table["kind"] == kind]


def feature_rows(table, kind, features: dict[str, str]) -> list[dict]:
    """Rows for features in `features` with a display label and a per-row money/number format."""
    part = of_kind(table, kind)
    part = part[part["feature"].isin(list(features))]
    rows = records(part)
    for row in rows:
        row["feature_label"] = features[row["feature"]]
    return rows


# Where the evidence of a finding is shown: the table it rests on -> the page and anchor of its chart.
EVIDENCE_PAGES = {"revenue_at_risk": "changes.html#at-risk", "movers": "changes.html#movers",
                  "first_purchase": "products.html#first-purchase", "holdout_comparison": "value.html#holdout",
                  "segments": "segments.html#rfm-segments", "pareto": "segments.html#concentration",
                  "second_order": "cohorts.html#repeat", "monthly": "index.html#revenue-over-time",
                  "cluster_selection": "segments.html#clusters", "money_ledger": "data-quality.html#money",
                  "ledger": "data-quality.html#ledger"}


def finding_rows(findings) -> list[dict]:
    """Findings as the templates and summary.json show them: text, figure and the link to the chart
    of the table each rests on."""
    return [{"text": f.text, "figure": f.figure, "link": EVIDENCE_PAGES[f.evidence]} for f in findings]

