"""Options for one build, as a frozen dataclass with defaults.

The CLI (and later report.toml) fill it; every stage reads from it and never changes it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from pathlib import Path

from analysis.errors import ConfigError
from analysis.schema import CANONICAL

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_INPUT = ROOT / "data" / "sample_transactions.csv.gz"


@dataclass(frozen=True)
class Config:
    input: Path = field(default=SAMPLE_INPUT, metadata={"doc": "transactions file (CSV/TSV, .gz, .zip, Parquet)"})
    output: Path = field(default=Path("site"), metadata={"doc": "folder the site is written to"})
    column_map: tuple[tuple[str, str], ...] = field(default=(), metadata={"doc": "canonical field -> input column overrides"})
    as_of: dt.date | None = field(default=None, metadata={"doc": "analysis date; default the day after the last order"})
    seed: int = field(default=0, metadata={"doc": "seed for clustering and sampling"})
    clusters: int | None = field(default=None, metadata={"doc": "number of behaviour clusters; default chosen automatically"})
    k_min: int = field(default=3, metadata={"doc": "smallest number of clusters tried"})
    k_max: int = field(default=8, metadata={"doc": "largest number of clusters tried"})
    title: str = field(default="Customer segments", metadata={"doc": "report title"})
    currency: str = field(default="", metadata={"doc": "currency symbol for display, e.g. £ or $"})
    dayfirst: bool = field(default=False, metadata={"doc": "read ambiguous dates like 01/02/2011 as day/month"})
    top_n: int = field(default=10, metadata={"doc": "products and countries listed per segment"})

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.column_map)

    def as_dict(self) -> dict:
        """Plain JSON-ready view (paths as given, dates ISO) for summary.json."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (Path, dt.date)):
                value = str(value) if isinstance(value, Path) else value.isoformat()
            elif f.name == "column_map":
                value = dict(value)
            out[f.name] = value
        out["input"] = display_path(self.input)
        return out


def display_path(path: Path) -> str:
    """The input path as a reader should see it: relative to the project when bundled."""
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def make_config(**options) -> Config:
    """Build a Config from keyword options (None means default), checking all of them at once."""
    problems = []
    given = {k: v for k, v in options.items() if v is not None}
    names = {f.name for f in fields(Config)}
    for key in sorted(set(given) - names):
        problems.append(f"unknown option '{key}'")
    for canon, _col in given.get("column_map", ()):
        if canon not in CANONICAL:
            problems.append(f"--map: unknown field '{canon}' (known: {', '.join(CANONICAL)})")
    if "clusters" in given and not 2 <= given["clusters"] <= 20:
        problems.append(f"--clusters must be between 2 and 20, got {given['clusters']}")
    k_min, k_max = given.get("k_min", 3), given.get("k_max", 8)
    if not 2 <= k_min <= k_max <= 20:
        problems.append(f"cluster range must satisfy 2 <= k_min <= k_max <= 20, got {k_min}..{k_max}")
    if given.get("top_n", 10) < 1:
        problems.append("--top-n must be at least 1")
    if problems:
        raise ConfigError(problems)
    for key in ("input", "output"):
        if key in given:
            given[key] = Path(given[key])
    return Config(**{k: v for k, v in given.items() if k in names})
