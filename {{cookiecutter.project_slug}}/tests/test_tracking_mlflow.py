"""MLflow specifics, checked through MLflow's own client: run, lineage tags, signature, registry alias."""

from __future__ import annotations

import mlflow
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
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
    assert run.data.params["train.n_estimators"] == str(evaluated.train.n_estimators)
    assert {"train_roc_auc", "test_roc_auc", "test_f1"} <= set(run.data.metrics)
    assert len(run.data.tags["data_md5"]) == 32
    assert run.data.tags["promoted"] == "true"
    assert version.tags["data_md5"] == run.data.tags["data_md5"]


def test_registered_model_has_signature_and_serves_predictions(evaluated: Params) -> None:
    model_uri = f"models:/{MODEL_NAME}@champion"
    info = mlflow.models.get_model_info(model_uri)
    assert {spec.name for spec in info.signature.inputs} == set(evaluated.data.features)
    features, _ = load_split(TEST_FILE, evaluated.data)
    predictions = mlflow.pyfunc.load_model(model_uri).predict(features.head(7))
    assert set(predictions) <= {0, 1}
    assert len(predictions) == 7
