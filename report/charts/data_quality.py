"""Charts of the data-quality page: the row ledger."""

from __future__ import annotations

import pandas as pd

from report.charts.style import (ACCENT, Figure, MUTED, bar_height, figure, floats, strings, trace,
                                 wrap)


def ledger_rows(ledger: pd.DataFrame) -> Figure:
    """Input rows per ledger reason, kept rows highlighted; reasons with no rows are left out
    (the ledger table lists them). A linear axis: bar lengths compare counts, labels give them."""
    part = ledger[floats(ledger["rows"]) > 0]
    values = floats(part["rows"])
    kept = (part["reason"] == "kept").to_numpy()
    fig = figure("Input rows by outcome", "Every input row is kept or dropped for one reason",
                  height=bar_height(len(part), per_bar=34))
    fig.add_trace(trace(
        "bar", y=[wrap(v, 18) for v in strings(part["label"])], x=values, orientation="h",
        marker=dict(color=[ACCENT if k else MUTED for k in kept]),
        text=[f"{v:,.0f} ({s:.1%})" for v, s in zip(values, floats(part["share_rows"]))], textposition="auto",
        customdata=strings(part["description"]),
        hovertemplate="%{y}: %{x:,.0f} rows<br>%{customdata}<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="Rows")
    return fig
