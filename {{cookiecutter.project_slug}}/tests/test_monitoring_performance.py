"""The performance job on outcomes joined to predictions made by the real prediction core: good outcomes pass,
degraded ones alert, a failing service alerts, and missing or wrong outcomes are a clear one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.champion import Champion
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.model import build_pipeline
from {{ cookiecutter.package_name }}.monitoring.performance import (
    JSON_REPORT,
    run_performance,
)
from {{ cookiecutter.package_name }}.monitoring.simulate import ACTUAL_COLUMN, simulate
from {{ cookiecutter.package_name }}.predictor import Predictor
from {{ cookiecutter.package_name }}.store import (
    STORE_URL_ENV,
    PredictionLog,
    PredictionRecord,
    RequestRecord,
)
from {{ cookiecutter.package_name }}.train import fit_with_progress

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
ROWS = 300


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own module, fixed arguments)
        [sys.executable, "-m", PACKAGE, *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """A small forest trained once for the module on the pipeline's training split."""
    params = load_params(PROJECT_ROOT / "params.yaml")
    data = params.data.model_copy(update={"path": PROJECT_ROOT / params.data.path})
    train = prepare(data).train
    pipeline = build_pipeline(data, params.train.model_copy(update={"n_estimators": 30}))
    fit_with_progress(pipeline, train[data.features], train[data.target])
    return Predictor(Champion(pipeline, "7"), params.data)


@pytest.fixture
def store(params: Params, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prediction store in the workspace, and the prepared splits the jobs read."""
    write_prepared(prepare(params.data))
    url = f"sqlite:///{workspace / 'predictions.db'}"
    monkeypatch.setenv(STORE_URL_ENV, url)
    return url


def serve(predictor: Predictor, params: Params, url: str, *, label_noise: float, seed: int) -> pd.DataFrame:
    """Score simulated rows and log them as the serving layer does; return the outcomes with their prediction ids."""
    simulate(params, Path("rows.csv"), rows=ROWS, drift=False, labels=True, label_noise=label_noise, seed=seed)
    rows = pd.read_csv("rows.csv")
    features = rows[params.data.features]
    scored = predictor.predict_frame(features)
    inputs = features.astype(object).where(features.notna(), None).to_dict("records")
    log = PredictionLog(url)
    records = [
        PredictionRecord(id_, row, label, probability, scored.model_version)
        for id_, row, label, probability in zip(scored.ids, inputs, scored.labels, scored.probabilities, strict=True)
    ]
    log.record(RequestRecord(uuid.uuid4().hex, "test", "ok", 2.0, len(rows), scored.model_version), records)
    log.close()
    return pd.DataFrame({"prediction_id": scored.ids, "actual": rows[ACTUAL_COLUMN]})


def feedback(url: str, outcomes: pd.DataFrame) -> None:
    log = PredictionLog(url)
    for prediction_id, actual in outcomes.itertuples(index=False):
        assert log.record_feedback(prediction_id, int(actual))
    log.close()


def log_requests(url: str, status: str, count: int) -> None:
    log = PredictionLog(url)
    for _ in range(count):
        log.record(RequestRecord(uuid.uuid4().hex, "test", status, 5.0, 1, "7"))
    log.close()


def test_true_outcomes_from_feedback_pass(predictor: Predictor, params: Params, store: str) -> None:
    feedback(store, serve(predictor, params, store, label_noise=0.0, seed=1))
    report = run_performance(params, labels=None)
    assert not report.alert, report.summary_line()
    assert report.outcomes == ROWS
    assert report.metrics["accuracy"] >= params.monitoring.min_accuracy
    assert report.summary_line().startswith("OK: accuracy ")
    written = json.loads(JSON_REPORT.read_text(encoding="utf-8"))
    assert written["alert"] is False
    assert set(written["metrics"]) == {"accuracy", "precision", "recall", "f1"}
    latency = {"p50": 2.0, "p95": 2.0, "p99": 2.0}
    assert written["health"] == {"requests": 1, "errors": 0, "error_rate": 0.0, "latency_ms": latency}
    assert Path("reports/performance.html").stat().st_size > 100_000


def test_degraded_outcomes_from_a_labels_file_alert(predictor: Predictor, params: Params, store: str) -> None:
    serve(predictor, params, store, label_noise=0.45, seed=2).to_csv("labels.csv", index=False)
    report = run_performance(params, labels=Path("labels.csv"))
    assert report.alert
    assert report.metrics["accuracy"] < params.monitoring.min_accuracy
    assert any(alert.startswith("accuracy ") for alert in report.alerts)
    assert report.summary_line().startswith("ALERT (")
    assert json.loads(JSON_REPORT.read_text(encoding="utf-8"))["alert"] is True


def test_service_errors_alert(predictor: Predictor, params: Params, store: str) -> None:
    feedback(store, serve(predictor, params, store, label_noise=0.0, seed=3))
    log_requests(store, "ok", 80)
    log_requests(store, "error", 19)  # 19 of 100 requests failed on our side
    report = run_performance(params, labels=None)
    assert report.alert
    assert report.alerts == ["error rate 19.0% > 5.0%"]
    assert report.health.error_rate == pytest.approx(0.19)


def test_cli_exits_1_on_alert(predictor: Predictor, params: Params, store: str) -> None:
    serve(predictor, params, store, label_noise=0.45, seed=4).to_csv("labels.csv", index=False)
    result = run_cli("performance", "--labels", "labels.csv")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("ALERT (")


def test_no_outcomes_is_a_clear_error(predictor: Predictor, params: Params, store: str) -> None:
    serve(predictor, params, store, label_noise=0.0, seed=5)
    result = run_cli("performance")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no outcomes yet")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda labels: labels.drop(columns=["actual"]), "missing column"),
        (lambda labels: labels.assign(prediction_id="unknown"), "none of its 1 prediction ids"),
        (lambda labels: labels.assign(actual="yes"), "not a class of"),
        (lambda labels: labels.head(0), "no outcomes in the file"),
    ],
    ids=["missing-column", "unknown-ids", "unknown-class", "empty"],
)
def test_unusable_labels_file_is_a_clear_error(
    predictor: Predictor, params: Params, store: str, change, message: str
) -> None:
    change(serve(predictor, params, store, label_noise=0.0, seed=6)).to_csv("labels.csv", index=False)
    with pytest.raises(ProjectError, match=message):
        run_performance(params, labels=Path("labels.csv"))
