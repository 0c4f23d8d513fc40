"""The downloads page: every file to download, and the data dictionary of their columns."""

from __future__ import annotations

from analysis.result import Analysis
from report import dictionary
from report.downloads import file_columns
from report.pages.parts import KIND_TITLES, segment_rows


def downloads(a: Analysis) -> dict:
    columns = file_columns(a)
    entries = dictionary.columns(a.value.clv_horizon_days)
    used = dict.fromkeys(c for names in columns.values() for c in names)
    return {
        "files": [{"name": name, "href": None if "<" in name else f"downloads/{name}", "what": what,
                   "columns": columns[name]} for name, what in dictionary.FILES.items() if name in columns],
        "segment_lists": [(title, [dict(row, list_href=f"downloads/segments/{row['slug']}.csv")
                                   for row in segment_rows(a, kind)])
                          for kind, title in KIND_TITLES.items() if segment_rows(a, kind)],
        "entries": [{"name": name, "unit": dictionary.UNIT_LABELS[entries[name].unit],
                     "meaning": entries[name].meaning} for name in used],
    }
