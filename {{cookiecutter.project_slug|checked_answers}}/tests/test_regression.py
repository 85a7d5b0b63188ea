"""Regression in every project: on params.yaml's data when its task is regression, else on a regression view of
it (one of its numeric features as the target). Each family trains, converts to ONNX with parity and answers one
number per row; the gate knows an error is better lower; the monitors judge RMSE, MAE and R2."""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ConfigError, DataValidationError, StoreError
from {{ cookiecutter.package_name }}.estimators import FAMILIES
from {{ cookiecutter.package_name }}.evaluate import METRICS_FILE, PLOTS_DIR, evaluate
from {{ cookiecutter.package_name }}.gate import decide
from {{ cookiecutter.package_name }}.model import Champion, build_pipeline, load_model, save_model
from {{ cookiecutter.package_name }}.model_schema import ModelSchema, schema_of
from {{ cookiecutter.package_name }}.monitoring.performance import run_performance
from {{ cookiecutter.package_name }}.monitoring.simulate import ACTUAL_COLUMN, simulate
from {{ cookiecutter.package_name }}.onnx_model import check_parity
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.serving.service import PredictionService
from {{ cookiecutter.package_name }}.store import PredictionStore
from {{ cookiecutter.package_name }}.tracking import get_tracker
from {{ cookiecutter.package_name }}.train import CHALLENGER_FILE, fit_with_progress, train

MODEL_VERSION = "7"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_regresses_converts_and_answers_numbers(
    regression_workspace: Params, family: str, tmp_path: Path
) -> None:
    data = regression_workspace.data
    train_params = regression_workspace.train.model_copy(update={"family": family})  # the workspace's: quick
    labelled = prepare(data).train  # rows with a target value
    features, target = labelled[data.features], labelled[data.target]
    model = build_pipeline(data, train_params)
    fit_with_progress(model, features, target)
    assert schema_of(model).task == "regression"
    assert schema_of(model).classes == ()
    save_model(model, tmp_path / "model.skops")
    rows = features.head(20)  # trees are summed in parallel: the last bits may differ between two calls
    np.testing.assert_allclose(load_model(tmp_path / "model.skops").predict(rows), model.predict(rows), rtol=1e-12)

    predictor = Predictor(Champion(model, MODEL_VERSION), data)
    for sample in (features, parity_sample(data)):
        parity = check_parity(model, predictor.scorer, sample)
        assert parity.ok, parity.describe()
        assert parity.max_relative_difference is not None
    scored = predictor.score_frame(features.head(5))
    assert scored.probabilities is None
    assert scored.class_probabilities is None
    assert scored.labels == pytest.approx(model.predict(features.head(5)).tolist(), rel=1e-4)
    assert all(isinstance(value, float) for value in scored.labels)


def test_outcomes_must_be_finite_numbers(regressor: Predictor) -> None:
    assert regressor.known_outcome(3) == 3.0
    assert regressor.known_outcome(2.5) == 2.5
    for wrong in ("3.5", True, math.nan, math.inf, None):
        with pytest.raises(DataValidationError, match="actual must be a finite number"):
            regressor.known_outcome(wrong)


def test_the_gate_knows_lower_errors_are_better() -> None:
    assert decide("rmse", 9.0, 10.0, 0.5).promoted
    assert not decide("rmse", 9.8, 10.0, 0.5).promoted  # better, but by less than the margin
    assert not decide("mae", 11.0, 10.0, 0.0).promoted
    assert "lower is better" in decide("rmse", 9.0, 10.0, 0.5).reason
    assert decide("r2", 0.8, 0.7, 0.01).promoted
    assert not decide("r2", 0.6, 0.7, 0.0).promoted


