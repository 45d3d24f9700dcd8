"""The GitHub workflows: zizmor (even its pedantic persona) finds nothing, both run the README's
test command, and the deploy workflow publishes with the official Pages actions."""

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


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
