"""The glossary: every technical term the pages use, in plain words, and the linker that makes a
term's first use on a page a link to its entry, with the definition shown on hover.

A term is found by its pattern in the page's text (never inside a tag, a link, a script, a style
or code), so a new sentence that uses a term is linked without anyone remembering to.
"""

from __future__ import annotations

import html
import re
from typing import NamedTuple


class Term(NamedTuple):
    key: str          # the entry's anchor: glossary.html#term-<key>
    name: str         # as the glossary lists it
    pattern: str      # a regular expression for the term in page text (already HTML-escaped text)
    meaning: str      # plain words, one or two sentences


TERMS = (
    Term("rfm", "RFM", r"\bRFM\b", "Recency, frequency, monetary: how recently a customer ordered, how often, and how "
         "much they spent. Each is scored 1 to 5 and the three scores name the customer's RFM segment."),
    Term("cluster", "Behaviour cluster", r"\b[Bb]ehaviour clusters?\b", "A group of customers found in the data "
         "itself, who behave alike in recency, frequency, basket, prices, returns and timing."),
    Term("latent-class", "Latent class", r"\b[Ll]atent class(?:es)?\b", "The model behind the behaviour clusters: "
         "each class is a kind of customer described by how its members spread over every measure."),
    Term("icl", "ICL", r"\bICL\b", "Integrated completed likelihood: how well a number of clusters describes the "
         "customers, with a penalty for more clusters and for customers who sit between two. Lower is better."),
    Term("bic", "BIC", r"\bBIC\b", "Bayesian information criterion: how well a model fits, with a penalty for "
         "its number of parameters. Lower is better."),
    Term("stability", "Stability", r"\b[Ss]tab(?:le|ility)\b(?= |,|\.|\)|:)", "Whether the same clusters come out "
         "when they are found again on resamples of the customers (1 = always the same)."),
    Term("bootstrap", "Bootstrap", r"\b[Bb]ootstrap\b", "Drawing the customers again at random, with "
         "replacement, many times, to see how much a figure would vary with other customers like them."),
    Term("ari", "Adjusted Rand index", r"\b[Aa]djusted Rand index\b|\bARI\b", "How well two ways of grouping the "
         "same customers agree: 1 = the same groups, 0 = no better than chance."),
    Term("silhouette", "Silhouette", r"\b[Ss]ilhouette\b", "How much closer customers are to their own "
         "cluster than to the next one, from -1 to 1; it favours a few round groups."),
    Term("calinski-harabasz", "Calinski–Harabasz", r"Calinski[–-]Harabasz", "The spread between clusters "
         "against the spread within them; higher means better separated."),
    Term("davies-bouldin", "Davies–Bouldin", r"Davies[–-]Bouldin", "How similar each cluster is to its "
         "most similar neighbour; lower means better separated."),
    Term("p-value", "p-value", r"\b(?:adjusted )?p-values?\b|\(adjusted p\)", "The chance of a difference at "
         "least this large if there were none at all. Small (under 0.05) means chance alone is an unlikely "
         "explanation."),
    Term("holm", "Holm adjustment", r"\bHolm\b", "A correction of p-values for testing many things at once, so "
         "that one lucky result among many is not taken for a finding."),
    Term("benjamini-hochberg", "Benjamini–Hochberg", r"Benjamini[–-]Hochberg", "A correction for testing many "
         "things at once that controls the share of false findings among those reported (the q-value)."),
    Term("q-value", "q-value", r"\bq-values?\b|\bq = ", "A p-value corrected for the number of things tested "
         "(Benjamini–Hochberg): the share of such findings expected to be false."),
    Term("mann-whitney", "Mann–Whitney U test", r"Mann[–-]Whitney", "A test of whether customers of one group "
         "tend to spend more than those of another, without assuming how spend is distributed."),
    Term("kruskal-wallis", "Kruskal–Wallis test", r"Kruskal[–-]Wallis", "A test of whether several groups differ, "
         "on ranks, without assuming how the values are distributed."),
    Term("rank-biserial", "Rank-biserial effect", r"\b[Rr]ank-biserial\b", "How often a customer of the first "
         "group outspends one of the second, from -1 (never) to +1 (always); 0 = as often as not."),
    Term("bg-nbd", "BG/NBD", r"BG/NBD", "A model of repeat purchases: each customer buys at their own rate while "
         "active and may drop out after any purchase (Fader, Hardie and Lee, 2005)."),
    Term("pareto-nbd", "Pareto/NBD", r"Pareto/NBD", "A model of repeat purchases: each customer buys at their own "
         "rate and may drop out at any time (Schmittlein, Morrison and Colombo, 1987)."),
    Term("gamma-gamma", "Gamma–Gamma", r"Gamma[–-]Gamma", "A model of how much each customer spends per "
         "purchase, used with a purchase model for lifetime value."),
    Term("p-alive", "P(alive)", r"P\(alive\)|\b[Pp]robability alive\b", "The purchase model's probability that a "
         "customer is still a customer, from their order history."),
    Term("clv", "CLV (lifetime value)", r"\bCLV\b|\b[Ll]ifetime value\b", "What a customer is expected to spend "
         "over the coming period (here a year), discounted."),
    Term("naive-forecast", "Naive forecast", r"\bnaive (?:forecasts?|predictors?)\b", "A simple forecast to beat, "
         "such as each customer's own past purchase rate; a model worse than it is not used."),
    Term("holdout", "Holdout", r"\bholdout\b|\bheld out\b", "The last 90 days of the data, kept from a model while "
         "it is fitted, to check its forecasts against what happened."),
    Term("mae", "MAE", r"\bMAE\b|\bmean error\b", "Mean absolute error: the average size of a forecast's miss, "
         "here in purchase days per customer."),
    Term("purchase-days", "Purchase days", r"\bpurchase days\b", "Days on which a customer bought something: "
         "several orders on one day count once, as the purchase models count them."),
    Term("lift", "Lift", r"\b[Ll]ift\b", "How many times as likely a segment's customers are to buy a product as "
         "all customers: 2 = twice as likely."),
    Term("gini", "Gini coefficient", r"\bGini\b", "How unequal spend is: 0 = every customer spends the same, "
         "1 = one customer brings all the revenue."),
    Term("lorenz", "Lorenz curve", r"\bLorenz\b", "The share of revenue from the lowest-spending x% of "
         "customers; the further below the diagonal, the more concentrated revenue is."),
    Term("sd", "Standard deviation (SD)", r"\b[Ss]tandard deviations?\b|\bSD\b", "The usual distance of values "
         "from their average; a segment 1 SD above all customers stands out clearly."),
    Term("interval", "95% interval", r"\b95% (?:bootstrap |confidence )?intervals?\b|\bconfidence intervals?\b",
         "The range the true figure is likely in (95 times out of 100), given how much it varies from customer to "
         "customer."),
    Term("cohort", "Cohort", r"\b[Cc]ohorts?\b", "The customers whose first order fell in the same month."),
    Term("retention", "Retention", r"\b[Rr]etention\b", "The share of a cohort that ordered again in a later "
         "month."),
    Term("quintile", "Quintile", r"\bquintiles?\b", "The values that cut customers into five equal-sized groups."),
    Term("median", "Median", r"\b[Mm]edians?\b", "The middle value: half the customers are below it, half "
         "above. Unlike the average, a few very large customers do not move it."),
    Term("log-scale", "Log scale", r"\blog scale\b", "An axis where each step multiplies (1, 10, 100): values "
         "that span orders of magnitude fit in one chart."),
    Term("iqr", "IQR", r"\bIQR\b", "Interquartile range: the spread of the middle half of the values."),
    Term("r-squared", "R² (explains)", r"R²", "The share of the differences between customers that a "
         "segmentation accounts for."),
)
BY_KEY = {t.key: t for t in TERMS}
PAGE = "glossary.html"
SKIPPED = {"a", "script", "style", "code", "title", "head", "textarea", "option", "button"}
_TAG = re.compile(r"(<[^>]*>)")
_NAME = re.compile(r"</?\s*([a-zA-Z0-9]+)")
_PATTERN = re.compile("|".join(f"(?P<t{i}>{t.pattern})" for i, t in enumerate(TERMS)))