def test_settings_of_the_other_task_are_one_clear_error(regression_workspace: Params, workspace: Path) -> None:
    raw = yaml.safe_load((workspace / "params.yaml").read_text(encoding="utf-8"))
    for change, message in (
        ({"evaluate": raw["evaluate"] | {"metric": "roc_auc"}}, "'roc_auc' is not a regression metric"),
        (
            {"monitoring": raw["monitoring"] | {"min_accuracy": 0.7}},
            "min_accuracy does not apply to regression",
        ),
        ({"data": raw["data"] | {"positive_label": 1}}, "regression has no positive_label"),
    ):
        (workspace / "params.yaml").write_text(yaml.safe_dump(raw | change), encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_params()


def test_pipeline_trains_evaluates_and_gates_a_regressor(regression_workspace: Params) -> None:
    params = regression_workspace
    write_prepared(prepare(params.data))
    tracker = get_tracker()
    train(params, tracker)
    first = evaluate(params, tracker)
    assert first.promoted
    assert first.metric == "rmse"
    metrics = json.loads(METRICS_FILE.read_text(encoding="utf-8"))
    assert {"rmse", "mae", "r2"} <= set(metrics)
    assert metrics["rmse"] > 0
    assert sorted(path.name for path in PLOTS_DIR.iterdir()) == ["predicted.csv"]
    features, target = load_split(TEST_FILE, params.data)
    assert metrics["rmse"] < float(np.sqrt(((target - target.mean()) ** 2).mean())) * 1.05, "no better than the mean"

    stump = params.train.random_forest.model_copy(update={"n_estimators": 1, "max_depth": 1})
    weak = params.model_copy(
        update={"train": params.train.model_copy(update={"family": "random_forest", "random_forest": stump})}
    )
    train(weak, tracker)
    second = evaluate(weak, tracker)
    assert not second.promoted
    assert second.challenger > second.champion, second
    assert load_model(CHALLENGER_FILE).predict(features.head(1)).shape == (1,)


def test_performance_judges_rmse_mae_and_r2_on_real_outcomes(
    regression_workspace: Params, regressor: Predictor, store: str
) -> None:
    params = regression_workspace.model_copy(update={"data": regressor.data})
    write_prepared(prepare(params.data))
    simulate(params, Path("rows.csv"), rows=200, drift=False, labels=True, label_noise=0.0, seed=1)
    rows = pd.read_csv("rows.csv")
    with PredictionStore.writer(store) as log:
        scored = PredictionService(params.data, "test", log, predictor=regressor).predict_frame(
            rows[params.data.features]
        )
    with PredictionStore.writer(store) as log:
        for prediction_id, actual in zip(scored.ids, rows[ACTUAL_COLUMN], strict=True):
            assert log.record_feedback(prediction_id, float(actual))
    report = run_performance(params, labels=None)
    assert set(report.metrics) == {"rmse", "mae", "r2"}
    assert not report.alert, report.summary_line()
    assert report.metrics["rmse"] >= report.metrics["mae"] > 0

    strict = params.model_copy(
        update={"monitoring": params.monitoring.model_copy(update={"max_rmse": report.metrics["rmse"] / 2})}
    )
    judged = run_performance(strict, labels=None)
    assert judged.alert
    assert any(alert.startswith("rmse ") for alert in judged.alerts), judged.alerts


def test_simulated_outcomes_are_numbers_and_noise_replaces_that_share(regression_workspace: Params) -> None:
    params = regression_workspace
    write_prepared(prepare(params.data))
    simulate(params, Path("clean.csv"), rows=100, drift=False, labels=True, label_noise=0.0, seed=5)
    simulate(params, Path("noisy.csv"), rows=100, drift=False, labels=True, label_noise=0.5, seed=5)
    clean, noisy = pd.read_csv("clean.csv")[ACTUAL_COLUMN], pd.read_csv("noisy.csv")[ACTUAL_COLUMN]
    assert pd.api.types.is_float_dtype(clean)
    assert pd.api.types.is_float_dtype(noisy)
    assert 0.3 <= (clean != noisy).mean() <= 0.5  # a replacement may draw the same value


def test_a_champion_of_the_other_task_is_not_comparable() -> None:
    classifier = ModelSchema("y", ("a",), ("b",), ("0", "1"), task="classification")
    regressor = ModelSchema("y", ("a",), ("b",), (), task="regression")
    assert classifier.differences(regressor)[0] == "task classification -> regression"


def test_a_store_made_for_a_classifier_is_refused_in_one_line(regressor: Predictor, tmp_path: Path) -> None:
    """An earlier release created predictions.probability NOT NULL: a regressor's rows would be refused in the
    background, one by one; the service says so at start-up instead."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE predictions (id VARCHAR(32) PRIMARY KEY, request_id VARCHAR(32) NOT NULL,"
            " created_at DATETIME NOT NULL, model_version VARCHAR(64) NOT NULL, inputs JSON NOT NULL,"
            " prediction JSON NOT NULL, probability FLOAT NOT NULL)"
        )
    with PredictionStore.writer(f"sqlite:///{path}") as log, pytest.raises(StoreError) as refused:
        PredictionService(regressor.data, "test", log, predictor=regressor)
    assert "was created for a classifier" in str(refused.value)
    assert len(str(refused.value).splitlines()) == 1
