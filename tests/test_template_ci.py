"""The template repository's own workflows (.github/workflows/): clean under zizmor and the GitHub workflow schema,
running the Makefile's test targets, on the operating systems and Pythons the template promises; and the newest
releases job covering every serving style and tracking backend (tools/newest_releases.py)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from tests.render import TEMPLATE_DIR_NAME, TEMPLATE_ROOT, choice_questions
from tools.newest_releases import project_requirements, relax

WORKFLOWS = TEMPLATE_ROOT / ".github" / "workflows"
CI, NEWEST = WORKFLOWS / "ci.yml", WORKFLOWS / "newest.yml"
OPERATING_SYSTEMS = {"ubuntu-latest", "macos-latest", "windows-latest"}
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def workflows() -> list[Path]:
    return sorted(path for pattern in ("*.yml", "*.yaml") for path in WORKFLOWS.glob(pattern))


def load(path: Path) -> dict[str, Any]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    # YAML 1.1 reads the bare key `on` as True
    return {("on" if key is True else key): value for key, value in workflow.items()}


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return job.get("steps", [])


def runs(job: dict[str, Any], *, windows: bool | None = None) -> list[str]:
    """The job's `run:` commands: all of them, or those of the steps that run on Windows (True) or elsewhere
    (False), judged by their `if: runner.os == 'Windows'` or `if: runner.os != 'Windows'`."""
    skipped_by = {True: "runner.os != 'Windows'", False: "runner.os == 'Windows'"}
    return [
        step["run"]
        for step in steps(job)
        if "run" in step and (windows is None or step.get("if") != skipped_by[windows])
    ]


def makefile_recipes() -> dict[str, list[str]]:
    """target -> its recipe lines (tabs and a leading `@` stripped), from the template's Makefile."""
    recipes: dict[str, list[str]] = {}
    current = None
    for line in (TEMPLATE_ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith("\t") and current is not None:
            recipes[current].append(line.strip().lstrip("@"))
        elif match := re.match(r"^([A-Za-z0-9_-]+):(?!=)", line):
            current = match.group(1)
            recipes[current] = []
        else:
            current = None if line and not line.startswith("\t") else current
    return recipes


def installed_tool(name: str) -> str:
    """A console script of the test extra, beside this interpreter (bin/ or Scripts\\), else on PATH."""
    for directory in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        if found := shutil.which(name, path=directory):
            return found
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'", pytrace=False)
    return found


# --------------------------------------------------------------------------------------------------------------------
# Linters


def test_workflows_exist() -> None:
    assert CI.is_file() and NEWEST.is_file()


def test_zizmor_finds_nothing() -> None:
    """zizmor, offline: pinned actions, least privilege, no persisted credentials, no template injection."""
    result = subprocess.run(
        [installed_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS)],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_match_the_github_schema() -> None:
    result = subprocess.run(
        [installed_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflows())],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", workflows(), ids=lambda path: path.name)
def test_hardening(path: Path) -> None:
    """What zizmor checks, stated here too so that a zizmor release cannot loosen it: read-only token, every action
    pinned to a commit with its version as a comment, no credentials left in the checkout, matrix values reach
    shell commands through `env:` only."""
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    text = path.read_text(encoding="utf-8")
    for job_id, job in workflow["jobs"].items():
        assert "permissions" not in job or job["permissions"] == {"contents": "read"}, job_id
        for step in steps(job):
            if "uses" in step:
                assert PINNED.match(step["uses"]), f"{job_id}: {step['uses']} is not pinned to a commit"
                line = next(line for line in text.splitlines() if step["uses"] in line)
                assert re.search(r"# v\d", line), f"{job_id}: {step['uses']} has no version comment"
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, job_id
            if "run" in step:
                assert "${{" not in step["run"], f"{job_id}: an expression inside a shell command: {step['run']}"


# --------------------------------------------------------------------------------------------------------------------
# ci.yml runs the README's `make test`: the fast tier everywhere, the end-to-end tier on Linux


def test_fast_tier_matrix_covers_every_os_and_python() -> None:
    """Three operating systems, and exactly the Pythons a generated project may choose (cookiecutter.json)."""
    job = load(CI)["jobs"]["fast"]
    matrix = job["strategy"]["matrix"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert set(matrix["os"]) == OPERATING_SYSTEMS
    assert len(matrix["os"]) == len(OPERATING_SYSTEMS)
    pythons = sorted(choice_questions()["python_version"], key=lambda v: tuple(map(int, v.split("."))))
    assert matrix["python-version"] == pythons
    assert pythons[0] == "3.11" and pythons[-1] == "3.13"
    assert job["strategy"]["fail-fast"] is False, "one failing leg must not hide the others"
    assert not {"include", "exclude"} & set(matrix), "every leg of the matrix runs"


def test_ci_jobs_are_the_makefile_test_target() -> None:
    """`make test` (the README's command, .ci/run's) is the fast tier's pytest command, then `make test-e2e`: the
    fast job runs the former (make test-fast, or its pytest command on Windows), the e2e job the latter."""
    recipes = makefile_recipes()
    fast_pytest = [line for line in recipes["test"] if " pytest " in line]
    assert fast_pytest == recipes["test-fast"], "make test's fast tier and make test-fast differ"
    e2e_targets = [line.split()[-1] for line in recipes["test"] if line.startswith("$(MAKE)")]
    assert e2e_targets == ["test-e2e"]
    assert "make test" in (TEMPLATE_ROOT / "README.md").read_text(encoding="utf-8")
    assert re.search(r"^make test$", (TEMPLATE_ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.MULTILINE)

    jobs = load(CI)["jobs"]
    e2e_runs = [shlex.split(command) for command in runs(jobs["e2e"])]
    assert any(words[:2] == ["make", *e2e_targets] for words in e2e_runs), e2e_runs
    assert jobs["e2e"]["runs-on"].startswith("ubuntu-")
    assert any("libgomp1" in command and "apt-get install" in command for command in runs(jobs["e2e"]))
    (checkout,) = [step for step in steps(jobs["e2e"]) if step.get("uses", "").startswith("actions/checkout@")]
    assert checkout["with"].get("fetch-depth") == 0, "tests/e2e/test_update.py needs an older commit: full history"

    assert any(shlex.split(command)[:2] == ["make", "test-fast"] for command in runs(jobs["fast"], windows=False))
    # Windows: the recipe's pytest arguments, run by the job's Python (no make, no .venv/bin there)
    (recipe,) = recipes["test-fast"]
    pytest_args = shlex.split(recipe)[1:]  # after $(BIN)/python
    windows = [shlex.split(command) for command in runs(jobs["fast"], windows=True)]
    assert ["python", *pytest_args] in windows, windows
    assert ["python", "-m", "pip", "install", "-e", ".[test]"] in windows, windows


def test_windows_checkout_leaves_out_only_the_template_directory() -> None:
    """The template directory's name holds '|' (no Windows file name may): the Windows checkout is sparse around
    it, with git allowed to index the path, and every other file is there."""
    if "|" not in TEMPLATE_DIR_NAME:
        pytest.fail("the template directory no longer needs the sparse Windows checkout: check out everything")
    checkouts = [step for step in steps(load(CI)["jobs"]["fast"]) if step.get("uses", "").startswith("actions/")]
    windows = next(step for step in checkouts if step.get("if") == "runner.os == 'Windows'" and "with" in step)
    assert windows["uses"].startswith("actions/checkout@")
    assert windows["with"]["sparse-checkout-cone-mode"] is False
    assert windows["with"]["sparse-checkout"].split() == ["/*", f"!/{TEMPLATE_DIR_NAME}/"]
    setup = " ".join(runs(load(CI)["jobs"]["fast"], windows=True))
    assert "core.protectNTFS false" in setup


# --------------------------------------------------------------------------------------------------------------------
# newest.yml: every serving style once, every tracking backend once, through tools/newest_releases.py


def test_newest_releases_cover_every_serving_and_tracking_once() -> None:
    workflow = load(NEWEST)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}, "it reports, it must not gate pushes or PRs"
    (job,) = workflow["jobs"].values()
    pairs = [(leg["serving"], leg["tracking"]) for leg in job["strategy"]["matrix"]["include"]]
    choices = choice_questions()
    assert sorted(serving for serving, _ in pairs) == sorted(choices["serving"])
    assert sorted(tracking for _, tracking in pairs) == sorted(choices["tracking"])
    step = next(step for step in steps(job) if "newest_releases.py" in step.get("run", ""))
    assert step["env"] == {"SERVING": "${{ matrix.serving }}", "TRACKING": "${{ matrix.tracking }}"}
    assert shlex.split(step["run"]) == [
        "python",
        "tools/newest_releases.py",
        "--serving",
        "$SERVING",
        "--tracking",
        "$TRACKING",
    ]


@pytest.mark.parametrize(
    ("given", "relaxed"),
    [
        ("pandas>=3.0,<3.1", "pandas>=3.0"),
        ("ruff==0.17.5", "ruff>=0.17.5"),
        ("grpcio-tools~=1.85.1", "grpcio-tools>=1.85.1"),
        ("numpy==2.4.*", "numpy>=2.4"),
        ("pyarrow>=25.0,!=25.1,<=27", "pyarrow!=25.1,>=25.0"),
        ("uvloop>=0.23,<0.24; sys_platform != 'win32'", "uvloop>=0.23; sys_platform != 'win32'"),
        ("mlflow[extras]<3.18", "mlflow[extras]"),
    ],
)
def test_newest_releases_lift_upper_bounds_only(given: str, relaxed: str) -> None:
    assert relax(Requirement(given)) == Requirement(relaxed)


def test_newest_releases_follow_the_dev_extra() -> None:
    """The dev extra's reference to the project's own extras is followed, not installed."""
    pyproject = {
        "project": {
            "name": "Churn_Model",
            "dependencies": ["numpy>=2.4,<3"],
            "optional-dependencies": {
                "train": ["dvc>=3.67,<3.68"],
                "monitoring": ["evidently>=0.7.23,<0.8"],
                "spark": ["pyspark>=4.3,<4.4"],
                "dev": ["churn-model[train,monitoring]", "pytest>=9.2,<10"],
            },
        }
    }
    names = sorted(requirement.name for requirement in project_requirements(pyproject))
    assert names == ["dvc", "evidently", "numpy", "pytest"]
