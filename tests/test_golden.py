"""The golden site: a small build checked in under tests/golden/, so a change's diff shows exactly
which pages and downloads it changed. 300 generated customers (data/generate_sample.py, seed 11),
built with SOURCE_DATE_EPOCH=0. plotly.js is left out (it is the installed Plotly's), and so are the
package versions recorded in summary.json. After an intended change: pytest tests/test_golden.py
--update-golden, then review and commit tests/golden/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from data.generate_sample import generate, write_csv
from tests.conftest import run_cli

GOLDEN = Path(__file__).resolve().parent / "golden"
LEFT_OUT = {"assets/plotly.min.js"}


def comparable(site: Path) -> dict[str, bytes]:
    """Every file of a site by its path, minus what depends on the installed packages."""
    files = {}
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        name = path.relative_to(site).as_posix()
        if name in LEFT_OUT:
            continue
        data = path.read_bytes()
        if name == "downloads/summary.json":
            summary = json.loads(data)
            summary.pop("versions", None)
            data = (json.dumps(summary, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
        files[name] = data
    return files


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, bytes]:
    work = tmp_path_factory.mktemp("golden")
    transactions, _ = generate(n_customers=300, seed=11)
    write_csv(transactions, work / "golden.csv")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOURCE_DATE_EPOCH", "0")
        mp.chdir(work)            # paths shown in the site are the relative ones given here
        code, _, err = run_cli("--input", "golden.csv", "--output", "site", "--quiet")
    assert code == 0, err
    return comparable(work / "site")


def test_the_site_is_the_golden_one(built, request):
    if request.config.getoption("--update-golden"):
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for name, data in built.items():
            (GOLDEN / name).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / name).write_bytes(data)
        pytest.skip(f"tests/golden/ rewritten ({len(built)} files): review the diff and commit it")
    if not GOLDEN.exists():
        pytest.fail("tests/golden/ is missing: run pytest tests/test_golden.py --update-golden")
    golden = {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in sorted(GOLDEN.rglob("*")) if p.is_file()}
    changed = sorted(n for n in built.keys() & golden.keys() if built[n] != golden[n])
    added, removed = sorted(built.keys() - golden.keys()), sorted(golden.keys() - built.keys())
    assert not (changed or added or removed), (
        f"the site differs from tests/golden/: changed {changed}, new {added}, gone {removed}. If the change "
        "is intended, run pytest tests/test_golden.py --update-golden and review the diff")


def test_the_golden_site_names_its_input_file(built):
    # a golden file is only as good as its review: a table's repr once stood where the path belongs
    summary = json.loads(built["downloads/summary.json"])
    assert summary["input"]["path"] == "golden.csv"
    assert b"<dd><code>golden.csv</code></dd>" in built["data-quality.html"]
