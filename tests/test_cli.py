"""The command line: options, mapping and an end-to-end build (the bad-input matrix is in test_failures.py)."""

import json

import pytest

from data.generate_sample import generate, write_csv
from tests.conftest import run_cli


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return str(path)


def test_an_unknown_map_field_is_reported_with_the_known_fields(tmp_path, tiny_csv):
    code, _, err = run_cli("--input", str(tiny_csv), "--map", "client=customer_id", "--quiet")
    assert code == 2 and "unknown field 'client'" in err and "customer_id" in err


def test_map_naming_a_missing_column_is_reported(tmp_path, tiny_csv):
    code, _, err = run_cli("--input", str(tiny_csv), "--map", "customer_id=Client", "--quiet",
                           "--output", str(tmp_path / "site"))
    assert code == 2 and "'Client'" in err and "not in the file" in err


@pytest.mark.slow
def test_map_overrides_detection(tmp_path):
    path = write(tmp_path, "german.csv", "Kunde,Datum,Betrag\n" + "\n".join(
        f"K{i % 7},2024-0{1 + i % 9}-1{i % 10},{10 + i}" for i in range(60)) + "\n")
    code, out, err = run_cli("--input", path, "--map", "customer_id=Kunde", "--map", "order_ts=Datum",
                             "--map", "revenue=Betrag", "--output", str(tmp_path / "site"), "--clusters", "2")
    assert code == 0, err
    summary = json.loads((tmp_path / "site" / "downloads" / "summary.json").read_text())
    assert summary["headline"]["customers"] == 7


@pytest.mark.slow
def test_a_build_writes_the_site_and_prints_the_key_findings(tmp_path):
    tx, truth = generate(n_customers=300, seed=11)
    path = tmp_path / "sales.csv"
    write_csv(tx, path)
    site = tmp_path / "out"
    code, out, err = run_cli("--input", str(path), "--output", str(site))
    assert code == 0, err
    for page in ("index.html", "segments.html", "data-quality.html", "methodology.html",
                 "assets/plotly.min.js", ".nojekyll", "downloads/customers.csv", "downloads/segments.csv",
                 "downloads/summary.json"):
        assert (site / page).is_file(), page
    summary = json.loads((site / "downloads" / "summary.json").read_text())
    assert sum(summary["ledger"].values()) == summary["input"]["rows"] == len(tx)
    # the input is named by its path everywhere (a table of cluster features once took its name)
    assert summary["input"]["path"] == str(path) and f": {path}\n" in out
    assert f"<code>{path}</code>" in (site / "data-quality.html").read_text(encoding="utf-8")
    for text in ("rows read", "RFM segments", "Behaviour clusters", "chosen by ICL", "why k = ", "Which segmentation to use", "Key findings",
                 "Site written to"):
        assert text in out
    customers = (site / "downloads" / "customers.csv").read_text().splitlines()
    assert customers[0].startswith("customer_id,rfm_segment,cluster,cluster_name")
    assert len(customers) - 1 == truth.size


@pytest.mark.slow
def test_an_online_retail_ii_export_with_cancellations_builds_net_of_its_returns(tmp_path):
    tx, _ = generate(n_customers=300, seed=5)
    names = {"order_id": "Invoice", "product_id": "StockCode", "product_name": "Description", "quantity": "Quantity",
             "order_date": "InvoiceDate", "unit_price": "Price", "customer_id": "Customer ID", "country": "Country"}
    path = tmp_path / "online_retail_II.csv"
    write_csv(tx.rename(columns=names)[[n for n in names.values()]], path)
    code, out, err = run_cli("--input", str(path), "--output", str(tmp_path / "site"), "--quiet")
    assert code == 0, err
    summary = json.loads((tmp_path / "site" / "downloads" / "summary.json").read_text())
    h, money = summary["headline"], {r["item"]: r for r in summary["money_ledger"]}
    assert summary["input"]["mapping"]["order_id"] == "Invoice" and summary["ledger"]["cancellation"] > 0
    assert h["returned_value"] > 0 and h["revenue"] == h["net_revenue"] < h["gross_revenue"]
    assert money["gross"]["value"] + money["returned"]["value"] == pytest.approx(money["net"]["value"], abs=0.005)


def test_help_lists_every_option():
    import build_report

    text = build_report.parser().format_help()
    for option in ("--input", "--output", "--map", "--as-of", "--seed", "--clusters", "--currency", "--title"):
        assert option in text


def _command(tmp_path, *args):
    import sys
    from pathlib import Path

    data = tmp_path / "sales.csv"
    write_csv(generate(300, seed=2)[0], data)
    project = Path(__file__).resolve().parent.parent
    return [sys.executable, str(project / "build_report.py"), "--input", str(data), "--output",
            str(tmp_path / "site"), *args], project


@pytest.mark.slow
def test_the_command_prints_everything_before_it_exits(tmp_path):
    # build_report.py leaves without the interpreter's teardown: its output must be flushed first.
    import subprocess

    cmd, project = _command(tmp_path)
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Reading ") and "Key findings" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith(f"Site written to {tmp_path / 'site'}/index.html in ")
    assert (tmp_path / "site" / "index.html").is_file()

    bad = subprocess.run([*cmd[:2], "--input", str(tmp_path / "missing.csv"), "--output", str(tmp_path / "out")],
                         cwd=project, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "missing.csv" in bad.stderr
    assert not (tmp_path / "out").exists()


def test_a_reader_that_stops_early_ends_the_build_quietly(tmp_path):
    # `python -u build_report.py | head -1`: no traceback, no site, exit code 1. (Unbuffered, so
    # that the first line arrives while the build runs and the next one meets the closed pipe.)
    import os
    import subprocess

    cmd, project = _command(tmp_path)
    proc = subprocess.Popen(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout.readline().startswith("Reading ")
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=300) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert not (tmp_path / "site").exists()
