"""The command line: bad input gives one clear message and exit code 2; good input builds a site."""

import json

import pytest

from data.generate_sample import generate, write_csv
from tests.conftest import run_cli


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return str(path)


BAD_INPUTS = {
    "missing file": (lambda t: str(t / "nope.csv"), ["file not found", "nope.csv"]),
    "empty file": (lambda t: write(t, "empty.csv", ""), ["file is empty"]),
    "header only": (lambda t: write(t, "header.csv", "customer_id,order_date,revenue\n"), ["no data rows"]),
    "no customer column": (lambda t: write(t, "nocust.csv", "order_date,revenue\n2024-01-01,5\n"),
                           ["customer_id", "--map customer_id=COLUMN", "order_date, revenue"]),
    "no amount column": (lambda t: write(t, "noamount.csv", "customer_id,order_date\nA,2024-01-01\n"),
                         ["revenue", "--map revenue=COLUMN"]),
    "unreadable dates": (lambda t: write(t, "dates.csv", "customer_id,order_date,revenue\nA,someday,5\n"),
                         ["order_date", "'someday'", "--map order_ts="]),
    "text amounts": (lambda t: write(t, "amounts.csv", "customer_id,order_date,revenue\nA,2024-01-01,five\n"),
                     ["revenue", "'five'"]),
    "all cancelled": (lambda t: write(t, "cancel.csv", "InvoiceNo,CustomerID,InvoiceDate,Quantity,UnitPrice\n"
                                      "C1,1,2024-01-01,-1,2.5\n"), ["no rows left", "Cancellation"]),
    "binary garbage": (lambda t: write(t, "garbage.csv", bytes(range(256)) * 40), ["garbage.csv", "binary"]),
    "wrong extension": (lambda t: write(t, "sales.xlsb", "x"), ["unsupported file type"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_clear_message_and_no_traceback(tmp_path, case):
    make, expected = BAD_INPUTS[case]
    code, out, err = run_cli("--input", make(tmp_path), "--output", str(tmp_path / "site"), "--quiet")
    assert code == 2
    assert "Traceback" not in err + out
    assert err.startswith("error: ") and len(err.strip().splitlines()) <= 3
    for part in expected:
        assert part in err
    assert not (tmp_path / "site").exists()


def test_an_unknown_map_field_is_reported_with_the_known_fields(tmp_path, tiny_csv):
    code, _, err = run_cli("--input", str(tiny_csv), "--map", "client=customer_id", "--quiet")
    assert code == 2 and "unknown field 'client'" in err and "customer_id" in err


def test_map_naming_a_missing_column_is_reported(tmp_path, tiny_csv):
    code, _, err = run_cli("--input", str(tiny_csv), "--map", "customer_id=Client", "--quiet",
                           "--output", str(tmp_path / "site"))
    assert code == 2 and "'Client'" in err and "not in the file" in err


def test_map_overrides_detection(tmp_path):
    path = write(tmp_path, "german.csv", "Kunde,Datum,Betrag\n" + "\n".join(
        f"K{i % 7},2024-0{1 + i % 9}-1{i % 10},{10 + i}" for i in range(60)) + "\n")
    code, out, err = run_cli("--input", path, "--map", "customer_id=Kunde", "--map", "order_ts=Datum",
                             "--map", "revenue=Betrag", "--output", str(tmp_path / "site"), "--clusters", "2")
    assert code == 0, err
    summary = json.loads((tmp_path / "site" / "downloads" / "summary.json").read_text())
    assert summary["headline"]["customers"] == 7


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
    for text in ("rows read", "RFM segments", "Behaviour clusters", "chosen by silhouette", "Key findings",
                 "Site written to"):
        assert text in out
    customers = (site / "downloads" / "customers.csv").read_text().splitlines()
    assert customers[0].startswith("customer_id,rfm_segment,cluster,cluster_name")
    assert len(customers) - 1 == truth.size


def test_output_that_is_a_file_is_refused(tmp_path, tiny_csv):
    target = tmp_path / "site"
    target.write_text("not a folder")
    code, _, err = run_cli("--input", str(tiny_csv), "--output", str(target), "--quiet")
    assert code == 2 and "site" in err and target.read_text() == "not a folder"


def test_help_lists_every_option():
    import build_report

    text = build_report.parser().format_help()
    for option in ("--input", "--output", "--map", "--as-of", "--seed", "--clusters", "--currency", "--title"):
        assert option in text
