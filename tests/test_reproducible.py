"""Same input and options, byte-identical site: with SOURCE_DATE_EPOCH set and without it.

Each build runs as its own process with its own PYTHONHASHSEED, so output that depended on
string hashing (set or dict order) would show up here, and into a different parent folder, so a
recorded output path would too. The build date is the only thing SOURCE_DATE_EPOCH may change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from data.generate_sample import generate, write_csv

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent
EPOCH = 1_700_000_000  # 2023-11-14 22:13:20 UTC: well before the generated data's period
EPOCH_DATE = dt.datetime.fromtimestamp(EPOCH, tz=dt.UTC).date()
OPTIONS = ["--seed", "3", "--currency", "£", "--title", "Shop – Ünïcode", "--quiet"]
BUILDS = {  # name -> (SOURCE_DATE_EPOCH or None, PYTHONHASHSEED)
    "epoch-1": (EPOCH, 1), "epoch-2": (EPOCH, 2),
    "plain-1": (None, 3), "plain-2": (None, 4),
}
BUILD_DAYS: set[dt.date] = set()  # the UTC days the builds ran on (two if they crossed midnight)


def build(data: Path, parent: Path, epoch: int | None, hash_seed: int) -> Path:
    """`python build_report.py` in a fresh process; the site goes to <parent>/site."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PYTHONHASHSEED"] = str(hash_seed)
    if epoch is not None:
        env["SOURCE_DATE_EPOCH"] = str(epoch)
    out = parent / "site"
    done = subprocess.run([sys.executable, "build_report.py", "--input", str(data), "--output", str(out), *OPTIONS],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def sites(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reproducible")
    data = root / "transactions.csv"
    write_csv(generate(600, seed=5)[0], data)
    BUILD_DAYS.add(dt.datetime.now(dt.UTC).date())
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(build, data, root / name, epoch, seed)
                   for name, (epoch, seed) in BUILDS.items()}
        built = {name: f.result() for name, f in futures.items()}
    BUILD_DAYS.add(dt.datetime.now(dt.UTC).date())
    return built


def tree(folder: Path) -> dict[str, bytes]:
    """Every file (dotfiles included) by path inside the folder."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def differing(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def footer_date(d: dt.date) -> str:
    return f"report built {d.day} {d:%b %Y}"


def summary(site: Path) -> dict:
    return json.loads((site / "downloads" / "summary.json").read_text(encoding="utf-8"))


def test_two_builds_with_source_date_epoch_are_byte_identical(sites):
    first, second = tree(sites["epoch-1"]), tree(sites["epoch-2"])
    assert len(first) > 20 and {"index.html", ".nojekyll", "downloads/summary.json"} <= set(first)
    assert differing(first, second) == []


def test_two_builds_without_source_date_epoch_are_byte_identical(sites):
    assert differing(tree(sites["plain-1"]), tree(sites["plain-2"])) == []


def test_no_file_holds_the_output_path(sites):
    for site in sites.values():
        for name, data in tree(site).items():
            for path in (str(site), str(site.parent), site.parent.name):
                assert path.encode("utf-8") not in data, f"{name} holds {path}"
        assert summary(site)["config"]["output"] == "site"  # the folder's name only


def test_the_build_date_comes_from_source_date_epoch_when_set(sites):
    site = sites["epoch-1"]
    assert summary(site)["headline"]["build_date"] == EPOCH_DATE.isoformat()
    for page in ("index.html", "segments.html", "methodology.html"):
        assert footer_date(EPOCH_DATE) in (site / page).read_text(encoding="utf-8")


def test_without_source_date_epoch_the_build_date_is_the_day_of_the_build_not_the_data(sites):
    site = sites["plain-1"]
    headline = summary(site)["headline"]
    built = dt.date.fromisoformat(headline["build_date"])
    assert built in BUILD_DAYS and built.isoformat() != headline["period_end"]
    assert footer_date(built) in (site / "index.html").read_text(encoding="utf-8")


def test_source_date_epoch_changes_nothing_but_the_build_date(sites):
    with_epoch, plain = tree(sites["epoch-1"]), tree(sites["plain-1"])
    built = dt.date.fromisoformat(summary(sites["plain-1"])["headline"]["build_date"])
    swaps = [(footer_date(EPOCH_DATE), footer_date(built)),
             (f'"build_date": "{EPOCH_DATE.isoformat()}"', f'"build_date": "{built.isoformat()}"')]
    for name, data in with_epoch.items():
        for old, new in swaps:
            data = data.replace(old.encode("utf-8"), new.encode("utf-8"))
        with_epoch[name] = data
    assert differing(with_epoch, plain) == []
