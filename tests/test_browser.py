"""The built site in a real browser: Debian's Chromium, headless, driven by Playwright.

One site is built per module from a small generated data set with hostile strings planted in
product names, a country, some customer ids and one extra column name. Every page is opened
from file:// once and what a reader meets is recorded (errors, requests, dialogs, charts, links,
headings, text); most tests below read that record. Screenshots of each page type at desktop and
phone width go to tests/artifacts/screenshots/ (git-ignored).

Locally the browser tests skip, saying why, when /usr/bin/chromium or Playwright is missing;
when CI is set they fail instead, so CI can never pass without running them. No browser is ever
downloaded.

    python tests/test_browser.py    # rebuilds the sample site and refreshes docs/screenshots/
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import html
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

import pytest

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:  # for `python tests/test_browser.py`
    sys.path.insert(0, str(PROJECT))

from report.charts.style import CLUSTER_COLORS, RFM_COLORS
from data.generate_sample import generate, write_csv
from report.downloads import RECORDED_PACKAGES, safe_for_spreadsheets

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = PROJECT / "tests" / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = PROJECT / "docs" / "screenshots"
DESKTOP, PHONE = 1280, 390

# Hostile strings planted in the data. Each must reach the reader as literal text.
SCRIPT_TAG = "<script>alert(1)</script>"
IMG_TAG = "</script><img src=x onerror=alert(1)>"
TEMPLATE = "{{7*7}}"
QUOTES = f"{TEMPLATE} \"double\" 'single'"
UNICODE = "Café ☕ 東京 – naïve"
MARKUP = "<b>Bold</b> & <i>co</i>"  # tags Plotly's text would draw as styling unless escaped
HOSTILE_PRODUCTS = [SCRIPT_TAG, IMG_TAG, QUOTES, UNICODE, MARKUP]
HOSTILE_COUNTRY = f"{UNICODE} {TEMPLATE}"
FORMULA_IDS = ['=HYPERLINK("http://x","y")', "+SUM(1,2)", "-1+2", "@SUM(A1)"]
HOSTILE_IDS = [SCRIPT_TAG, TEMPLATE, "\"'quoted'\"", UNICODE, *FORMULA_IDS]
HOSTILE_COLUMN = f"{SCRIPT_TAG} {TEMPLATE} \"note\" {UNICODE}"
# What a template engine that evaluated {{7*7}} would have shown in place of the planted strings.
EVALUATED = ['49 "double"', "49 Café", "naïve 49"]

PAGE_TYPES = {  # screenshot name -> page; the segment page is the first RFM segment's
    "overview": "index.html",
    "segments": "segments.html",
    "segment": None,
    "data-quality": "data-quality.html",
    "methodology": "methodology.html",
}
MIN_CONTRAST = 4.5  # WCAG AA for body text


# --- the site ----------------------------------------------------------------------------

def hostile_transactions(n_customers: int = 400, seed: int = 11):
    """The generator's transactions with the hostile strings planted where the report shows them:
    the five best-selling products, the most common country, eight customers and a new column."""
    df, truth = generate(n_customers, seed=seed)
    sold = df[(df["quantity"] > 0) & (df["unit_price"] > 0) & (df["customer_id"] != "")]
    revenue = (sold["quantity"] * sold["unit_price"]).groupby(sold["product_id"]).sum()
    top = revenue.sort_values(ascending=False, kind="stable").index[:len(HOSTILE_PRODUCTS)]
    df["product_name"] = df["product_name"].astype(object)
    for product, name in zip(top, HOSTILE_PRODUCTS):
        df.loc[df["product_id"] == product, "product_name"] = name
    country = df["country"].value_counts().index[0]
    df["country"] = df["country"].astype(object).where(df["country"] != country, HOSTILE_COUNTRY)
    renamed = dict(zip(truth.index[:len(HOSTILE_IDS)], HOSTILE_IDS))
    df["customer_id"] = df["customer_id"].astype(object).map(lambda c: renamed.get(c, c))
    df[HOSTILE_COLUMN] = [SCRIPT_TAG if i % 7 == 0 else "plain" for i in range(len(df))]
    return df


@dataclass(frozen=True)
class Site:
    root: Path
    input: Path

    def pages(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.html"))

    def url(self, page: str) -> str:
        return (self.root / page).as_uri()

    def segment_page(self) -> str:
        return next(p for p in self.pages() if p.startswith("segments/"))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    import build_report

    folder = tmp_path_factory.mktemp("hostile")
    data = folder / "hostile.csv"
    write_csv(hostile_transactions(), data)
    out = folder / "site"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = build_report.main(["--input", str(data), "--output", str(out), "--quiet"])
    assert code == 0, err.getvalue()
    return Site(out, data)


# --- the browser -------------------------------------------------------------------------

def browser_missing() -> str | None:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Debian's Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = browser_missing()
    if reason:
        if "CI" in os.environ:
            pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs both)")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Log:
    """Everything a page did that a reader would not want: errors, requests, dialogs."""
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


class Tab:
    """One browser tab that opens page after page, so Chromium compiles plotly.js once.

    Every request is observed (anything but file:// is aborted and recorded), every dialog is
    dismissed and recorded; `visit` returns the log of that one page, after its charts are drawn.
    """

    def __init__(self, browser, width: int = DESKTOP, height: int = 900, scale: float = 1):
        self.context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=scale)
        self.log = Log()
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.log.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.log.page_errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.log.failed.append(f"{r.url}: {r.failure}"))
        self.page.on("dialog", self._dialog)

    def _route(self, route) -> None:
        self.log.requests.append(route.request.url)
        if urlsplit(route.request.url).scheme == "file":
            route.continue_()
        else:
            self.log.blocked.append(route.request.url)
            route.abort()

    def _dialog(self, dialog) -> None:
        self.log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def visit(self, url: str) -> Log:
        self.log = Log()
        self.page.goto(url, wait_until="load")
        with contextlib.suppress(Exception):  # a chart that never draws is reported by the tests
            self.page.wait_for_function(
                "Array.from(document.querySelectorAll('div.chart')).every(d => d.querySelector('svg.main-svg'))",
                timeout=15_000)
        return self.log

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.context.close()


@contextlib.contextmanager
def opened(browser, url: str, **viewport):
    """A fresh tab showing `url`: (page, log)."""
    with Tab(browser, **viewport) as tab:
        log = tab.visit(url)
        yield tab.page, log


RECORD_JS = """() => {
  const strings = (value, out) => {
    if (typeof value === 'string') out.push(value);
    else if (Array.isArray(value)) value.forEach(v => strings(v, out));
    else if (value && typeof value === 'object') Object.values(value).forEach(v => strings(v, out));
    return out;
  };
  const body = document.body.cloneNode(true);
  body.querySelectorAll('script, style').forEach(e => e.remove());
  return {
    text: body.textContent,
    charts: Array.from(document.querySelectorAll('div.chart')).map(c => {
      const figure = c.closest('figure');
      const caption = figure && figure.querySelector('figcaption');
      return {
        id: c.id,
        plotted: c.classList.contains('js-plotly-plot') && !!c.querySelector('svg.main-svg')
                 && Array.isArray(c.data) && c.data.length > 0,
        label: c.getAttribute('aria-label') || '',
        role: c.getAttribute('role') || '',
        caption: caption ? caption.textContent.trim() : '',
        table: !!(figure && figure.querySelector('details table')),
        data: strings(c.data || [], []),
        colors: (c.data || []).map(t => t.marker && t.marker.color).filter(x => typeof x === 'string'),
        svg: Array.from(c.querySelectorAll('svg text')).map(t => t.textContent),
      };
    }),
    links: Array.from(document.querySelectorAll('a[href]')).map(a => ({
      href: a.getAttribute('href'), url: a.href, nav: !!a.closest('nav'), download: a.hasAttribute('download'),
    })),
    ids: Array.from(document.querySelectorAll('[id]')).map(e => e.id),
    headings: Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
      .map(h => [Number(h.tagName[1]), h.textContent.trim()]),
    images: document.querySelectorAll('img').length,
    scripts: Array.from(document.querySelectorAll('script')).map(s => s.src || s.textContent.slice(0, 30)),
    swatches: Array.from(document.querySelectorAll('.swatch'))
      .map(s => getComputedStyle(s).backgroundColor),
    segment_colors: Array.from(document.querySelectorAll('[style*="--segment-color"]'))
      .map(e => e.style.getPropertyValue('--segment-color').trim()),
  };
}"""


@pytest.fixture(scope="module")
def visits(browser, site) -> dict[str, dict]:
    """Every page of the site opened once at desktop width: its log and what it shows."""
    out = {}
    with Tab(browser) as tab:
        for page_file in site.pages():
            log = tab.visit(site.url(page_file))
            out[page_file] = tab.page.evaluate(RECORD_JS) | {"log": log}
    return out


def plotly_text(value: str) -> str:
    """A string of a figure as Plotly shows it: <br> breaks a line, entities are decoded."""
    return " ".join(html.unescape(value.replace("<br>", " ")).split())


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def local_path(url: str) -> Path:
    return Path(unquote(urlsplit(url).path))


# --- every page loads cleanly and stays on disk --------------------------------------------

def test_every_page_loads_without_console_errors_page_errors_or_failed_requests(visits):
    assert len(visits) >= 5
    problems = {page: (v["log"].console_errors, v["log"].page_errors, v["log"].failed)
                for page, v in visits.items() if any((v["log"].console_errors, v["log"].page_errors, v["log"].failed))}
    assert problems == {}


def test_pages_request_only_local_files(visits):
    for page, v in visits.items():
        assert v["log"].requests, page
        assert v["log"].blocked == [], page
        assert {urlsplit(u).scheme for u in v["log"].requests} == {"file"}, page
        assert any(u.endswith("/assets/plotly.min.js") for u in v["log"].requests), page


def test_every_chart_holds_a_drawn_plotly_plot(visits):
    charts = [(page, c) for page, v in visits.items() for c in v["charts"]]
    assert len(charts) >= 20
    assert [(page, c["id"]) for page, c in charts if not c["plotted"]] == []
    assert all(visits[p]["charts"] for p in ("index.html", "segments.html"))


def test_every_internal_link_and_download_resolves_to_a_file_and_its_anchor(visits, site):
    ids = {page: set(v["ids"]) for page, v in visits.items()}
    checked = 0
    for page, v in visits.items():
        for link in v["links"]:
            url = urlsplit(link["url"])
            assert url.scheme == "file", f"{page}: {link['href']} leaves the site"
            assert not link["href"].startswith("/"), f"{page}: {link['href']} is not relative"
            target = local_path(link["url"])
            assert target.is_file(), f"{page}: {link['href']} -> missing {target}"
            assert site.root in target.parents, f"{page}: {link['href']} points outside the site"
            if url.fragment:
                key = target.relative_to(site.root).as_posix()
                assert unquote(url.fragment) in ids[key], f"{page}: no #{url.fragment} in {key}"
            checked += 1
    assert checked > 100
    downloads = {local_path(l["url"]).name for v in visits.values() for l in v["links"] if l["download"]}
    assert {"customers.csv", "segments.csv", "ledger.csv"} <= downloads


def test_the_navigation_reaches_every_page(visits, site):
    reached, todo = {"index.html"}, deque(["index.html"])
    while todo:
        for link in visits[todo.popleft()]["links"]:
            if not link["nav"]:
                continue
            target = local_path(link["url"]).relative_to(site.root).as_posix()
            if target.endswith(".html") and target not in reached:
                reached.add(target)
                todo.append(target)
    assert reached == set(site.pages())


# --- hostile data stays text ---------------------------------------------------------------

def test_no_alert_or_other_dialog_ever_opens(visits):
    assert {page: v["log"].dialogs for page, v in visits.items() if v["log"].dialogs} == {}


def test_no_element_is_injected_from_the_data(visits):
    for page, v in visits.items():
        assert v["images"] == 0, page
        for script in v["scripts"]:
            assert script.endswith(("assets/plotly.min.js", "assets/site.js")) or script.startswith(
                "(function(){var f="), (page, script)


def test_hostile_strings_show_literally_as_page_text(visits, site):
    segment_text = "".join(visits[p]["text"] for p in site.pages() if p.startswith("segments/"))
    for name in HOSTILE_PRODUCTS:
        assert name in segment_text, name
    assert HOSTILE_COUNTRY in segment_text
    quality = visits["data-quality.html"]["text"]
    assert HOSTILE_COLUMN in quality
    every_page = "".join(v["text"] for v in visits.values())
    for evaluated in EVALUATED:
        assert evaluated not in every_page


def test_hostile_strings_reach_chart_labels_and_hover_data_literally(visits):
    data = {plotly_text(s) for v in visits.values() for c in v["charts"] for s in c["data"]}
    joined = "\n".join(data)
    for name in [*HOSTILE_PRODUCTS, HOSTILE_COUNTRY, *HOSTILE_IDS]:
        assert name in joined, name
    assert not any(e in joined for e in EVALUATED)
    drawn = squeezed("".join(t for v in visits.values() for c in v["charts"] for t in c["svg"]))
    for name in [*HOSTILE_PRODUCTS, HOSTILE_COUNTRY]:
        assert squeezed(name) in drawn, name


def test_hover_labels_show_hostile_product_names_literally(browser, site):
    hover_js = """() => {
      const gd = document.getElementById('chart-segment-products');
      const out = [];
      for (let i = 0; i < gd.data[0].y.length; i++) {
        Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: i}]);
        out.push(gd.querySelector('.hoverlayer').textContent);
      }
      return out;
    }"""
    with opened(browser, site.url(site.segment_page())) as (page, log):
        hovers = page.evaluate(hover_js)
    shown = " ".join(hovers)
    assert [name for name in HOSTILE_PRODUCTS if name in shown]
    assert log.dialogs == [] and log.page_errors == []


# --- downloads: safe for spreadsheets, and say what made them --------------------------------

def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_formula_like_customer_ids_are_neutralised_in_the_csv_downloads(site):
    rows = read_csv(site.root / "downloads" / "customers.csv")
    ids = {r["customer_id"] for r in rows}
    for formula in FORMULA_IDS:
        assert "'" + formula in ids and formula not in ids
    for other in (SCRIPT_TAG, TEMPLATE, UNICODE):
        assert other in ids
    assert all(float(r["monetary"]) > 0 and float(r["frequency_orders"]) >= 1 for r in rows)


def test_every_formula_prefix_is_neutralised_and_numbers_stay_numeric():
    import pandas as pd

    frame = pd.DataFrame({
        "text": pd.Series(["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "plain", None], dtype="string"),
        "amount": [-1.5, 2.0, -3.0, 4.0, 5.0, -6.0, 7.0, 8.0],
        "count": pd.Series([-1, 2, 3, 4, 5, 6, 7, 8], dtype="int64"),
    })
    safe = safe_for_spreadsheets(frame)
    assert safe["text"].tolist()[:7] == ["'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "plain"]
    assert safe["text"].isna().tolist()[-1]
    assert safe["amount"].tolist() == frame["amount"].tolist() and safe["amount"].dtype == frame["amount"].dtype
    assert safe["count"].tolist() == frame["count"].tolist() and safe["count"].dtype == "int64"
    assert frame["text"].tolist()[0] == "=1+1"  # the input is not changed


def test_summary_json_records_the_input_fingerprint_options_and_package_versions(site):
    summary = json.loads((site.root / "downloads" / "summary.json").read_text(encoding="utf-8"))
    assert summary["input"]["sha256"] == hashlib.sha256(site.input.read_bytes()).hexdigest()
    assert HOSTILE_COLUMN in summary["input"]["columns"]
    assert summary["config"]["seed"] == 0 and summary["config"]["output"] == "site"
    versions = summary["versions"]
    assert set(versions) == {"python", *RECORDED_PACKAGES}
    for name in RECORDED_PACKAGES:
        assert versions[name] == importlib.metadata.version(name)
    assert versions["python"] == ".".join(map(str, sys.version_info[:3]))


def test_package_versions_stay_out_of_the_html_pages(site):
    versions = {name: importlib.metadata.version(name) for name in RECORDED_PACKAGES}
    versions["python"] = ".".join(map(str, sys.version_info[:3]))
    for page in site.pages():
        text = (site.root / page).read_text(encoding="utf-8").lower()
        for name, version in versions.items():
            for shown in (f"{name} {version}", f"{name}=={version}", f"{name}/{version}", f"{name} v{version}"):
                assert shown.lower() not in text, (page, shown)


# --- layout: desktop, phone, print ---------------------------------------------------------

@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_each_page_type_fits_its_screen_and_is_screenshotted(browser, site, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Tab(browser, width=width, height=844 if width == PHONE else 900) as tab:
        for name, page_file in PAGE_TYPES.items():
            page_file = page_file or site.segment_page()
            log = tab.visit(site.url(page_file))
            shot = SCREENSHOTS / f"{name}-{width}.png"
            tab.page.screenshot(path=str(shot), full_page=True)
            scroll_width = tab.page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"{page_file} scrolls sideways at {width} px ({scroll_width} px wide)"
            assert log.page_errors == [] and log.console_errors == []
            assert shot.stat().st_size > 10_000


def test_the_print_stylesheet_hides_navigation_and_keeps_charts(browser, site):
    # file:// stylesheets are opaque to scripts (no cssRules), so the rule is read from disk
    assert "@media print" in (site.root / "assets" / "style.css").read_text(encoding="utf-8")
    with opened(browser, site.url("index.html")) as (page, _):
        page.emulate_media(media="print")
        state = page.evaluate("""() => ({
          header: getComputedStyle(document.querySelector('.site-header')).display,
          skip: getComputedStyle(document.querySelector('.skip-link')).display,
          charts: Array.from(document.querySelectorAll('div.chart')).map(c => ({
            display: getComputedStyle(c).display, visibility: getComputedStyle(c).visibility,
            height: c.getBoundingClientRect().height, svg: !!c.querySelector('svg.main-svg')})),
        })""")
    assert state["header"] == "none" and state["skip"] == "none"
    assert state["charts"]
    for chart in state["charts"]:
        assert chart["display"] != "none" and chart["visibility"] == "visible"
        assert chart["height"] > 100 and chart["svg"]


# --- accessibility basics ------------------------------------------------------------------

def test_every_chart_has_a_title_and_a_text_alternative(visits):
    for page, v in visits.items():
        for c in v["charts"]:
            assert c["role"] == "img" and c["label"] and c["label"] != "Chart", (page, c["id"])
            assert c["caption"] or c["table"], (page, c["id"])


def test_headings_start_at_one_h1_and_never_skip_a_level(visits):
    for page, v in visits.items():
        levels = [level for level, _ in v["headings"]]
        assert levels[0] == 1 and levels.count(1) == 1, (page, v["headings"][:3])
        skips = [(a, b) for (a, _), (b, _) in zip(v["headings"], v["headings"][1:]) if b > a + 1]
        assert skips == [], (page, skips)
        assert all(text for _, text in v["headings"]), page


def test_every_navigation_link_is_reachable_with_the_keyboard(browser, site):
    with opened(browser, site.url("index.html")) as (page, log):
        wanted = set(page.eval_on_selector_all("header nav a", "links => links.map(a => a.href)"))
        reached: set[str] = set()
        for _ in range(80):
            page.keyboard.press("Tab")
            focus = page.evaluate("""() => { const e = document.activeElement;
              return {tag: e.tagName, href: e.href || null, nav: !!e.closest('header nav'),
                      closed: e.tagName === 'SUMMARY' && !e.parentElement.open,
                      main: !!e.closest('main')}; }""")
            if focus["closed"]:
                page.keyboard.press("Enter")  # opens the segments menu, as a keyboard user would
            if focus["nav"] and focus["href"]:
                reached.add(focus["href"])
            if focus["main"]:
                break
    assert len(wanted) >= 5
    assert wanted - reached == set()
    assert log.dialogs == []


CONTRAST_JS = """(selectors) => {
  const parse = c => { const p = c.match(/[\\d.]+/g).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const background = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((bg, layer) => over(layer, bg), [255, 255, 255, 1]);
  };
  const luminance = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const out = {};
  for (const selector of selectors) {
    const el = document.querySelector(selector);
    if (!el) { out[selector] = null; continue; }
    const bg = background(el), fg = over(parse(getComputedStyle(el).color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    out[selector] = (hi + 0.05) / (lo + 0.05);
  }
  return out;
}"""

CONTRAST_SELECTORS = {
    "index.html": ["main p.lede", "main section p", ".brand", ".nav-item > a:not([aria-current])",
                   ".nav-item > a[aria-current]", ".menu > summary", ".menu-panel a", ".menu-heading",
                   ".kpi dt", ".kpi-value", ".kpi-note", ".finding-figure", ".finding-link", ".chart-title",
                   ".chart-subtitle", "figcaption", ".chart-data > summary", "#downloads a", ".site-footer p",
                   ".site-footer a", ".plan td a", ".plan .cell-note", ".plan-why"],
    "segment": [".breadcrumb", ".breadcrumb a", ".lede", ".label", ".action p", ".button", "thead th",
                "td", ".pager a"],
    "segments.html": [".segment-card h3 a", ".card-figures", ".card-rule", "caption", "td a", "details.how > summary"],
    "downloads.html": [".segment-lists a", ".files dt a", ".file-columns", "td code"],
}


def test_body_text_and_navigation_have_enough_contrast(browser, site):
    with Tab(browser) as tab:
        for page_file, selectors in CONTRAST_SELECTORS.items():
            page_file = site.segment_page() if page_file == "segment" else page_file
            tab.visit(site.url(page_file))
            ratios = tab.page.evaluate(CONTRAST_JS, selectors)
            assert [s for s, r in ratios.items() if r is None] == [], page_file
            low = {s: round(r, 2) for s, r in ratios.items() if r < MIN_CONTRAST}
            assert low == {}, page_file


def hex_of(rgb: str) -> str:
    r, g, b = (int(float(x)) for x in re.findall(r"[\d.]+", rgb)[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


def test_segment_colours_come_from_the_declared_colour_blind_safe_palettes(visits, site):
    palette = {c.upper() for c in RFM_COLORS + CLUSTER_COLORS}
    swatches = {hex_of(c) for v in visits.values() for c in v["swatches"]}
    declared = {c.upper() for v in visits.values() for c in v["segment_colors"]}
    assert len(swatches) >= 6 and declared
    assert swatches - palette == set() and declared - palette == set()
    segment = visits[site.segment_page()]
    own = {c.upper() for c in segment["segment_colors"]}
    bars = {c.upper() for chart in segment["charts"] if chart["id"] == "chart-segment-products" for c in chart["colors"]}
    assert len(own) == 1 and bars == own


# --- chart labels: none clipped, none on top of another -------------------------------------

# Every text a reader reads in a drawn chart (tick labels, axis titles, annotations, point, bar and
# legend labels): [problem, chart id, text...] when it reaches outside the chart's box or overlaps
# another. Two labels turned alike (slanted tick labels) overlap only if they are closer across
# the slant than their font size.
LABELS_JS = r"""() => {
  const out = [];
  const box = e => e.getBoundingClientRect();
  const angle = t => { const m = /rotate\((-?[\d.]+)/.exec(t.getAttribute('transform') || ''); return m ? +m[1] : 0; };
  const overlap = (a, b) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
  document.querySelectorAll('div.chart.js-plotly-plot').forEach(chart => {
    if (!chart.querySelector('svg.main-svg')) return;
    const frame = box(chart);
    const sel = '.xtick text, .ytick text, .g-xtitle text, .g-ytitle text, .annotation-text, .textpoint text, .bartext, .legendtext';
    const texts = Array.from(chart.querySelectorAll(sel)).filter(t => t.textContent.trim() && getComputedStyle(t).display !== 'none' && t.getAttribute('opacity') !== '0');
    const items = texts.map(t => ({t, r: box(t), a: angle(t), h: parseFloat(getComputedStyle(t).fontSize) || 12})).filter(i => i.r.width > 0);
    for (const {t, r} of items)
      if (r.left < frame.left - 1 || r.right > frame.right + 1 || r.top < frame.top - 1 || r.bottom > frame.bottom + 1)
        out.push(['clipped', chart.id, t.textContent.slice(0, 40)]);
    for (let i = 0; i < items.length; i++) for (let j = i + 1; j < items.length; j++) {
      const A = items[i], B = items[j];
      if (!overlap(A.r, B.r)) continue;
      if (A.a && A.a === B.a) {  // two labels turned alike: their boxes are slanted, compare across the slant
        const dx = Math.abs(A.r.left - B.r.left), dy = Math.abs(A.r.top - B.r.top), s = Math.sin(Math.abs(A.a) * Math.PI / 180);
        if (Math.max(dx, dy) * s >= 0.9 * Math.min(A.h, B.h)) continue;
      }
      out.push(['overlap', chart.id, A.t.textContent.slice(0, 30), B.t.textContent.slice(0, 30)]);
    }
  });
  return out;
}"""
LABEL_WIDTHS = (1366, PHONE)


def label_problems(tab: Tab, url: str, heights: dict | None = None) -> list:
    """The chart-label problems of one page, with every "How we know" section opened; its height
    as a reader first meets it (sections closed) goes to `heights` by url."""
    tab.visit(url)
    if heights is not None:
        heights[url] = tab.page.evaluate("document.documentElement.scrollHeight")
    tab.page.evaluate("document.querySelectorAll('details.how').forEach(d => d.open = true)")
    tab.page.wait_for_timeout(150)  # the opened sections' charts take their width
    return tab.page.evaluate(LABELS_JS)


def all_label_problems(browser, site: Site, heights: dict | None = None) -> list:
    """Label problems of every page at each of LABEL_WIDTHS; page heights at the first width."""
    problems = []
    for width in LABEL_WIDTHS:
        with Tab(browser, width=width) as tab:
            for page in site.pages():
                found = label_problems(tab, site.url(page), heights if width == LABEL_WIDTHS[0] else None)
                problems += [(width, page, *p) for p in found]
    return problems


def test_no_chart_label_is_clipped_or_overlaps_another_at_desktop_or_phone_width(browser, site):
    assert all_label_problems(browser, site) == []


@pytest.fixture(scope="module")
def uci_site(tmp_path_factory) -> Site:
    import build_report

    from tests.conftest import SHARED_DATA

    data = SHARED_DATA / "online_retail.csv.gz"
    if not data.exists():
        pytest.skip(f"real data not found at {data} (present in CI; absent in a fresh clone)")
    out = tmp_path_factory.mktemp("uci") / "site"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
        code = build_report.main(["--input", str(data), "--output", str(out), "--quiet"])
    assert code == 0, err.getvalue()
    return Site(out, data)


def test_on_uci_online_retail_every_technical_term_links_to_the_glossary(uci_site):
    from tests.test_report_render import unexplained_terms

    assert unexplained_terms(uci_site.root) == {}


def test_on_uci_online_retail_no_chart_label_is_clipped_or_overlaps_and_no_page_is_too_tall(browser, uci_site):
    heights: dict[str, int] = {}
    assert all_label_problems(browser, uci_site, heights) == []
    assert len(heights) == len(uci_site.pages())
    assert {url: h for url, h in heights.items() if h > 8_000} == {}  # desktop, 1366 px wide


# --- README screenshots ----------------------------------------------------------------------

def refresh_docs_screenshots() -> None:
    """Build UCI Online Retail (the bundled sample when ../shared/data/ is absent) and save the
    first screen of the overview, the segments page and the first segment page at 1366 and 390 px
    to docs/screenshots/ (run by hand, not by pytest)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    import build_report
    from tests.conftest import SHARED_DATA

    uci = SHARED_DATA / "online_retail.csv.gz"
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        out = Path(tmp) / "site"
        args = ["--input", str(uci)] if uci.exists() else []
        with contextlib.redirect_stdout(io.StringIO()):
            assert build_report.main([*args, "--output", str(out), "--quiet"]) == 0
        built = Site(out, uci if uci.exists() else PROJECT / "data" / "sample_transactions.csv.gz")
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shots = {"overview": "index.html", "segments": "segments.html", "segment": built.segment_page()}
        for label, width, height, scale in (("desktop", 1366, 768, 1), ("phone", PHONE, 844, 2)):
            with Tab(chromium, width=width, height=height, scale=scale) as tab:
                for name, page_file in shots.items():
                    tab.visit(built.url(page_file))
                    target = DOCS_SCREENSHOTS / f"{name}-{label}.png"
                    tab.page.screenshot(path=str(target))
                    print(f"{target.relative_to(PROJECT)}: {target.stat().st_size // 1024} KiB")
        chromium.close()


if __name__ == "__main__":
    refresh_docs_screenshots()
