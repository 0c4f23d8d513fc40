"""The engine's memory: its starting budget, the most it may grow to, and DuckDB's settings for a
build (spilling to the build's temporary folder)."""

from __future__ import annotations

import os
from pathlib import Path

# The engine's starting memory budget (DuckDB's buffer manager): beyond it, joins, sorts, aggregates
# and stored tables spill to a folder in the build's temporary directory instead of growing RSS
# (benchmarks/bench_build.py measures the trade-off against time).
ENGINE_MEMORY_MB = int(os.environ.get("SEGMENT_REPORT_ENGINE_MB", "320"))
ENGINE_MEMORY_SHARE = 0.6  # never more than this share of the machine's RAM
MIN_ENGINE_MB = 256       # nor less than this


def memory_ceiling_bytes() -> float:
    """The most the engine's memory budget may grow to (see engine.with_memory): ENGINE_MEMORY_SHARE
    of the machine's memory, or the starting budget where that is unknown."""
    try:
        return ENGINE_MEMORY_SHARE * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return float(ENGINE_MEMORY_MB * 2**20)


def engine_settings(con, workdir: Path) -> None:
    """DuckDB settings for a build: a memory budget with spilling to `workdir`, no promise of
    insertion order (every result whose order matters is sorted), no progress bar."""
    if getattr(con, "name", "") != "duckdb":
        return
    spill = Path(workdir) / "engine-spill"
    spill.mkdir(parents=True, exist_ok=True)
    budget = min(ENGINE_MEMORY_MB * 2**20, memory_ceiling_bytes())
    con.raw_sql(f"SET temp_directory = '{str(spill).replace(chr(39), chr(39) * 2)}'")
    con.raw_sql(f"SET memory_limit = '{max(MIN_ENGINE_MB, int(budget // 2**20))}MiB'")
    con.raw_sql("SET preserve_insertion_order = false")
    con.raw_sql("SET enable_progress_bar = false")
