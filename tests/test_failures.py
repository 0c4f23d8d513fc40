"""The bad-input matrix: each unusable input exits 2 with one short message naming the file, the
column, how many rows, an example value and the fix; usable-but-odd inputs build and say what they did.
"""

import gzip
import json
import zipfile

import pytest

from tests.conftest import run_cli

H = "InvoiceNo,CustomerID,InvoiceDate,StockCode,Quantity,UnitPrice,Country\n"


def good_rows(n=30, customers=6, days=20):
    return "".join(f"{1000 + i},{100 + i % customers},2024-01-{1 + i % days:02d} 10:00:00,P{i % 5},"
                   f"{1 + i % 3},{2.5 + i % 4},UK\n" for i in range(n))


def file(name, content):
    def make(tmp_path):
        path = tmp_path / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)
    return make


def _two_file_zip(path):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", H + good_rows())
        zf.writestr("b.csv", H + good_rows())


# name -> (input maker, extra CLI args, strings the message must contain)
REFUSED = {
    "empty file": (file("e.csv", ""), [], ["e.csv", "file is empty", "fix:"]),
    "header only": (file("h.csv", H), [], ["h.csv", "no data rows", "InvoiceNo"]),
    "binary garbage": (file("g.csv", bytes(range(256)) * 50), [], ["g.csv", "binary", "fix:"]),
    "wrong extension": (file("sales.xlsb", "x"), [], ["unsupported file type '.xlsb'", ".csv"]),
    "old excel extension": (file("sales.xls", "x"), [], ["'.xls'", "save it as .xlsx"]),
    "no such file": (lambda t: str(t / "missing.csv"), [], ["missing.csv", "file not found"]),
    "folder without data files": (lambda t: (t / "empty").mkdir() or str(t / "empty"), [],
                                  ["empty", "no data files"]),
    "glob matching nothing": (lambda t: str(t / "nothing-*.csv"), [], ["no file matches"]),
    "missing customer column": (file("c.csv", "InvoiceNo,InvoiceDate,Quantity,UnitPrice\n1,2024-01-01,1,2\n"),
                                [], ["customer_id", "--map customer_id=COLUMN", "InvoiceNo, InvoiceDate"]),
    "missing date column": (file("d.csv", "CustomerID,Quantity,UnitPrice\n1,1,2\n"), [],
                            ["order_ts", "--map order_ts=COLUMN"]),
    "missing amount columns": (file("a.csv", "CustomerID,InvoiceDate\n1,2024-01-01\n"), [],
                               ["revenue", "--map revenue=COLUMN"]),
    "missing unit price": (file("p.csv", "CustomerID,InvoiceDate,Quantity\n1,2024-01-01,3\n"), [],
                           ["unit_price", "--map unit_price=COLUMN"]),
    "duplicate column names": (file("dup.csv", "CustomerID,InvoiceDate,Quantity,Quantity,UnitPrice\n"
                                    "1,2024-01-01,1,1,2\n"), [], ["'Quantity' appears 2 times", "rename"]),
    "all dates unparseable": (file("nd.csv", H + good_rows().replace("2024-01-", "day ")), [],
                              ["InvoiceDate", "no date could be read", "30 rows", "'day 01 10:00:00'"]),
    "many dates unparseable": (file("md.csv", H + good_rows(20) + good_rows(10).replace("2024-01-", "soon")),
                               [], ["InvoiceDate", "33% of dates could not be read", "10 rows", "'soon", "--dayfirst"]),
    "non-numeric quantities": (file("q.csv", H + good_rows().replace(",UK", ",UK").replace(",1,", ",one,")),
                               [], ["Quantity", "not numbers", "'one'"]),
    "non-numeric prices": (file("pr.csv", H + "".join(r.rsplit(",", 2)[0] + ",cheap,UK\n"
                                                       for r in good_rows().splitlines())),
                           [], ["UnitPrice", "not numbers", "'cheap'", "--decimal"]),
    "all rows cancelled": (file("cx.csv", H + good_rows().replace("\n1", "\nC1").replace(H, "")
                                .replace("1000,", "C1000,")), [], ["no rows left", "Cancellation"]),
    "negative everything": (file("neg.csv", H + "".join(
        r.replace(",1,", ",-1,").replace(",2,", ",-2,").replace(",3,", ",-3,") for r in good_rows().splitlines(True))),
                            [], ["no rows left", "Cancellation or return"]),
    "negative prices only": (file("np.csv", H + "".join(r.rsplit(",", 2)[0] + ",-2.5,UK\n" for r in good_rows().splitlines())),
                             [], ["column 'UnitPrice'", "Zero or negative price", "-2.5", "--map unit_price"]),
    "every order after the as-of date": (file("late.csv", H + good_rows()), ["--as-of", "2023-06-01"],
                                         ["column 'InvoiceDate'", "After the as-of date", "2024-01-01", "later --as-of"]),
    "an unclosed quote": (file("quote.csv", H + good_rows(20) + '1,2,"3\n' + good_rows(20)), [],
                          ["quote.csv", "line 22", "quoted value that is never closed", "'1,2,\"3'"]),
    "all amounts NaN or inf": (file("nan.csv", H + "".join(
        f"{i},{i},2024-01-01,P,{'nan' if i % 2 else 'inf'},2,UK\n" for i in range(10))), [],
                               ["Quantity", "not numbers", "'inf'"]),
    "truncated gzip": (file("t.csv.gz", gzip.compress((H + good_rows(2000)).encode())[:500]), [],
                       ["t.csv.gz", "could not be read", "truncated"]),
    "zip with two files": (file("two.zip", _two_file_zip), [], ["holds 2 files", "a.csv"]),
    "several currencies": (file("cur.csv", "customer_id,order_date,revenue,currency\n"
                                "A,2024-01-01,5,EUR\nB,2024-01-02,6,USD\nC,2024-01-03,7,EUR\n"), [],
                           ["currency", "2 currencies", "EUR (2 rows)", "--only-currency EUR"]),
    "unknown currency chosen": (file("cur1.csv", "customer_id,order_date,revenue,currency\nA,2024-01-01,5,EUR\n"),
                                ["--only-currency", "GBP"], ["no rows in currency 'GBP'"]),
    "map to a missing column": (file("m.csv", H + good_rows()), ["--map", "customer_id=Client"],
                                ["'Client'", "not in the file"]),
    "unknown map field": (file("m2.csv", H + good_rows()), ["--map", "client=CustomerID"],
                          ["unknown field 'client'"]),
    "strict with a non-product line": (file("s.csv", H + good_rows() + "9999,101,2024-01-05 10:00:00,POST,1,18,UK\n"),
                                       ["--strict"], ["--strict", "1 rows would be dropped", "Non-product line: 1",
                                                      "order 9999"]),
    "unknown encoding": (file("enc.csv", H + good_rows()), ["--encoding", "klingon"], ["unknown encoding"]),
    "missing excel sheet": (file("x.xlsx", lambda p: __import__("pandas").DataFrame(
        {"CustomerID": [1], "InvoiceDate": ["2024-01-01"], "Quantity": [1], "UnitPrice": [2]}).to_excel(p, index=False)),
                            ["--sheet", "Orders"], ["Orders", "--sheet"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unusable_input_exits_2_with_a_short_clear_message(tmp_path, case):
    make, args, expected = REFUSED[case]
    site = tmp_path / "site"
    code, out, err = run_cli("--input", make(tmp_path), "--output", str(site), "--quiet", *args)
    assert code == 2, err
    assert "Traceback" not in err + out
    assert err.startswith("error: ") and 1 <= len(err.strip().splitlines()) <= 3, err
    for part in expected:
        assert part in err, f"{part!r} not in {err!r}"
    assert not site.exists()


@pytest.mark.slow
def test_utf16_text_without_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "u16.csv"
    path.write_bytes((H + good_rows(40, customers=20)).encode("utf-16-le"))
    code, out, err = run_cli("--input", str(path), "--output", str(tmp_path / "site"), "--quiet")
    assert code == 0, err
    summary = json.loads((tmp_path / "site" / "downloads" / "summary.json").read_text())
    assert summary["ledger"]["kept"] == 40 and summary["input"]["mapping"]["customer_id"] == "CustomerID"


def test_output_path_that_is_a_file_is_refused_and_left_alone(tmp_path):
    (tmp_path / "in.csv").write_text(H + good_rows())
    target = tmp_path / "site"
    target.write_text("mine")
    code, _, err = run_cli("--input", str(tmp_path / "in.csv"), "--output", str(target), "--quiet")
    assert code == 2 and "site" in err and target.read_text() == "mine"


def test_more_clusters_than_the_charts_have_colours_for_is_refused(tmp_path):
    (tmp_path / "in.csv").write_text(H + good_rows())
    for args in (["--clusters", "9"], ["--k-max", "12"]):
        code, _, err = run_cli("--input", str(tmp_path / "in.csv"), "--output", str(tmp_path / "site"), "--quiet", *args)
        assert code == 2 and "8" in err and "distinct colour" in err, err


def test_an_invalid_config_file_reports_every_problem_at_once(tmp_path):
    (tmp_path / "in.csv").write_text(H + good_rows())
    cfg = tmp_path / "report.toml"
    cfg.write_text('seed = "seven"\ncolour = "red"\nk_min = 1\n')
    code, _, err = run_cli("--config", str(cfg), "--input", str(tmp_path / "in.csv"), "--quiet")
    assert code == 2
    assert "seed must be a whole number" in err and "unknown option 'colour'" in err and "k_min" in err


def build(tmp_path, text, *args):
    path = tmp_path / "in.csv"
    path.write_text(text)
    site = tmp_path / "site"
    code, out, err = run_cli("--input", str(path), "--output", str(site), *args)
    assert code == 0, err
    return json.loads((site / "downloads" / "summary.json").read_text()), out


@pytest.mark.slow
def test_a_few_unreadable_dates_are_dropped_counted_and_warned_about(tmp_path):
    summary, out = build(tmp_path, H + good_rows(40) + "2000,101,someday,P1,1,2.5,UK\n")
    assert summary["ledger"]["bad_date"] == 1 and sum(summary["ledger"].values()) == 41
    assert any("'someday'" in w for w in summary["warnings"]) and "someday" in out


@pytest.mark.slow
def test_a_single_customer_builds_with_one_group_and_a_warning(tmp_path):
    summary, _ = build(tmp_path, H + good_rows(10, customers=1))
    assert summary["headline"]["customers"] == 1 and summary["headline"]["n_clusters"] == 1
    assert any("too few to find behaviour clusters" in w for w in summary["warnings"])


@pytest.mark.slow
def test_a_single_day_of_orders_builds(tmp_path):
    summary, _ = build(tmp_path, H + good_rows(40, customers=25, days=1))
    assert summary["headline"]["period_start"] == summary["headline"]["period_end"] == "2024-01-01"


@pytest.mark.slow
def test_huge_outliers_are_kept_and_reported(tmp_path):
    summary, _ = build(tmp_path, H + good_rows(60, customers=25) + "5000,101,2024-01-03 10:00:00,P1,80995,2.08,UK\n")
    assert summary["ledger"]["kept"] == 61
    assert any("over 1,000 times the median line" in w and "order 5000" in w for w in summary["warnings"])


@pytest.mark.slow
def test_ids_as_floats_zero_padded_and_with_spaces_are_read_as_written(tmp_path):
    text = ("customer_id,order_date,revenue\n17850.0,2024-01-01,5\n17850,2024-01-02,5\n"
            "00017,2024-01-03,5\n 00017 ,2024-01-04,5\n17,2024-01-05,5\n")
    path = tmp_path / "ids.csv"
    path.write_text(text)
    site = tmp_path / "site"
    code, _, err = run_cli("--input", str(path), "--output", str(site), "--quiet")
    assert code == 0, err
    ids = sorted(line.split(",")[0] for line in
                 (site / "downloads" / "customers.csv").read_text().splitlines()[1:])
    assert ids == ["00017", "17", "17850"]


@pytest.mark.slow
def test_strict_passes_when_only_cancellations_and_guests_are_dropped(tmp_path):
    text = H + good_rows(40, customers=25) + "C9,101,2024-01-05 10:00:00,P1,-1,2.5,UK\n9,,2024-01-05 10:00:00,P1,1,2.5,UK\n"
    summary, _ = build(tmp_path, text, "--strict")
    assert summary["ledger"]["cancellation"] == 1 and summary["ledger"]["missing_customer"] == 1


@pytest.mark.slow
def test_only_currency_keeps_one_currency_and_counts_the_rest(tmp_path):
    rows = "".join(f"C{i % 25},2024-01-{1 + i % 20:02d},{5 + i},{'EUR' if i % 4 else 'USD'}\n" for i in range(80))
    summary, _ = build(tmp_path, "customer_id,order_date,revenue,currency\n" + rows, "--only-currency", "eur")
    assert summary["ledger"]["other_currency"] == 20 and summary["ledger"]["kept"] == 60


# --- the output folder and the machine: refused before the analysis, never a traceback, nothing lost or left --

import contextlib  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def cli(tmp_path, site, *args):
    """A CLI build of a small good file into `site`."""
    path = tmp_path / "in.csv"
    if not path.exists():
        path.write_text(H + good_rows(60, customers=20))
    return run_cli("--input", str(path), "--output", str(site), *args)


def refused_early(code, out, err, *parts):
    """Exit 2 with one message holding `parts`, before any analysis (nothing was read)."""
    assert code == 2 and "Traceback" not in err and err.startswith("error: "), err
    assert "Reading" not in out, "the output should be refused before the analysis starts"
    for part in parts:
        assert part in err, f"{part!r} not in {err!r}"


@contextlib.contextmanager
def tmpfs(path: Path, size: str, read_only: bool = False):
    """A small file system mounted at `path` (root only; skipped where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_folder_holding_a_users_readme_is_refused_and_left_as_it_was(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "README.md").write_text("my notes")
    refused_early(*cli(tmp_path, notes), "no .segment-report marker", "README.md", "fix:")
    assert tree(notes) == {"README.md": b"my notes"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "notes"]


@pytest.mark.parametrize("name", [".gitkeep", "CNAME"])
def test_a_folder_holding_only_a_placeholder_is_refused_too(tmp_path, name):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / name).write_text("")
    refused_early(*cli(tmp_path, folder), name)


@pytest.mark.slow
def test_files_added_to_a_built_site_are_carried_over_on_rebuild(tmp_path):
    site = tmp_path / "site"
    code, _, err = cli(tmp_path, site, "--quiet")
    assert code == 0, err
    (site / "CNAME").write_text("shop.example.com\n")
    (site / "extra").mkdir()
    (site / "extra" / "notes.txt").write_text("mine")
    (site / "index.html").write_text("edited by hand")  # a generated page: the build rewrites it
    code, out, err = cli(tmp_path, site)
    assert code == 0, err
    assert (site / "CNAME").read_text() == "shop.example.com\n" and (site / "extra" / "notes.txt").read_text() == "mine"
    assert "kept 2 files you added" in out and "CNAME" in out
    assert (site / "index.html").read_text() != "edited by hand"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "site"]


def test_an_output_below_a_file_is_refused_before_the_analysis(tmp_path):
    (tmp_path / "sales.csv").write_text("x")
    refused_early(*cli(tmp_path, tmp_path / "sales.csv" / "site"), "sales.csv", "is a file")


@pytest.mark.slow
def test_an_output_that_is_a_link_to_an_earlier_site_replaces_the_site_and_keeps_the_link(tmp_path):
    real = tmp_path / "builds" / "site"
    assert cli(tmp_path, real, "--quiet")[0] == 0
    (real / "CNAME").write_text("x")
    link = tmp_path / "current"
    link.symlink_to(real, target_is_directory=True)
    code, _, err = cli(tmp_path, link, "--quiet", "--title", "Again")
    assert code == 0, err
    assert link.is_symlink() and "Again" in (real / "index.html").read_text() and (real / "CNAME").is_file()
    assert sorted(p.name for p in real.parent.iterdir()) == ["site"]


@pytest.mark.slow
def test_a_second_build_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    from report.output import prepared

    with prepared(tmp_path / "site"):
        refused_early(*cli(tmp_path, tmp_path / "site"), "another build", f"process {os.getpid()}", "wait")
    assert cli(tmp_path, tmp_path / "site", "--quiet")[0] == 0  # the lock goes with the first build
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "site"]


def test_a_config_file_that_is_not_utf8_gets_a_message_with_the_line(tmp_path):
    cfg = tmp_path / "report.toml"
    cfg.write_bytes('title = "Caf\xe9 sales"\n'.encode("cp1252"))
    code, _, err = run_cli("--config", str(cfg), "--output", str(tmp_path / "site"), "--quiet")
    assert code == 2 and "Traceback" not in err
    assert "line 1" in err and "not UTF-8" in err and "save the file as UTF-8" in err


@pytest.mark.slow
def test_ctrl_c_during_the_analysis_exits_130_with_one_line_and_the_site_untouched(tmp_path, monkeypatch):
    import analysis.pipeline

    site = tmp_path / "site"
    assert cli(tmp_path, site, "--quiet")[0] == 0
    before = tree(site)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(analysis.pipeline, "run_analysis", interrupted)
    code, _, err = cli(tmp_path, site, "--quiet")
    assert code == 130 and err.strip() == "interrupted; the previous site is untouched"
    assert tree(site) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "site"]


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(tmp_path, monkeypatch):
    import analysis.pipeline

    def broken(*a, **k):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(analysis.pipeline, "run_analysis", broken)
    code, _, err = cli(tmp_path, tmp_path / "site", "--quiet")
    assert code == 1 and "Traceback" not in err and "unexpected ZeroDivisionError" in err and "--debug" in err
    with pytest.raises(ZeroDivisionError):
        cli(tmp_path, tmp_path / "site", "--quiet", "--debug")


def test_a_read_only_output_is_refused_before_the_analysis(tmp_path):
    with tmpfs(tmp_path / "ro", "1m", read_only=True) as ro:
        refused_early(*cli(tmp_path, ro / "site"), "read-only", "--output")


def test_too_little_room_for_the_new_site_is_refused_before_the_analysis(tmp_path):
    with tmpfs(tmp_path / "small", "2m") as small:
        refused_early(*cli(tmp_path, small / "site"), "not enough free space", "MB free")
        assert sorted(p.name for p in small.iterdir()) == []


@pytest.mark.slow
def test_a_disk_that_fills_while_writing_gives_a_message_and_keeps_the_previous_site(tmp_path, monkeypatch):
    from report import output

    monkeypatch.setattr(output, "MARGIN_BYTES", 0)  # past the check: the disk fills while writing
    with tmpfs(tmp_path / "small", "16m") as small:
        site = small / "site"
        assert cli(tmp_path, site, "--quiet")[0] == 0
        before = tree(site)
        free = __import__("shutil").disk_usage(small).free
        (small / "filler").write_bytes(b"\0" * (free - 64 * 1024))
        monkeypatch.setattr(output, "_size", lambda folder: 0)  # the check believes there is room
        code, _, err = cli(tmp_path, site, "--quiet")
        assert code == 2 and "Traceback" not in err and "disk is full" in err, err
        assert tree(site) == before and sorted(p.name for p in small.iterdir()) == ["filler", "site"]


def _subprocess_build(tmp_path, site, env=None, **kw):
    path = tmp_path / "in.csv"
    if not path.exists():
        path.write_text(H + good_rows(3000, customers=300, days=28))
    return subprocess.Popen([sys.executable, str(ROOT / "build_report.py"), "--input", str(path), "--output", str(site)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, **(env or {})}, **kw)


def _workdirs(pid, tmp=None):
    return list(Path(tmp or tempfile.gettempdir()).glob(f"segment-report-{pid}-*"))


@pytest.mark.slow
def test_a_full_temporary_folder_is_a_message_not_an_engine_traceback(tmp_path):
    with tmpfs(tmp_path / "tmp", "64k") as tiny_tmp:
        proc = _subprocess_build(tmp_path, tmp_path / "site", env={"TMPDIR": str(tiny_tmp)})
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2 and "Traceback" not in err, err
        assert "full" in err and "TMPDIR" in err and str(tiny_tmp) in err
        assert not (tmp_path / "site").exists() and list(tiny_tmp.iterdir()) == []


def _wait_for(predicate, proc, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["analysis", "writing"])
def test_ctrl_c_and_kill_leave_the_previous_site_and_the_next_build_clears_the_rest(tmp_path, moment):
    site = tmp_path / "site"
    first = _subprocess_build(tmp_path, site)
    assert first.wait(timeout=300) == 0
    before = tree(site)
    started = {"analysis": lambda p: _workdirs(p.pid),
               "writing": lambda p: (tmp_path / f"site.tmp-{p.pid}").exists()}[moment]
    # Ctrl-C: one line, exit 130, nothing left
    proc = _subprocess_build(tmp_path, site)
    assert _wait_for(lambda: started(proc), proc), "the build ended before the moment came"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip().endswith("interrupted; the previous site is untouched"), err
    assert "Traceback" not in err
    assert tree(site) == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "site"]
    assert _workdirs(proc.pid) == []
    # kill -9: the site is intact; what the build left is cleared by the next one, which says so
    proc = _subprocess_build(tmp_path, site)
    assert _wait_for(lambda: started(proc), proc), "the build ended before the moment came"
    proc.kill()
    proc.wait()
    assert tree(site) == before
    again = _subprocess_build(tmp_path, site)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "interrupted build" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "site"] and _workdirs(proc.pid) == []


@pytest.mark.slow
def test_silent_choices_are_said_two_candidate_columns_and_too_many_clusters_asked(tmp_path):
    text = ("InvoiceNo,CustomerID,Customer ID,InvoiceDate,StockCode,Quantity,UnitPrice,Country\n" +
            "".join(f"{1000 + i},{100 + i % 25},{900 + i % 7},2024-01-{1 + i % 20:02d} 10:00:00,P{i % 5},{1 + i % 3},"
                    f"{2.5 + i % 4},UK\n" for i in range(200)))
    summary, out = build(tmp_path, text, "--clusters", "8")
    assert summary["headline"]["customers"] == 25  # CustomerID, the first
    assert any("2 columns could be the customer_id: 'CustomerID' was used, not 'Customer ID'" in w
               and "--map customer_id=COLUMN" in w for w in summary["warnings"])
    assert any(w.startswith("--clusters 8 asked for more clusters than these 25 customers support")
               for w in summary["warnings"])
    assert "could be the customer_id" in out


def test_a_build_killed_between_the_two_renames_gets_its_previous_site_back(tmp_path):
    from report.output import prepared

    old = tmp_path / "site.old-999999"  # the previous site, moved aside; the new one never came
    old.mkdir()
    (old / ".segment-report").write_text("x")
    (old / "index.html").write_text("previous")
    (tmp_path / "site.tmp-999999").mkdir()
    (tmp_path / "site.tmp-999999" / ".segment-report").write_text("x")
    (tmp_path / "site.old-2023").mkdir()  # the user's own backup: no marker, never touched
    (tmp_path / "site.old-2023" / "index.html").write_text("mine")
    with prepared(tmp_path / "site") as out:
        assert (tmp_path / "site" / "index.html").read_text() == "previous"
        assert any("put back the previous site" in n for n in out.notes)
        assert any("site.tmp-999999" in n for n in out.notes)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "site.old-2023"]
    assert (tmp_path / "site.old-2023" / "index.html").read_text() == "mine"


def test_an_input_that_cannot_be_read_says_permission_denied_not_truncated(tmp_path, monkeypatch):
    from analysis.read import files

    path = tmp_path / "locked.csv"
    path.write_text(H + good_rows())

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files, "open", denied, raising=False)  # as for a file of another user (tests run as root)
    code, out, err = run_cli("--input", str(path), "--output", str(tmp_path / "site"), "--quiet")
    assert code == 2 and "Traceback" not in err
    assert "locked.csv" in err and "permission denied" in err and "truncated" not in err


def test_ctrl_c_that_the_engine_turned_into_its_own_error_is_still_an_interrupt(tmp_path, monkeypatch):
    import analysis.pipeline
    from analysis import interrupt

    def engine_interrupted(*a, **k):  # DuckDB reports Ctrl-C during a query as its own error
        interrupt.REQUESTED.set()
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(analysis.pipeline, "run_analysis", engine_interrupted)
    code, _, err = cli(tmp_path, tmp_path / "site", "--quiet")
    assert code == 130 and err.strip() == "interrupted; the previous site is untouched"


def test_ctrl_c_swallowed_by_a_retry_stops_the_build_at_the_next_stage(tmp_path, tiny_csv):
    from analysis import interrupt
    from analysis.config import make_config
    from analysis.pipeline import run_analysis

    interrupt.REQUESTED.set()  # as if a query had been interrupted and then run again
    try:
        with pytest.raises(KeyboardInterrupt):
            run_analysis(make_config(input=tiny_csv, output=tmp_path / "site"))
    finally:
        interrupt.REQUESTED.clear()
    assert not (tmp_path / "site").exists()


def test_ctrl_c_that_lands_in_a_finaliser_is_remembered_without_a_traceback():
    """Python cannot raise from a weakref callback or __del__ (importlib's module locks have one):
    it prints "Exception ignored in ..." with a traceback. The interrupt is remembered instead."""
    import subprocess
    import sys
    script = (
        "import os, signal\n"
        "from analysis import interrupt\n"
        "interrupt.install()\n"
        "class Finalised:\n"
        "    def __del__(self):\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "        for _ in range(10**6): pass\n"  # the handler runs here, inside __del__
        "Finalised()\n"
        "try:\n"
        "    interrupt.check()\n"
        "except KeyboardInterrupt:\n"
        "    print('remembered')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "remembered" and done.stderr == "", done.stderr
