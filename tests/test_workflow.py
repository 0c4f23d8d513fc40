"""The GitHub Pages workflow: valid YAML, least privilege, the official Pages actions, and the
same install and build commands the README gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml  # PyYAML, from requirements-dev.txt

PROJECT = Path(__file__).resolve().parent.parent
WORKFLOW = PROJECT / ".github" / "workflows" / "pages.yml"
INSTALL = "pip install -r requirements.txt"
BUILD = "python build_report.py"
SAMPLE = "data/sample_transactions.csv.gz"


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def step_using(workflow: dict, job: str, action: str) -> dict:
    found = [s for s in steps(workflow, job) if s.get("uses", "").split("@")[0] == action]
    assert len(found) == 1, f"{job} should use {action} once"
    return found[0]


def run_lines(workflow: dict, job: str) -> list[str]:
    return [line.strip() for s in steps(workflow, job) for line in s.get("run", "").splitlines() if line.strip()]


def test_the_workflow_is_valid_yaml_with_two_jobs(workflow):
    assert isinstance(workflow, dict) and workflow["name"]
    assert set(workflow["jobs"]) == {"build", "deploy"}


def test_it_runs_on_pushes_to_main_and_by_hand(workflow):
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in triggers


def test_it_asks_only_for_the_permissions_pages_needs(workflow):
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert all("permissions" not in job for job in workflow["jobs"].values())


def test_one_pages_deployment_runs_at_a_time(workflow):
    assert workflow["concurrency"]["group"] == "pages"


def test_the_build_job_checks_out_and_sets_up_python_3_11(workflow):
    first = steps(workflow, "build")[0]
    assert first["uses"].split("@")[0] == "actions/checkout"
    assert str(step_using(workflow, "build", "actions/setup-python")["with"]["python-version"]) == "3.11"


def test_the_build_job_runs_the_readme_install_and_build_commands(workflow):
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert INSTALL in readme and BUILD in readme
    lines = run_lines(workflow, "build")
    assert INSTALL in lines
    builds = [line for line in lines if line.startswith(BUILD)]
    assert len(builds) == 1
    assert lines.index(INSTALL) < lines.index(builds[0])


def test_the_site_folder_that_is_built_is_the_one_uploaded(workflow):
    build = next(line for line in run_lines(workflow, "build") if line.startswith(BUILD))
    output = re.search(r"--output\s+(\S+)", build)
    assert (output.group(1) if output else "site") == "site"
    upload = step_using(workflow, "build", "actions/upload-pages-artifact")
    assert upload["with"]["path"] == "site"
    names = [s.get("uses", "").split("@")[0] for s in steps(workflow, "build")]
    assert names.index("actions/configure-pages") < names.index("actions/upload-pages-artifact")
    assert names.index("actions/upload-pages-artifact") == len(names) - 1


def test_the_input_file_is_a_variable_or_input_defaulting_to_the_sample(workflow):
    build_step = next(s for s in steps(workflow, "build") if BUILD in s.get("run", ""))
    assert "${{" not in build_step["run"]  # expressions go through env, never into the script
    assert '--input "$REPORT_INPUT"' in build_step["run"]
    expression = build_step["env"]["REPORT_INPUT"]
    assert "vars.REPORT_INPUT" in expression and "inputs.input" in expression and f"'{SAMPLE}'" in expression
    assert (PROJECT / SAMPLE).is_file()
    triggers = workflow.get("on", workflow.get(True))
    assert "input" in triggers["workflow_dispatch"]["inputs"]


def test_the_deploy_job_publishes_to_the_github_pages_environment(workflow):
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    step = step_using(workflow, "deploy", "actions/deploy-pages")
    assert deploy["environment"]["url"] == f"${{{{ steps.{step['id']}.outputs.page_url }}}}"


def test_every_action_is_an_official_one_pinned_to_a_major_version(workflow):
    used = [s["uses"] for job in workflow["jobs"] for s in steps(workflow, job) if "uses" in s]
    assert {u.split("@")[0] for u in used} == {"actions/checkout", "actions/setup-python", "actions/configure-pages",
                                              "actions/upload-pages-artifact", "actions/deploy-pages"}
    assert all(re.fullmatch(r"actions/[a-z-]+@(v\d+|[0-9a-f]{40})", u) for u in used), used
