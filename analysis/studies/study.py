"""The one interface of a study (a section of the report computed after the segments).

A study module defines STUDY = Study(name, result, queries=..., segment_queries=...):
- `queries(inputs)`: the engine work it needs that does not depend on segments, as
  {name: (function, *args)}; the pipeline submits it to the background as soon as the customers
  table exists, so it runs while the segments and clusters are computed;
- `segment_queries(inputs)`: the same for work that needs each customer's segments
  (inputs.customers has them by then);
- `result(inputs, queried)`: a StudyResult from the customers table and the engine's results.
  `queried["<study>.<name>"]` waits for one of them (any study's: a study may read another's);
  `queried.last(...)` also forgets it, for the last study that reads it.

The pipeline (analysis.pipeline._studies) runs the studies in its list's order, each as one stage
of that name, and collects their tables, headline figures, per-customer columns and warnings.
A study's tables are declared in schema.TABLES or, for a new study, in its Study(tables=...).
Adding a section to the report: one study module, a line in the pipeline's list, one page module
and a line in report.site.PAGES, one template (docs/adding-a-page.md shows one).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pandas as pd

Queries = Mapping[str, tuple]  # name -> (function, *args): run as function(*args) in the background


@dataclass(frozen=True)
class Inputs:
    """What a study may read."""
    lines: Any                      # the kept lines net of returns (an engine table)
    as_of: dt.date                  # the as-of date: the end of the data, or --as-of
    start: dt.date                  # the data's first day
    config: Any                     # analysis.config.Config
    segment_map: tuple              # the RFM segment rules in use (analysis.config.Rule)
    customer_returns: pd.DataFrame  # per customer, what they returned (analysis.read.returns)
    customers: pd.DataFrame | None = None  # one row per customer, with RFM segment and cluster (None for `queries`)
    clustering: Any = None          # analysis.customers.cluster.Clustering (None for `queries`)
    tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # the tables made before the studies


@dataclass(frozen=True)
class StudyResult:
    """What a study adds to the Analysis."""
    tables: Mapping[str, pd.DataFrame]                   # by name, columns as in schema.TABLES
    figures: object = None                               # a frozen dataclass of figures (Analysis.<study name>)
    customer_columns: pd.DataFrame | None = None         # customer_id and columns for the customers table
    warnings: tuple[str, ...] = ()                       # shown on the data-quality page and the console


def _none(inputs: Inputs) -> Queries:
    return {}


@dataclass(frozen=True)
class Study:
    name: str                                             # its stage's name
    result: Callable[[Inputs, Mapping[str, object]], StudyResult]
    queries: Callable[[Inputs], Queries] = _none
    segment_queries: Callable[[Inputs], Queries] = _none
    tables: Mapping[str, list[str]] = field(default_factory=dict)  # tables it makes that schema.TABLES
    # does not list, with their columns (checked when it has run; the pipeline keeps them in the Analysis)

    def checked(self, result: StudyResult) -> StudyResult:
        """`result`, after checking that it holds each of self.tables with the declared columns."""
        for name, columns in self.tables.items():
            got = list(result.tables[name].columns) if name in result.tables else None
            if got != list(columns):
                raise ValueError(f"study '{self.name}': table '{name}' has columns {got}, declared {list(columns)}")
        return result


_RELEASED = object()


class Queried(Mapping):
    """The engine's results by "<study>.<name>", each awaited when first read."""

    def __init__(self, futures: Mapping[str, Any]):
        self._futures = futures

    def __getitem__(self, key: str):
        if self._futures.get(key) is _RELEASED:
            raise KeyError(f"{key} was released by its last reader (Queried.last)")
        return self._futures[key].result()

    def last(self, key: str):
        """queried[key], and forgotten: for the last study that reads it, so that a result with a
        row per customer is not held through the rest of the build."""
        value = self[key]
        self._futures[key] = _RELEASED
        return value

    def __iter__(self):
        return iter(self._futures)

    def __len__(self) -> int:
        return len(self._futures)
