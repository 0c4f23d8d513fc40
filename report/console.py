"""The console summary: key findings and statistics, as plain text."""

from __future__ import annotations

from analysis.customers import cluster
from analysis.result import Analysis
from analysis.studies.findings import SHOWN_FINDINGS


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return ["  " + fmt(header), *("  " + fmt(r) for r in rows)]


def _model_lines(h, money) -> list[str]:
    """One line with the purchase model in use, its parameters (time in days) and the holdout error."""
    fit = h.get("purchase_model")
    if not fit:
        return ["Customer value: models not fitted (too few repeat customers)."]
    unit = h.get("clv_time_unit", "days")
    mae = h.get("holdout_mae")
    check = (f", holdout MAE {mae:.3f} purchase days per customer (cutoff {h.get('holdout_cutoff')})"
             if isinstance(mae, float) and mae == mae else ", no holdout check")
    se = fit.get("std_errors", {})

    def shown(name, digits=3):
        return f"{fit[name]:.{digits}f}" + (f" (se {se[name]:.{digits}f})" if name in se else "")
    params = ", ".join(f"{n} {shown(n)}" + (f" {unit}" if n in ("alpha", "beta") else "") for n in fit["names"])
    value = f"CLV over {h.get('clv_horizon_days')} days {money(h.get('clv_total', 0.0))}"
    if h.get("value_model_reliable") is False:
        value = (f"NOT RELIABLE on this data ({h.get('value_model_doubts')}); {value} from the naive forecast "
                 f"'{h.get('value_predictor')}' instead, P(alive) withheld")
    return [f"Customer value: {fit['model']} (best of the purchase models on the holdout) {params}{check}; {value}"]


def summary(a: Analysis) -> str:
    h, cur = a.headline, a.config.currency
    money = lambda v: f"{cur}{v:,.0f}"  # noqa: E731
    lines = ["", f"{a.config.title}: {a.source.path}",
             f"  period {h['period_start']} to {h['period_end']}, as of {h['as_of']}",
             f"  rows read {h['rows_read']:,}, kept {h['rows_kept']:,} ({h['rows_kept'] / h['rows_read']:.1%})"]
    ledger = a.tables["ledger"]
    for row in ledger[(ledger["reason"] != "kept") & (ledger["rows"] > 0)].itertuples():
        lines.append(f"    dropped {row.rows:>10,}  {row.label}")
    unmatched = (f"; {money(h['unmatched_returns_value'])} of returns match no purchase and are not subtracted"
                 if h["unmatched_returns_value"] else "")
    lines += [f"  revenue {money(h['gross_revenue'])} bought, {money(h['returned_value'])} returned "
              f"({h['returns_lines']:,} return lines matched to purchases), net {money(h['net_revenue'])}{unmatched}",
              f"  customers {h['customers']:,} (with at least one order that was not returned in full), "
              f"orders {h['orders']:,}, average order {cur}{h['avg_order_value']:,.2f}"]
    if h["customers_returned_everything"] or h["orders_returned_in_full"]:
        lines.append(f"  {h['orders_returned_in_full']:,} orders came back in full and count for nothing; "
                     f"{h['customers_returned_everything']:,} more customers returned everything they bought")
    lines.append("")
    for kind, title in (("rfm", "RFM segments"), ("cluster", "Behaviour clusters")):
        seg = a.segments(kind)
        rows = [[s.segment, f"{s.customers:,}", f"{s.share_customers:.1%}", money(s.revenue),
                 f"{s.share_revenue:.1%}", f"{cur}{s.avg_order_value:,.2f}"] for s in seg.itertuples()]
        method = cluster.METHOD_LABELS.get(h["cluster_method"], h["cluster_method"])
        extra = (f" ({method}, k = {h['n_clusters']} chosen by ICL, stability {h['cluster_stability']:.2f})"
                 if kind == "cluster" else "")
        lines += [f"{title}{extra}:",
                  *_table(rows, ["segment", "customers", "share", "revenue", "share", "avg order"])]
        if kind == "cluster" and h["n_clusters"] > 1:
            lines.append(f"  why k = {h['n_clusters']}: {h['cluster_reason']}")
        lines.append("")
    if h.get("recommendation_reason"):
        lines += [f"Which segmentation to use (checked on the 90 days after {h['validation_from']}):",
                  f"  {h['recommendation_reason']}", ""]
    lines += [*_model_lines(h, money), ""]
    lines.append("Key findings:")
    lines += [f"  - {f.text}" for f in a.findings[:SHOWN_FINDINGS]]
    if len(a.findings) > SHOWN_FINDINGS:
        lines.append(f"  ({len(a.findings) - SHOWN_FINDINGS} smaller findings are in downloads/summary.json)")
    for w in a.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
