"""MLflow specifics, checked through MLflow's own client: run, lineage tags, signature, registry alias."""

from __future__ import annotations

import math
import socket
from pathlib import Path

import mlflow
import pytest

from {{ cookiecutter.package_name }}.champion import load_tracked
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ModelNotFoundError, UntrustedModelError
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.tracking import MODEL_NAME, get_tracker
from {{ cookiecutter.package_name }}.train import train


@pytest.fixture
def evaluated(params: Params) -> Params:
    write_prepared(prepare(params.data))
    tracker = get_tracker()
    train(params, tracker)
    evaluate(params, tracker)
    return params


def test_run_has_params_metrics_and_lineage(evaluated: Params) -> None:
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias(MODEL_NAME, "champion")
    run = client.get_run(version.run_id)
    assert run.data.params["train.family"] == evaluated.train.family
    assert run.data.params["train.random_forest.n_estimators"] == str(evaluated.train.random_forest.n_estimators)
    metric = evaluated.evaluate.metric  # the task's (roc_auc, rmse, ...)
    assert {f"train_{metric}", f"test_{metric}"} <= set(run.data.metrics)
    assert len(run.data.tags["data_md5"]) == 32
    assert run.data.tags["promoted"] == "true"
    assert run.data.tags["gate_reason"] == "no champion yet"
    assert version.tags["data_md5"] == run.data.tags["data_md5"]


def test_registered_model_has_signature_and_serves_predictions(evaluated: Params) -> None:
    model_uri = f"models:/{MODEL_NAME}@champion"
    info = mlflow.models.get_model_info(model_uri)
    assert {spec.name for spec in info.signature.inputs} == set(evaluated.data.features)
    features, _ = load_split(TEST_FILE, evaluated.data)
    predictions = mlflow.pyfunc.load_model(model_uri).predict(features.head(7))
    if evaluated.data.regression:
        assert all(math.isfinite(value) for value in predictions)
    else:
        assert set(predictions) <= set(load_split(TEST_FILE, evaluated.data)[1])
    assert len(predictions) == 7


def test_the_registry_path_refuses_a_tampered_model_file(evaluated: Params, workspace: Path, crafted_model) -> None:
    """MLflow's own loader would trust whatever types the MLmodel file lists; the champion is loaded by ours."""
    stored = [path for path in workspace.glob("mlruns/**/*.skops")]
    assert stored, "the registered model's skops file is in the artifact store"
    for path in stored:
        crafted_model(path, workspace / "marker")
    with pytest.raises(UntrustedModelError, match=r"builtins\.eval"):
        get_tracker().champion()
    assert not (workspace / "marker").exists()


def test_no_champion_and_unreachable_server_are_told_apart(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    with pytest.raises(ModelNotFoundError, match=r"no champion yet in the MLflow registry at sqlite:///"):
        load_tracked()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://admin:hunter2@127.0.0.1:{port}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    result = cli("export-champion", "--output", "exported")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: the MLflow registry at http://***@127.0.0.1:{port} (model ")
    assert "cannot be used" in result.stderr
    assert "no champion" not in result.stderr
    assert "hunter2" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
