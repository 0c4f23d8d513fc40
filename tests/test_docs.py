"""The documentation keeps up with the code: every option is in docs/options.md (linked from the
README) and the example config."""

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import build_report
from analysis.config import Config, load_toml, make_config

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
OPTIONS = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")


def cli_options() -> list[str]:
    return sorted({s for a in build_report.parser()._actions for s in a.option_strings
                   if s.startswith("--") and s != "--help"})


def test_every_command_line_option_is_documented_and_the_readme_links_the_list():
    missing = [opt for opt in cli_options() if f"`{opt}" not in OPTIONS]
    assert not missing, f"options missing from docs/options.md: {missing}"
    assert "(docs/options.md)" in README


def test_every_config_field_has_a_flag_or_is_marked_toml_only_and_is_in_the_example():
    example = (ROOT / "report.example.toml").read_text(encoding="utf-8")
    flags = set(cli_options())
    for f in fields(Config):
        flag = f.metadata.get("flag")
        assert flag is None or flag in flags, f"{f.name}: flag {flag} not in the CLI"
        key = {"column_map": "map"}.get(f.name, f.name)
        assert re.search(rf"^#?\s*\[*{key}\b", example, re.M), f"{key} missing from report.example.toml"


def test_the_example_config_is_valid_and_builds_a_config(tmp_path):
    data = tomllib.loads((ROOT / "report.example.toml").read_text(encoding="utf-8"))
    assert data["k_min"] == 3
    config = make_config(**load_toml(ROOT / "report.example.toml"))
    assert config.input.name == "sample_transactions.csv.gz" and config.input.exists()


def test_every_ledger_reason_is_explained_in_the_readme():
    from analysis.read.clean import REASONS

    for code, _label, _description in REASONS:
        assert f"`{code}`" in README, code


def test_the_readme_shows_exactly_the_two_setup_commands_that_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    for command in ("pip install -r requirements.txt && python build_report.py",
                    "pip install -r requirements-dev.txt && pytest"):
        assert f"    {command}\n" in README
        assert command in ci
