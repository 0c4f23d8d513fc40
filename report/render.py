"""Turn one Analysis into a static site: Jinja2 pages, inline Plotly figures, atomic writer.

write_site() writes every file (pages, downloads, assets) into a temporary sibling folder and
swaps it into place once all are there, so a failed build never leaves a half-written site and
never touches a folder that is not a site.
"""

from __future__ import annotations

import html
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import markdown as md
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from analysis import interrupt
from analysis.errors import DataError
from analysis.result import Analysis
from report import downloads, glossary, site
from report.charts.style import Figure
from report.formatters import make_filters
from report.output import COMMITTED_README, Output, prepared

PROJECT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT / "templates"
TOP_MARGIN = 30  # the title is HTML above the chart, so Plotly needs little room on top
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "typesetMath": False}
DIV_ID = re.compile(r"[a-z][a-z0-9-]*")
# Characters that must not appear raw inside an inline <script>: HTML and JS line terminators.
SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def markdown_filter(text) -> Markup:
    """Markdown (our own content/*.md, trusted) to HTML with tables and heading ids."""
    return Markup(md.markdown(str(text), extensions=["tables", "toc"], output_format="html"))


def collapsible(html_text) -> Markup:
    """Each <h2> section of rendered markdown after the first as a closed "how" section whose
    summary is the heading (a link to the heading's id opens it): a long reference page reads as
    its list of contents."""
    parts = re.split(r"(?=<h2[ >])", str(html_text))
    out = [parts[0]] if not parts[0].startswith("<h2") else []
    sections = parts[1:] if out else parts
    for i, part in enumerate(sections):
        heading_end = part.index("</h2>") + len("</h2>")
        out.append(f'<details class="how section"{" open" if i == 0 else ""}><summary>{part[:heading_end]}</summary>'
                   f'<div class="how-body">{part[heading_end:]}</div></details>\n')
    return Markup("".join(out))


def fmt_pvalue(value) -> str:
    """A p-value: '0.032', '< 0.001', or scientific for the very small ones shown in tables ('2.3e-14')."""
    from report.formatters import MISSING, _missing

    if _missing(value):
        return MISSING
    v = float(value)
    if v == 0:
        return "< 1e-300"
    return f"{v:.2g}" if v < 0.001 else f"{v:.3f}"


def fmt_month(value) -> str:
    """A month (date, first day) as 'Jan 2024'."""
    from report.formatters import MISSING, _missing

    if _missing(value) or value == "":
        return MISSING
    return f"{pd.Timestamp(str(value)[:10]):%b %Y}"


def fmt_dayrange(value) -> str:
    """(low, high) days as '22 to 54 days'."""
    from report.formatters import MISSING, _missing, fmt_num

    low, high = value
    if _missing(low) or _missing(high):
        return MISSING
    return f"{fmt_num(low, 1)} to {fmt_num(high, 1)} days"


EXTRA_FILTERS = {"pvalue": fmt_pvalue, "month": fmt_month, "dayrange": fmt_dayrange}


def make_environment(currency: str = "") -> Environment:
    """The one Jinja environment: autoescape, strict undefined, formatters as filters."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(make_filters(currency))
    env.filters.update(EXTRA_FILTERS)
    env.filters["fmt"] = lambda value, name: env.filters[name](value)  # so table columns can name the extras
    env.filters["markdown"] = markdown_filter
    env.filters["collapsible"] = collapsible
    env.globals["figure_html"] = figure_html
    return env


def script_safe_json(value) -> str:
    """Compact JSON with sorted keys that can sit inside <script>: <, >, & and U+2028/9 escaped."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return re.sub("[<>&\u2028\u2029]", lambda m: SCRIPT_ESCAPES[m.group(0)], text)


def _text(value) -> str:
    """Plotly text (escaped, may hold <br>) as plain text."""
    text = re.sub(r"<br\s*/?>", " ", value or "", flags=re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]*>", "", text))).strip()


