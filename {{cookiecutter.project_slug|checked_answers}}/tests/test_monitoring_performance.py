"""The performance job on outcomes joined to predictions made by the real prediction service: good outcomes pass,
degraded ones alert, a failing service alerts, too few outcomes are no verdict, and missing or wrong outcomes are a
clear one-line error."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.errors import ProjectError, StoreError
from {{ cookiecutter.package_name }}.monitoring.drift import run_drift
from {{ cookiecutter.package_name }}.monitoring.performance import (
    JSON_REPORT,
    run_performance,
)
from {{ cookiecutter.package_name }}.monitoring.simulate import ACTUAL_COLUMN, simulate
from {{ cookiecutter.package_name }}.store import PredictionStore, RequestRecord

ROWS = 300
pytestmark = pytest.mark.usefixtures("prepared")


def serve(log_predictions, params: Params, url: str, *, label_noise: float, seed: int) -> pd.DataFrame:
    """Score simulated rows through the prediction service; return the outcomes with their prediction ids."""
    simulate(params, Path("rows.csv"), rows=ROWS, drift=False, labels=True, label_noise=label_noise, seed=seed)
    rows = pd.read_csv("rows.csv")
    scored = log_predictions(rows[params.data.features], url)
    return pd.DataFrame({"prediction_id": scored.ids, "actual": rows[ACTUAL_COLUMN]})


def feedback(url: str, outcomes: pd.DataFrame) -> None:
    log = PredictionStore.writer(url)
    for prediction_id, actual in outcomes.itertuples(index=False):
        assert log.record_feedback(prediction_id, actual.item() if hasattr(actual, "item") else actual)
    log.close()


def log_requests(url: str, status: str, count: int) -> None:
    log = PredictionStore.writer(url)
    for _ in range(count):
        log.record(RequestRecord(uuid.uuid4().hex, "test", status, 5.0, 1, "7"))
    log.close()


@pytest.mark.classification
def test_true_outcomes_from_feedback_pass(log_predictions, params: Params, store: str) -> None:
    feedback(store, serve(log_predictions, params, store, label_noise=0.0, seed=1))
    report = run_performance(params, labels=None)
    assert not report.alert, report.summary_line()
    assert report.outcomes == ROWS
    assert report.metrics["accuracy"] >= params.monitoring.min_accuracy
    assert report.summary_line().startswith("OK: accuracy ")
    written = json.loads(JSON_REPORT.read_text(encoding="utf-8"))
    assert written["alert"] is False
    assert set(written["metrics"]) == {"accuracy", "precision", "recall", "f1"}
    health = written["health"]
    assert (health["requests"], health["errors"], health["error_rate"]) == (1, 0, 0.0)
    assert set(health["latency_ms"]) == {"p50", "p95", "p99"}
    assert 0 < health["latency_ms"]["p50"] <= health["latency_ms"]["p99"]
    assert Path("reports/performance.html").stat().st_size > 100_000


@pytest.mark.classification
def test_degraded_outcomes_from_a_labels_file_alert(log_predictions, params: Params, store: str) -> None:
    serve(log_predictions, params, store, label_noise=0.45, seed=2).to_csv("labels.csv", index=False)
    report = run_performance(params, labels=Path("labels.csv"))
    assert report.alert
    assert report.metrics["accuracy"] < params.monitoring.min_accuracy
    assert any(alert.startswith("accuracy ") for alert in report.alerts)
    assert report.summary_line().startswith("ALERT (")
    assert json.loads(JSON_REPORT.read_text(encoding="utf-8"))["alert"] is True


def test_service_errors_alert(log_predictions, params: Params, store: str) -> None:
    feedback(store, serve(log_predictions, params, store, label_noise=0.0, seed=3))
    log_requests(store, "ok", 80)
    log_requests(store, "error", 19)  # 19 of 100 requests failed on our side
    report = run_performance(params, labels=None)
    assert report.alert
    assert report.alerts == ["error rate 19.0% > 5.0%"]
    assert report.health.error_rate == pytest.approx(0.19)


@pytest.mark.classification
def test_cli_exits_1_on_alert(log_predictions, params: Params, store: str, cli) -> None:
    serve(log_predictions, params, store, label_noise=0.45, seed=4).to_csv("labels.csv", index=False)
    result = cli("performance", "--labels", "labels.csv")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("ALERT (")


def test_no_outcomes_is_a_clear_error(log_predictions, params: Params, store: str, cli) -> None:
    serve(log_predictions, params, store, label_noise=0.0, seed=5)
    result = cli("performance")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no outcomes yet")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.classification
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
    log_predictions, params: Params, store: str, change, message: str
) -> None:
    change(serve(log_predictions, params, store, label_noise=0.0, seed=6)).to_csv("labels.csv", index=False)
    with pytest.raises(ProjectError, match=message):
        run_performance(params, labels=Path("labels.csv"))


@pytest.mark.classification
def test_too_few_outcomes_are_no_verdict(log_predictions, params: Params, store: str, cli) -> None:
    """One wrong outcome is accuracy 0.000: with fewer than monitoring.min_outcomes the job does not judge (exit 0)."""
    outcomes = serve(log_predictions, params, store, label_noise=1.0, seed=7).head(1)  # every outcome flipped
    feedback(store, outcomes)
    result = cli("performance")
    assert result.returncode == 0, result.stderr
    assert "not enough outcomes: 1 of the 30 needed" in result.stdout
    written = json.loads(JSON_REPORT.read_text(encoding="utf-8"))
    assert written["alert"] is False
    assert written["outcomes"] == 1
    assert written["metrics"]["accuracy"] is None
    assert written["min_outcomes"] == params.monitoring.min_outcomes


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql+mysqldb://monitor:s3cret@127.0.0.1:1/predictions", "database driver (MySQLdb) is not installed"),
        ("postgresql+psycopg://monitor:s3cret@127.0.0.1:1/predictions", "connection failed"),  # no server there
        ("sqlite:///{workspace}", "is a directory, not a database file"),
        ("sqlite:///{workspace}/params.yaml", "file is not a database"),
        ("not a url at all", "not a database URL"),
    ],
    ids=["missing-driver", "server-down", "directory", "not-a-database", "malformed"],
)
def test_unusable_store_url_is_one_line_without_its_password(
    params: Params, workspace: Path, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("PREDICTION_STORE_URL", url.format(workspace=workspace))
    for job in (lambda: run_performance(params, labels=None), lambda: run_drift(params, current=None, window=100)):
        with pytest.raises(StoreError, match=re.escape(message)) as error:
            job()
        assert "s3cret" not in str(error.value)
        assert len(str(error.value).splitlines()) == 1


def test_cli_exits_2_not_1_when_the_store_driver_is_missing(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, cli
) -> None:
    """A store whose driver is not installed (the monitoring extra brings PostgreSQL's, not MySQL's) is a broken
    setup (2), never an alert (1)."""
    monkeypatch.setenv("PREDICTION_STORE_URL", "mysql+mysqldb://monitor:s3cret@127.0.0.1:1/predictions")
    result = cli("performance")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (
        "error: cannot open the prediction store (PREDICTION_STORE_URL=mysql+mysqldb://***@127.0.0.1:1/predictions):"
        " its database driver (MySQLdb) is not installed\n"
    )
