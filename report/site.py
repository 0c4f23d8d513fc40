"""The site's pages, listed explicitly, and what every page shows (title, navigation, footer)."""

from __future__ import annotations

import analysis
from analysis.result import Analysis
from report.pages.changes import changes
from report.pages.cohorts import cohorts
from report.pages.data_quality import data_quality
from report.pages.downloads import downloads
from report.pages.glossary import glossary
from report.pages.methodology import methodology
from report.pages.overview import overview
from report.pages.parts import KIND_TITLES, Page, primary_kind, segment_href, segment_rows, segments
from report.pages.products import products
from report.pages.segment import segment_page
from report.pages.segments import segments_overview
from report.pages.value import value

PAGES = (
    Page("index.html", "Overview", "index.html", "Overview", overview),
    Page("segments.html", "Segments", "segments.html", "Segments", segments_overview),
    Page("cohorts.html", "Cohorts and retention", "cohorts.html", "Cohorts", cohorts),
    Page("products.html", "Products", "products.html", "Products", products),
    Page("changes.html", "Changes and risk", "changes.html", "Changes", changes),
    Page("value.html", "Customer value", "value.html", "Value", value),
    Page("data-quality.html", "Data quality", "data-quality.html", "Data quality", data_quality),
    Page("downloads.html", "Downloads", "downloads.html", "Downloads", downloads),
    Page("methodology.html", "Methodology", "methodology.html", "Methodology", methodology),
    Page("glossary.html", "Glossary", "glossary.html", "", glossary),  # linked from every term and the footer
)


def segment_pages(a: Analysis) -> list[Page]:
    """One page per segment of the recommended segmentation, in the segments table's order."""
    seg = segments(a)
    seg = seg[seg["kind"] == primary_kind(a)]
    return [Page(segment_href(slug), name, "segment.html", name,
                 lambda a, slug=slug: segment_page(a, slug))
            for slug, name in zip(seg["slug"].tolist(), seg["segment"].tolist())]


def site_context(a: Analysis) -> dict:
    """What every page shows: title, navigation, footer."""
    return {
        "site_title": a.config.title,
        "nav": [(p.file, p.nav_label) for p in PAGES if p.nav_label],
        "segment_nav": [(KIND_TITLES[kind], segment_rows(a, kind)) for kind in (primary_kind(a),)
                        if (a.tables["segments"]["kind"] == kind).any()],
        "period": (a.data.period_start, a.data.period_end),
        "build_date": a.data.build_date,
        "tool": f"{analysis.TOOL_NAME} {analysis.__version__}",
        "attribution": a.source.attribution,
    }