def figure_html(fig: Figure | go.Figure, div_id: str) -> Markup:
    """The chart's title as HTML (it wraps on small screens), a div (role=img, labelled by the
    title) and the inline script that draws the figure without its Plotly title."""
    if not DIV_ID.fullmatch(div_id):
        raise ValueError(f"chart id must be lower-case letters, digits and '-': {div_id!r}")
    if isinstance(fig, Figure):
        spec = fig.to_plotly_json()  # a copy in plain JSON types, NaN -> null
    else:
        spec = json.loads(pio.to_json(fig, validate=False, engine="json"))
    layout = spec.get("layout", {})
    title = layout.pop("title", {}) or {}
    title_text = _text(title.get("text"))
    subtitle_text = _text((title.get("subtitle") or {}).get("text"))
    layout.setdefault("margin", {})["t"] = TOP_MARGIN
    payload = script_safe_json({"data": spec.get("data", []), "layout": layout})
    config = script_safe_json(PLOTLY_CONFIG)
    label = ". ".join(t for t in (title_text, subtitle_text) if t) or "Chart"
    head = ""
    if title_text:
        head = f'<p class="chart-title">{html.escape(title_text)}</p>\n'
        if subtitle_text:
            head += f'<p class="chart-subtitle">{html.escape(subtitle_text)}</p>\n'
    return Markup(
        f'{head}<div id="{div_id}" class="chart" role="img" aria-label="{html.escape(label, quote=True)}"></div>\n'
        f'<script>(function(){{var f={payload};'
        f'Plotly.newPlot("{div_id}",f.data,f.layout,{config});}})();</script>'
    )


def render_pages(a: Analysis) -> dict[str, str]:
    """Every page rendered to a string, by path inside the site."""
    env = make_environment(a.config.currency)
    context = site.site_context(a)
    out = {}
    for page in (*site.PAGES, *site.segment_pages(a)):
        template = env.get_template(page.template)
        text = template.render(**context, **page.build(a), page=page, root=page.root)
        out[page.file] = text if page.file == glossary.PAGE else glossary.link_terms(text, page.root)
    return out


def site_files(a: Analysis) -> dict[str, bytes]:
    """The pages and assets of the site (all but downloads/), by path inside it."""
    files = {path: text.encode("utf-8") for path, text in render_pages(a).items()}
    files["assets/plotly.min.js"] = plotly.offline.get_plotlyjs().encode("utf-8")
    files["assets/style.css"] = (TEMPLATES / "assets" / "style.css").read_bytes()
    files["assets/site.js"] = (TEMPLATES / "assets" / "site.js").read_bytes()
    files[".nojekyll"] = b""
    if COMMITTED_README.is_file():
        files["README.md"] = COMMITTED_README.read_bytes()
    return files


def _writer(folder: Path):
    """write(path inside `folder`, bytes or byte chunks), refusing any path that leads outside it."""
    base = folder.resolve()

    def write(rel: str, data: bytes | Iterable[bytes]) -> None:
        target = (folder / rel).resolve()
        if base not in target.parents:
            raise DataError(f"refusing to write outside the output folder: {rel!r}", file=str(folder))
        # The downloads are written from a thread: after Ctrl-C, or once an abandoned build has
        # removed the folder, it stops rather than make the folder again beside the site.
        interrupt.check()
        if not base.is_dir():
            raise DataError("the site's temporary folder was removed while it was being written", file=str(folder))
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            target.write_bytes(data)
            return
        with target.open("wb") as file:  # a large file, chunk by chunk as it is made
            for chunk in data:
                interrupt.check()
                file.write(chunk)
    return write


def _write_all(a: Analysis, folder: Path) -> None:
    """Every file of the site, written into the new folder `folder`. The downloads are mostly
    Arrow and DuckDB work, which leaves the interpreter free: a thread writes each as it is made
    while the pages render."""
    folder.mkdir(exist_ok=True)
    write = _writer(folder)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="downloads") as pool:
        made = pool.submit(downloads.write_downloads, a, write)
        files = site_files(a)
        for rel in sorted(files):
            write(rel, files[rel])
        made.result()


def write_site(a: Analysis, output) -> Path:
    """Write the whole site into a new folder beside the output, then swap it in (see report.output).
    `output`: a folder path (checked and locked here) or an output.Output already prepared."""
    if isinstance(output, Output):
        return output.write(lambda folder: _write_all(a, folder))
    with prepared(output) as out:
        return out.write(lambda folder: _write_all(a, folder))
