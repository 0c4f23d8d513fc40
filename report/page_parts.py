"""What page builders hand to templates: table and chart specs, KPI cards, page entries, and
rows as plain dicts. Shared by pages.py and pages_more.py; nothing here computes a number."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from report.chart_style import Figure

HEX_COLOR = re.compile(r"#[0-9A-Fa-f]{3}(?:[0-9A-Fa-f]{3})?")
KIND_TITLES = {"rfm": "RFM segments", "cluster": "Behaviour clusters"}
KIND_LABELS = {"rfm": "RFM segment", "cluster": "Behaviour cluster"}


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