def _text_parts(parts: list[str]):
    """Indexes of the text parts (between tags) that are not inside a skipped element."""
    skipping: list[str] = []
    for i, part in enumerate(parts):
        if part.startswith("<"):
            m = _NAME.match(part)
            name = m.group(1).lower() if m else ""
            if name in SKIPPED and not part.endswith("/>"):
                if not part.startswith("</"):
                    skipping.append(name)
                elif skipping and skipping[-1] == name:
                    skipping.pop()
        elif not skipping and part.strip():
            yield i


def _main(page: str) -> tuple[int, int]:
    start, end = page.find("<main"), page.rfind("</main>")
    return (start, end) if start >= 0 and end >= 0 else (0, 0)


def link_terms(page: str, root: str) -> str:
    """`page` (HTML) with the first use of each glossary term in its <main> made a link to the
    glossary entry, with the meaning as its title (shown on hover)."""
    start, end = _main(page)
    done: set[str] = set()
    parts = _TAG.split(page[start:end])
    for i in _text_parts(parts):
        parts[i] = _PATTERN.sub(lambda m: _linked(m, done, root), parts[i])
    return page[:start] + "".join(parts) + page[end:]


def _linked(match: re.Match, done: set[str], root: str) -> str:
    term = TERMS[int(match.lastgroup[1:])]
    if term.key in done:
        return match.group(0)
    done.add(term.key)
    return (f'<a class="term" href="{root}{PAGE}#term-{term.key}" title="{html.escape(term.meaning)}">'
            f"{match.group(0)}</a>")


def used_terms(text: str) -> set[str]:
    """The keys of the glossary terms that occur in `text`."""
    return {TERMS[int(m.lastgroup[1:])].key for m in _PATTERN.finditer(text)}
