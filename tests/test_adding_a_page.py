"""docs/adding-a-page.md stays true: its diff applies to a copy of the project, and the copy builds
a site with the new page, its table checked and its figure in the summary."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from data.generate_sample import generate, write_csv

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
COPIED = ("analysis", "report", "templates", "data", "build_report.py")


def test_the_documented_page_is_three_files_and_two_lines_and_builds(tmp_path):
    doc = (PROJECT / "docs" / "adding-a-page.md").read_text(encoding="utf-8")
    diff = re.search(r"```diff\n(.*?)```", doc, re.S).group(1)
    touched = sorted(set(re.findall(r"^\+\+\+ b/(\S+)", diff, re.M)))
    added = sorted(set(re.findall(r"^diff --git a/(\S+) b/\S+\nnew file", diff, re.M)))
    assert added == ["analysis/studies/weekdays.py", "report/pages/weekdays.py", "templates/weekdays.html"]
    assert sorted(set(touched) - set(added)) == ["analysis/pipeline.py", "report/site.py"]
    changed_lines = [line for line in diff.splitlines()
                     if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    assert sum(1 for line in changed_lines if line.startswith("-")) <= 2  # registrations: edit a line or two

    copy = tmp_path / "project"
    for name in COPIED:
        source = PROJECT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.csv.gz"))
        else:
            copy.mkdir(exist_ok=True)
            shutil.copy2(source, copy / name)
    (tmp_path / "weekdays.diff").write_text(diff, encoding="utf-8")
    applied = subprocess.run(["git", "apply", str(tmp_path / "weekdays.diff")], cwd=copy, capture_output=True,
                             text=True, check=False)
    assert applied.returncode == 0, applied.stderr

    data = tmp_path / "sales.csv"
    write_csv(generate(300, seed=4)[0], data)
    out = tmp_path / "site"
    built = subprocess.run([sys.executable, "build_report.py", "--input", str(data), "--output", str(out), "--quiet"],
                           cwd=copy, capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr
    page = (out / "weekdays.html").read_text(encoding="utf-8")
    assert "Orders per weekday" in page and 'href="weekdays.html"' in (out / "index.html").read_text(encoding="utf-8")
    summary = json.loads((out / "downloads" / "summary.json").read_text(encoding="utf-8"))
    assert summary["headline"]["busiest_weekday"] in page
