"""Value formatters used as Jinja filters: every number on the site goes through one of these."""

from __future__ import annotations

import math

from markupsafe import Markup

from report.formatters import MISSING, fmt_date, fmt_days, fmt_int, fmt_num, fmt_pct, linkify, make_filters


def test_money_uses_the_configured_symbol_and_no_symbol_when_none_is_set():
    assert make_filters("£")["money"](1234.5) == "£1,234.50"
    assert make_filters("£")["money0"](1234.5) == "£1,234"
    assert make_filters("")["money"](1234.5) == "1,234.50"
    assert make_filters("$")["money"](-12.5) == "-$12.50"


def test_missing_values_show_a_dash_instead_of_nan():
    for fmt in (fmt_int, fmt_num, fmt_pct, fmt_days, make_filters("£")["money"]):
        assert fmt(None) == MISSING and fmt(math.nan) == MISSING


def test_shares_are_percentages_and_tiny_shares_are_not_rounded_to_zero():
    assert fmt_pct(0.2505) == "25.1%"
    assert fmt_pct(0.00002) == "<0.1%"
    assert fmt_pct(0.0) == "0.0%"


def test_counts_and_numbers_get_thousands_separators_and_no_trailing_zeros():
    assert fmt_int(4321) == "4,321"
    assert fmt_num(21.50) == "21.5" and fmt_num(4.0) == "4" and fmt_num(1234.567) == "1,234.57"


def test_days_and_dates_read_naturally():
    assert fmt_days(1) == "1 day" and fmt_days(40.5) == "40.5 days"
    assert fmt_date("2024-01-05") == "5 Jan 2024"


def test_fmt_applies_a_filter_by_name():
    filters = make_filters("£")
    assert filters["fmt"](0.5, "pct") == "50.0%" and filters["fmt"]("x", "text") == "x"


def test_linkify_escapes_the_citation_and_links_only_its_doi():
    out = linkify("Data <b>set</b>, https://doi.org/10.24432/C5BW33. Chen (2012)")
    assert isinstance(out, Markup)
    assert "&lt;b&gt;set&lt;/b&gt;" in out
    assert '<a href="https://doi.org/10.24432/C5BW33" rel="external">' in out
    assert "C5BW33</a>. Chen" in out
