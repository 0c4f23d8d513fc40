"""The console summary: key findings and statistics, as plain text."""

from __future__ import annotations

from analysis.customers import cluster
from analysis.result import Analysis
from analysis.studies.findings import SHOWN_FINDINGS
from analysis.studies.plan import SHOWN as SHOWN_ACTIONS


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)  # noqa: E731
                              for i, (c, w) in enumerate(zip(r, widths)))
    return ["  " + fmt(header), *("  " + fmt(r) for r in rows)]


def _model_lines(a: Analysis, money) -> list[str]:
    """One line with the purchase model in use, its parameters (time in days) and the holdout error."""
    fit = a.value.purchase_model
    if not fit:
        return ["Customer value: models not fitted (too few repeat customers)."]
    unit = a.value.clv_time_unit
    mae = a.value.holdout_mae
    check = (f", holdout MAE {mae:.3f} purchase days per customer (cutoff {a.value.holdout_cutoff})"
             if isinstance(mae, float) and mae == mae else ", no holdout check")
    se = fit.get("std_errors", {})

    def shown(name, digits=3):
        return f"{fit[name]:.{digits}f}" + (f" (se {se[name]:.{digits}f})" if name in se else "")
    params = ", ".join(f"{n} {shown(n)}" + (f" {unit}" if n in ("alpha", "beta") else "") for n in fit["names"])
    value = f"CLV over {a.value.clv_horizon_days} days {money(a.value.clv_total)}"
    if a.value.value_model_reliable is False:
        value = (f"NOT RELIABLE on this data ({a.value.value_model_doubts}); {value} from the naive forecast "
                 f"'{a.value.value_predictor}' instead, P(alive) withheld")
    return [f"Customer value: {fit['model']} (best of the purchase models on the holdout) {params}{check}; {value}"]


def summary(a: Analysis) -> str:
    cur = a.config.currency
    money = lambda v: f"{cur}{v:,.0f}"  # noqa: E731
    lines = ["", f"{a.config.title}: {a.source.path}",
             f"  period {a.data.period_start} to {a.data.period_end}, as of {a.data.as_of}",
             f"  rows read {a.data.rows_read:,}, kept {a.data.rows_kept:,} ({a.data.rows_kept / a.data.rows_read:.1%})"]
    ledger = a.tables["ledger"]
    for row in ledger[(ledger["reason"] != "kept") & (ledger["rows"] > 0)].itertuples():
        lines.append(f"    dropped {row.rows:>10,}  {row.label}")
    unmatched = (f"; {money(a.money.unmatched_returns_value)} of returns match no purchase and are not subtracted"
                 if a.money.unmatched_returns_value else "")
    lines += [f"  revenue {money(a.money.gross_revenue)} bought, {money(a.money.returned_value)} returned "
              f"({a.money.returns_lines:,} return lines matched to purchases), net {money(a.money.net_revenue)}{unmatched}",
              f"  customers {a.data.customers:,} (with at least one order that was not returned in full), "
              f"orders {a.money.orders:,}, average order {cur}{a.money.avg_order_value:,.2f}"]
    if a.data.customers_returned_everything or a.money.orders_returned_in_full:
        lines.append(f"  {a.money.orders_returned_in_full:,} orders came back in full and count for nothing; "
                     f"{a.data.customers_returned_everything:,} more customers returned everything they bought")
    lines.append("")
    for kind, title in (("rfm", "RFM segments"), ("cluster", "Behaviour clusters")):
        seg = a.segments(kind)
        rows = [[s.segment, f"{s.customers:,}", f"{s.share_customers:.1%}", money(s.revenue),
                 f"{s.share_revenue:.1%}", f"{cur}{s.avg_order_value:,.2f}"] for s in seg.itertuples()]
        method = cluster.METHOD_LABELS.get(a.clusters.cluster_method, a.clusters.cluster_method)
        extra = (f" ({method}, k = {a.clusters.n_clusters} chosen by ICL, stability {a.clusters.cluster_stability:.2f})"
                 if kind == "cluster" else "")
        lines += [f"{title}{extra}:",
                  *_table(rows, ["segment", "customers", "share", "revenue", "share", "avg order"])]
        if kind == "cluster" and a.clusters.n_clusters > 1:
            lines.append(f"  why k = {a.clusters.n_clusters}: {a.clusters.cluster_reason}")
        lines.append("")
    if a.validation.recommendation_reason:
        lines += [f"Which segmentation to use (checked on the 90 days after {a.validation.validation_from}):",
                  f"  {a.validation.recommendation_reason}", ""]
    plan = a.tables["actions"].head(SHOWN_ACTIONS)
    if len(plan):
        lines.append("What to do first (money at stake, largest first):")
        for p in plan.itertuples():
            overdue = (f" {p.customers_at_risk:,} are overdue; they spent {money(p.value_at_risk)} last year."
                       if p.going_quiet and p.value_at_risk > 0 else "")
            lines.append(f"  {p.rank}. {p.segment} ({p.customers:,} customers): {money(p.at_stake)} {p.basis}. "
                         f"{p.action}{overdue}")
        lines.append("")
    lines += [*_model_lines(a, money), ""]
    lines.append("Key findings:")
    lines += [f"  - {f.text}" for f in a.findings[:SHOWN_FINDINGS]]
    if len(a.findings) > SHOWN_FINDINGS:
        lines.append(f"  ({len(a.findings) - SHOWN_FINDINGS} smaller findings are in downloads/summary.json)")
    for w in a.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines)
