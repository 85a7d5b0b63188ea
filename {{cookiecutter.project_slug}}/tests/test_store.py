"""The prediction store keeps every logged prediction, even when closed right after a burst."""

from __future__ import annotations

from pathlib import Path

from {{ cookiecutter.package_name }}.store import (
    PredictionLog,
    PredictionRecord,
    RequestRecord,
    read_outcomes,
    read_predictions,
    read_requests,
)


def log_burst(log: PredictionLog, requests: int) -> list[str]:
    ids = []
    for number in range(requests):
        inputs = {"age": number, "contract": "one-year"}
        prediction = PredictionRecord(f"p{number}", inputs, prediction=1, probability=0.9, model_version="3")
        log.record(RequestRecord(f"r{number}", "test", "ok", 1.5, 1, "3"), [prediction])
        ids.append(prediction.id)
    return ids


def test_close_drains_the_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    log = PredictionLog(url)
    log_burst(log, 2000)
    log.record(RequestRecord("bad", "test", "invalid", 0.3, 0, None))
    log.close()
    predictions = read_predictions(url)
    assert len(predictions) == 2000
    assert {"age", "contract", "model_version", "prediction"} <= set(predictions.columns)
    assert read_requests(url)["status"].value_counts().to_dict() == {"ok": 2000, "invalid": 1}


def test_feedback_joins_known_predictions_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    log = PredictionLog(url)
    ids = log_burst(log, 3)
    assert log.record_feedback(ids[0], 0)  # known even while still queued
    log.close()
    log = PredictionLog(url)
    assert log.record_feedback(ids[1], 1)
    assert not log.record_feedback("no-such-id", 1)
    log.close()
    outcomes = read_outcomes(url).sort_values("id")
    assert outcomes["actual"].tolist() == [0, 1]
    assert read_predictions(url, limit=2)["id"].tolist() == ["p1", "p2"]
