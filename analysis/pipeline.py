"""run_analysis(config) -> Analysis: the only place that knows the order of the stages."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable

import duckdb
import pandas as pd

from analysis import engine, interrupt, worker
from analysis.config import Config, display_path
from analysis.customers import features, rfm
from analysis.engine import rollups
from analysis.engine.memory import ENGINE_MEMORY_MB
from analysis.engine.workdir import clear_stale as clear_stale_workdirs, prefix as workdir_prefix
from analysis.errors import DataError
from analysis.read import returns
from analysis.read.clean import big_lines_warning, clean
from analysis.read.source import attribution_for, connect_url, engine_error, is_connection_url, open_source, url_route
from analysis.result import SECTIONS, Analysis, ClusterFigures, DataFigures, MoneyFigures, SourceInfo
from analysis.schema import CANONICAL, TABLES, detect_columns, detect_profile, other_candidates
from analysis.studies.study import Inputs, Queried

# Called with (stage, seconds) when a stage ends; if it has a `start` method, that is called
# with the stage's name when the stage begins (progress bars).
Progress = Callable[[str, float], None]
# Stages that need scikit-learn and SciPy (about a second of imports) import them in the
# background while the engine reads and cleans the file, which leaves the interpreter idle.
LATER_MODULES = ("analysis.customers.cluster", "analysis.customers.profiles", "analysis.customers.rules",
                 "analysis.studies.changes", "analysis.studies.cohorts", "analysis.studies.findings",
                 "analysis.studies.trends", "analysis.studies.validation", "analysis.studies.value.tables")
STAGES = ("read", "clean", "returns", "customers", "segments", "clusters", "profiles", "statistics", "changes",
          "validation", "value", "cohorts", "trends", "products")


def prefetch(modules: Iterable[str]) -> threading.Thread:
    """Import `modules` in a daemon thread. A module that fails to import here is imported again
    by the stage that uses it, which then reports the error where it belongs."""
    def work():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - reported by the stage that imports it
                pass
    thread = threading.Thread(target=work, name="prefetch-imports", daemon=True)
    thread.start()
    return thread


def build_date() -> dt.date:
    """The day the report is built: SOURCE_DATE_EPOCH when set (reproducible builds), else today (UTC)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.strip().isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.timezone.utc).date()
    return dt.datetime.now(dt.timezone.utc).date()


def _disk_full(exc: Exception) -> bool:
    return "No space left on device" in str(exc) or "Disk quota exceeded" in str(exc)


def run_analysis(config: Config, progress: Progress | None = None, also_import: Iterable[str] = ()) -> Analysis:
    """Read, clean, aggregate, segment and profile. Raises DataError for unusable input, or when the
    temporary folder fills up. `also_import`: modules the caller needs next (the site writer),
    imported in the background."""
    try:
        return _run_analysis(config, progress, also_import)
    except duckdb.Error as exc:
        if not _disk_full(exc):
            raise
        raise DataError("the temporary folder is full: the engine could not write its working files there",
                        file=tempfile.gettempdir(),
                        fix="free some space there, or point TMPDIR at a folder with more room") from None


