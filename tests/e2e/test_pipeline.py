"""ML core, for every tracking backend: the DVC pipeline trains, the backend records it, the gate holds.

Each project was baked, installed, committed and trained (`dvc repro`) by the `project` fixture. The generated
project's own test suite runs in test_delivery.py, as a step of its ci.yml, once for every tracking backend.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from .conftest import pair_params
from .projects import TRACKINGS, Project

INSPECT = Path(__file__).with_name("inspect_tracking.py")
PAIRS = [("fastapi", tracking) for tracking in TRACKINGS]


def backend_state(project: Project) -> dict:
    result = project.run(project.python, INSPECT, project.tracking, project.package)
    return json.loads(result.stdout.strip().splitlines()[-1])


def champion_id(project: Project, state: dict) -> str:
    if project.tracking in ("mlflow", "mlflow-server"):
        return state["champion"]
    if project.tracking == "wandb":
        champions = [a for a in state["artifacts"] if "champion" in a["aliases"]]
        return champions[-1]["metadata"]["digest"]
    return state["champion"]["version"]


def read_json(project: Project, relative: str) -> dict:
    return json.loads((project.root / relative).read_text())


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_pipeline_is_recorded_by_the_backend_and_gate_keeps_identical_challenger(project, serving, tracking) -> None:
    p = project(serving, tracking)
    first = read_json(p, "reports/promotion.json")
    assert first["promoted"] is True, first
    metrics = read_json(p, "reports/metrics.json")
    assert metrics["roc_auc"] > 0.7
    assert (p.root / "dvc.lock").is_file()
    assert p.run(p.python, "-m", "dvc", "metrics", "show").stdout.count("roc_auc") == 1

    state = backend_state(p)
    champion = champion_id(p, state)
    data_md5 = hashlib.md5((p.root / "data/raw/churn.csv").read_bytes(), usedforsecurity=False).hexdigest()
    head = p.run("git", "rev-parse", "HEAD").stdout.strip()
    if tracking in ("mlflow", "mlflow-server"):
        assert state["model"] == p.package
        assert state["params"]["train.random_forest.n_estimators"] == "200"
        assert state["params"]["train.family"] == "random_forest"
        assert {"train_roc_auc", "test_roc_auc", "test_accuracy"} <= set(state["metrics"])
        assert state["tags"]["data_md5"] == data_md5
        assert state["tags"]["git_commit"] == head
        assert "contract" in state["signature_inputs"]
        assert state["has_input_example"]
    elif tracking == "wandb":
        jobs = [run["job_type"] for run in state["runs"]]
        assert jobs.count("train") == 1
        assert "promote" in jobs
        train_run = next(run for run in state["runs"] if run["job_type"] == "train")
        assert train_run["config"]["train.random_forest.n_estimators"] == 200
        assert train_run["config"]["data_md5"] == data_md5
        evaluation = next(run for run in state["runs"] if run["job_type"] == "evaluate")
        assert evaluation["summary"]["promoted"] is True
        assert evaluation["summary"]["gate_reason"] == "no champion yet"
        assert "test_roc_auc" in evaluation["summary"]
    else:
        assert state["file"]

    # Same data, same seed, same code: an identical challenger must not replace the champion.
    p.run(p.python, "-m", "dvc", "repro", "--force", timeout=900)
    second = read_json(p, "reports/promotion.json")
    assert second["promoted"] is False, second
    assert second["challenger"] == pytest.approx(second["champion"])
    assert champion_id(p, backend_state(p)) == champion
    assert p.cli("promoted", check=False).returncode == 1


@pytest.mark.parametrize(("serving", "tracking"), pair_params([("fastapi", "none")]))
def test_experiments_remote_and_fresh_clone(project, serving, tracking, tmp_path: Path) -> None:
    p = project(serving, tracking)
    exp = p.run(p.python, "-m", "dvc", "exp", "run", "-S", "train.random_forest.n_estimators=40", timeout=900)
    assert "Ran experiment" in exp.stdout + exp.stderr
    assert "40" in p.run(p.python, "-m", "dvc", "exp", "show", "--no-pager", "--md").stdout

    p.run(p.python, "-m", "dvc", "push")
    assert any((p.root / ".dvc" / "storage").rglob("*")), "the local default remote received the data"

    clone = tmp_path / "clone"
    p.run("git", "clone", "--quiet", p.root, clone)
    fresh = Project(p.serving, p.tracking, clone, p.package, p.env | {"PYTHONPATH": str(clone / "src")})
    fresh.run(p.python, "-m", "dvc", "repro", timeout=900)
    assert read_json(fresh, "reports/promotion.json")["promoted"] is True  # a fresh clone has no champion yet
    shutil.rmtree(clone / "data" / "prepared")
    fresh.run(p.python, "-m", "dvc", "pull", "data/prepared")
    assert (clone / "data/prepared/train.csv").is_file()
