"""The glossary page: every technical term the pages use, in plain words."""

from __future__ import annotations

from analysis.result import Analysis
from report.glossary import TERMS


def glossary(a: Analysis) -> dict:
    return {"terms": sorted(TERMS, key=lambda t: t.name.lower())}
