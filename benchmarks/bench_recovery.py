"""Recovery benchmark: how well the automatic segmentation finds planted customer groups.

Generates transaction files with planted behaviour groups (several seeds and group mixes, with
cancellations, guest orders and non-product lines mixed in), runs the project's cleaning,
features and model selection, and prints the adjusted Rand index (ARI) against the truth for
the automatic choice and for the textbook baseline (k-means on log RFM, k by silhouette),
measured in the same run.

    python benchmarks/bench_recovery.py [--seeds 1,2,3,4,5] [--customers 900]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ibis  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from analysis import cluster  # noqa: E402
from analysis.clean import clean  # noqa: E402
from analysis.features import customer_features  # noqa: E402
from analysis.schema import detect_columns  # noqa: E402
from analysis.source import open_source  # noqa: E402
from data.generate_sample import generate, write_csv  # noqa: E402

MIXES = {
    "all six groups": None,
    "wholesale/loyal/one-off/lapsed": {"wholesale": 0.15, "loyal": 0.35, "one_off": 0.3, "lapsed_big": 0.2},
    "loyal/new/returners/one-off": {"loyal": 0.3, "new": 0.3, "returners": 0.2, "one_off": 0.2},
}


def customers_of(path: Path):
    con = ibis.duckdb.connect()
    src = open_source(path, con)
    cleaned = clean(src.table, detect_columns(list(src.columns)), con, shown=str(path), as_of=None)
    netted = returns.net_of_returns(cleaned, con)
    return customer_features(netted.lines, netted.customer_returns, cleaned.as_of)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--customers", type=int, default=900)
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for name, mix in MIXES.items():
                tx, truth = generate(n_customers=args.customers, seed=seed, mix=mix)
                path = Path(tmp) / "planted.csv"
                write_csv(tx, path)
                customers = customers_of(path)
                true = customers["customer_id"].map(truth).to_numpy(dtype=object)
                start = time.perf_counter()
                chosen = cluster.choose_clusters(customers, seed=seed)
                secs = time.perf_counter() - start
                base = cluster.baseline_clusters(customers, seed=seed)
                rows.append((seed, name, truth.nunique(), chosen.method, chosen.k,
                             adjusted_rand_score(true, chosen.labels), len(np.unique(base)),
                             adjusted_rand_score(true, base), secs))
                print(f"seed {seed}  {name:<32} true k {rows[-1][2]}  chosen {chosen.method:<6} k {chosen.k}  "
                      f"ARI {rows[-1][5]:.3f}  |  baseline k {rows[-1][6]}  ARI {rows[-1][7]:.3f}  "
                      f"({secs:.2f} s)", flush=True)
    ours, base = np.mean([r[5] for r in rows]), np.mean([r[7] for r in rows])
    print(f"\nmean ARI, automatic choice: {ours:.3f}  (target >= 0.9: {'met' if ours >= 0.9 else 'NOT met'})")
    print(f"mean ARI, k-means on log RFM baseline: {base:.3f}")
    print(f"difference: {ours - base:+.3f} over {len(rows)} datasets; worst automatic ARI {min(r[5] for r in rows):.3f}")


if __name__ == "__main__":
    main()