def _run_analysis(config: Config, progress: Progress | None, also_import: Iterable[str]) -> Analysis:
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU of every thread of this process (the engine's included) during each stage
    noted = len(engine.MEMORY_NOTES)
    prefetch((*LATER_MODULES, *also_import))

    @contextmanager
    def stage(name: str):
        interrupt.check()
        if hasattr(progress, "start"):
            progress.start(name)
        start, used = time.perf_counter(), time.process_time()
        yield
        timings[name] = time.perf_counter() - start
        cpu[name] = time.process_time() - used
        interrupt.check()
        if progress:
            progress(name, timings[name])

    shown = display_path(config.input)
    cleared = clear_stale_workdirs()
    with tempfile.TemporaryDirectory(prefix=workdir_prefix()) as workdir:
        con = _connect(config, Path(workdir), shown)
        used = engine.describe(con)
        background = engine.Background(con)
        try:
            with stage("read"):
                src = open_source(config.input, con, workdir=Path(workdir), shown=shown,
                                  encoding=config.encoding, sheet=config.sheet)
                mapping = detect_columns(list(src.columns), config.mapping)
                partitions = engine.size_for_input(con, src.files, src.table)
                if partitions:
                    used["shuffle_partitions"] = str(partitions)
                profile = detect_profile(list(src.columns))
            with stage("clean"):
                try:
                    cleaned = clean(src.table, mapping, con, shown=shown, as_of=config.as_of,
                                    dayfirst=config.dayfirst, decimal=config.decimal,
                                    only_currency=config.only_currency, strict=config.strict,
                                    keep_outlier_dates=config.keep_outlier_dates, head=src.head,
                                    fill_order_fields=bool(profile and profile["fill_order_fields"]),
                                    workdir=Path(workdir))
                except duckdb.OutOfMemoryException:
                    raise
                except (duckdb.Error, *engine.read_errors(con)) as exc:  # a malformed row met while reading
                    if _disk_full(exc):
                        raise
                    raise engine_error(exc, src, shown) from None
                rows_read = int(cleaned.ledger["rows"].sum())
            with stage("returns"):
                netted = returns.net_of_returns(cleaned, con)
                big = big_lines_warning(netted.lines, cleaned.median_line)
            # from here on, every stage reads the lines net of returns
            lines, as_of, start = netted.lines, cleaned.as_of, cleaned.first.date()
            with stage("customers"):
                rollups.store(con, lines)
                customers = features.customer_features(lines, netted.customer_returns, as_of)
                if customers.empty:
                    raise DataError(f"no orders left: every one of the {len(netted.returned_everything):,} "
                                    "customers returned everything they bought", file=shown,
                                    column=mapping.get("order_id"),
                                    fix="check that returns are marked as in the file (credit notes C + digits, "
                                        "or negative quantities), and the --as-of date")
            from analysis.customers import cluster, profiles
            from analysis.customers import rules as cluster_rules
            from analysis.studies import findings, lists, plan

            segment_map = config.segment_map or rfm.SEGMENT_RULES
            inputs = Inputs(lines=lines, as_of=as_of, start=start, config=config, segment_map=segment_map,
                            customer_returns=netted.customer_returns, customers=customers)
            # Each study's engine work that needs no segments runs in the background while the
            # customer-level stages below keep this thread busy (engine.Background); its results
            # are awaited where a study reads them.
            futures: dict = {}
            studies = _studies()
            for study in studies:
                _submit(background, futures, study, study.queries(inputs))
            with stage("segments"):
                score_frame, edges = rfm.rfm_scores(customers)
                customers[list(score_frame.columns)] = score_frame  # new columns: nothing else copied
                customers["rfm_segment"] = rfm.assign_segments(score_frame, segment_map)
                rules = rfm.rules_table(edges, config.currency, segment_map)
            with stage("clusters"):
                clustering = cluster.choose_clusters(customers, seed=config.seed, k_min=config.k_min,
                                                     k_max=config.k_max, k=config.clusters)
                values = cluster.shown_values(customers)  # (not `shown`: that is the input's name)
                names = profiles.cluster_names(clustering.labels, values, customers["frequency_orders"])
                customers["cluster"] = clustering.labels
                customers["cluster_name"] = customers["cluster"].map(names).astype("string")
                customers["cluster_outlier"] = clustering.outlier
            inputs = replace(inputs, customers=customers, clustering=clustering)
            for study in studies:  # and the work that needs the segments
                _submit(background, futures, study, study.segment_queries(inputs))
            with stage("profiles"):
                learned = cluster_rules.cluster_rules(clustering.labels, values, names, config.seed, config.currency)
                tables = _profile_tables(customers, clustering, rules, learned, config, values)
                del values  # one row per customer: not held through the studies
            sections: dict = {}
            study_warnings: list[str] = []
            columns = []
            queried = Queried(futures)
            for study in studies:
                with stage(study.name):
                    result = study.checked(study.result(replace(inputs, tables=MappingProxyType(dict(tables))),
                                                        queried))
                tables.update(result.tables)
                if result.figures is not None:
                    sections[study.name] = result.figures
                study_warnings += result.warnings
                if result.customer_columns is not None:
                    columns.append(result.customer_columns)
            for more in columns:  # each study's columns, as a left join would add them
                added = [c for c in more.columns if c != "customer_id"]
                customers[added] = features.by_customer(customers["customer_id"], more, added)
            tables["customers"] = customers[TABLES["customers"]]
            tables["customer_lists"] = lists.customer_lists(customers, segment_map)
            tables["actions"] = plan.actions(customers, tables["segments"],
                                             sections["validation"].recommended_segmentation or "rfm", segment_map)
        except duckdb.OutOfMemoryException as exc:
            raise DataError(f"the engine ran out of memory ({str(exc).splitlines()[0]})", file=shown,
                            fix=f"raise its memory budget, e.g. SEGMENT_REPORT_ENGINE_MB={2 * ENGINE_MEMORY_MB}, "
                                "or free memory") from None
        finally:
            background.close()
            worker.close_all()  # a failed or interrupted build's models, if any, are not wanted
            # the background tasks' own times, beside the stages' (they overlap with them)
            timings.update({f"background: {name}": secs for name, secs in background.timings.items()})
            rollups.forget()
            engine.close(con)

    tables["ledger"] = cleaned.ledger
    tables["contacts"] = cleaned.contacts
    tables["money_ledger"] = netted.money
    tables["returned_everything"] = netted.returned_everything
    tables["mapping"] = _mapping_table(mapping)
    tables["score_edges"] = rfm.score_edges_table(customers, score_frame)
    tables["rfm_rules"] = rules
    data, money, clusters = _core_figures(customers, cleaned, netted, rows_read, clustering)
    analysis = Analysis(
        config=config,
        source=SourceInfo(path=shown, format=src.format, sha256=src.sha256, rows=rows_read,
                          columns=src.columns, mapping=mapping, attribution=attribution_for(src.columns, rows_read),
                          profile=profile["name"] if profile else "", encoding=src.encoding),
        tables={name: tables[name] for name in [*TABLES, *(t for study in studies for t in study.tables)]},
        data=data, money=money, clusters=clusters, **{name: sections.pop(name) for name in SECTIONS[3:]},
        more=sections,
        warnings=(tuple(other_candidates(list(src.columns), mapping, config.mapping)) + cleaned.warnings
                  + ((big,) if big else ()) + _cluster_warnings(clustering, len(customers), config.clusters)
                  + tuple(study_warnings)),
        timings=timings, cpu_timings=cpu, notes=tuple(engine.MEMORY_NOTES[noted:]) + cleared, engine=used,
    )
    found = findings.findings(analysis, customers, cleaned.ledger, rules=segment_map)
    return replace(analysis, findings=found)


def _studies() -> list:
    """The studies, in the order they run (each a stage): analysis.studies.study.Study."""
    from analysis.studies import changes, cohorts, products, stats, trends, validation
    from analysis.studies.value import tables as value_tables

    return [stats.STUDY, changes.STUDY, validation.STUDY, value_tables.STUDY, cohorts.STUDY, trends.STUDY,
            products.STUDY]


def _submit(background, futures: dict, study, queries) -> None:
    """Submit a study's engine work to the background, as "<study>.<name>"."""
    for name, (function, *args) in queries.items():
        futures[f"{study.name}.{name}"] = background.submit(function, *args)


def _connect(config: Config, workdir: Path, shown: str):
    """The build's engine: DuckDB or Spark (config.engine); DuckDB for an input given as a
    connection URL (a DuckDB file is attached to it, a warehouse table copied in: see open_url),
    except a Spark one, which Spark reads."""
    spec = config.input
    if is_connection_url(spec) and url_route(str(spec)) == "engine":
        return connect_url(str(spec), shown)
    return engine.connect("duckdb" if is_connection_url(spec) else config.engine, workdir, config.spark_master)


def _cluster_warnings(clustering, n_customers: int, asked: int | None = None) -> tuple[str, ...]:
    from analysis.customers import cluster

    if clustering.k <= 1:
        return (f"Only {n_customers:,} customers: too few to find behaviour clusters "
                f"(at least {cluster.MIN_CUSTOMERS} needed), so they are shown as one group.",)
    if asked is None:
        return ()
    sizes = list(Counter(clustering.labels.tolist()).values())
    least = max(cluster.MIN_CLUSTER_CUSTOMERS, cluster.MIN_CLUSTER_SHARE * n_customers)
    small = sum(size < least for size in sizes)
    if len(sizes) < asked or small:
        return (f"--clusters {asked} asked for more clusters than these {n_customers:,} customers support: "
                f"{len(sizes)} found, {small} of them under {least:,.0f} customers (the smallest {min(sizes):,}); "
                "leave --clusters out to let the data choose.",)
    return ()


def _profile_tables(customers, clustering, rules, learned, config, shown) -> dict:
    from analysis.customers import profiles
    from analysis.studies import products

    segments = profiles.segment_profiles(customers, rules, config.currency, learned)
    return {
        "cluster_rules": learned,
        "segments": segments,
        "segment_countries": products.segment_countries(customers, config.top_n),
        "segment_features": profiles.segment_features(customers, shown),
        "customer_sample": profiles.customer_sample(customers, config.seed),
        "rfm_grid": profiles.rfm_grid(customers),
        "cluster_selection": clustering.selection,
        "cluster_features": clustering.weights,
        "crosstab": profiles.crosstab(customers),
    }


def _mapping_table(mapping: dict[str, str]):
    return pd.DataFrame([{"field": f, "column": mapping.get(f, ""), "description": CANONICAL[f]}
                         for f in CANONICAL])


def _core_figures(customers, cleaned, netted, rows_read: int, clustering) -> tuple[DataFigures, MoneyFigures,
                                                                                 ClusterFigures]:
    from analysis.customers import cluster

    ledger = cleaned.ledger.set_index("reason")["rows"]
    revenue = round(float(customers["monetary"].sum()), 2)  # (each customer's is in cents)
    orders = int(customers["frequency_orders"].sum())
    repeat = customers["frequency_orders"] > 1
    period_end = cleaned.last.date()
    money = netted.figures
    data = DataFigures(
        rows_read=rows_read, rows_kept=int(ledger["kept"]), rows_dropped=rows_read - int(ledger["kept"]),
        customers=len(customers), customers_with_purchases=cleaned.customers_with_purchases,
        customers_returned_everything=len(netted.returned_everything),
        # customer ids whose purchase lines were all dropped (free items, postage, after the as-of date)
        customers_only_dropped_lines=cleaned.customers_with_purchases - len(customers)
        - len(netted.returned_everything),
        guest_rows=int(ledger["missing_customer"]),
        period_start=cleaned.first.date().isoformat(), period_end=period_end.isoformat(),
        as_of=cleaned.as_of.isoformat(), build_date=build_date().isoformat(),
        date_format=cleaned.date_format)
    spend = MoneyFigures(
        orders=orders, revenue=revenue, avg_order_value=revenue / orders,
        revenue_per_customer=revenue / len(customers),
        gross_revenue=money["gross_revenue"], returned_value=money["returned_value"],
        net_revenue=money["net_revenue"], unmatched_returns_value=money["unmatched_returns_value"],
        orders_returned_in_full=money["orders_returned_in_full"],
        # returns matched to purchases (the money ledger's), customers who returned everything included
        returns_lines=money["returns_lines"], returns_customers=len(netted.customer_returns),
        repeat_customer_share=float(repeat.mean()),
        median_days_between_orders=float(customers.loc[repeat, "mean_days_between_orders"].median())
        if repeat.any() else float("nan"))
    clusters = ClusterFigures(
        n_clusters=clustering.k, silhouette=clustering.silhouette, cluster_method=clustering.method,
        cluster_stability=clustering.stability, cluster_reason=clustering.reason,
        cluster_outliers=int(clustering.outlier.sum()),
        clusters_stable=not clustering.stability < cluster.MIN_STABILITY)  # (NaN for one group: stable)
    return data, spend, clusters
