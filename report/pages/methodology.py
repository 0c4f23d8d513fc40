"""The methodology page."""

from __future__ import annotations

from analysis.customers import cluster, latent
from analysis.result import Analysis
from analysis.studies import validation
from report.pages.parts import records


def methodology(a: Analysis) -> dict:
    features = a.tables["segment_features"]
    return {
        "config": a.config,
        "feature_labels": features.loc[features["kind"] == "all", "label"].tolist(),
        "bins": latent.BINS,
        "timing_orders": cluster.TIMING_ORDERS,
        "rate_window": cluster.RATE_WINDOW,
        "bic_penalty": latent.BIC_PENALTY,
        "bootstraps": cluster.BOOTSTRAPS,
        "min_stability": cluster.MIN_STABILITY,
        "weights": records(a.tables["cluster_features"]),
        "window_days": validation.WINDOW_DAYS,
        "ledger_reasons": records(a.tables["ledger"], ["label", "description"]),
    }
