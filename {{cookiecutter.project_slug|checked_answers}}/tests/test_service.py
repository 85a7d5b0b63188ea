"""The PredictionService: the one way inputs become scored, logged predictions, for every serving style."""

from __future__ import annotations

import re
import time

import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.serving.service import NotReadyError, PredictionService
from {{ cookiecutter.package_name }}.store import PredictionStore, read_outcomes, read_predictions, read_requests


@pytest.mark.classification
def test_a_frame_is_validated_scored_and_logged_once(predictor: Predictor, params: Params, store: str) -> None:
    frame = parity_sample(params.data, rows=12)
    with PredictionStore.writer(store) as log:
        scored = PredictionService(params.data, "test", log, predictor=predictor).predict_frame(frame)
    logged = read_predictions(store)
    assert logged["id"].tolist() == scored.ids
    assert logged["prediction"].tolist() == scored.labels
    assert logged["probability"].tolist() == pytest.approx(scored.probabilities)
    missing = frame.isna()
    for column in params.data.features:  # inputs as sent: None where the row had no value
        assert logged[column].isna().tolist() == missing[column].tolist()
    requests = read_requests(store)
    assert requests[["source", "status", "rows", "model_version"]].values.tolist() == [["test", "ok", 12, "7"]]


def test_bad_frames_are_refused_and_logged_as_invalid(predictor: Predictor, params: Params, store: str) -> None:
    frame = parity_sample(params.data, rows=3)
    with PredictionStore.writer(store) as log:
        service = PredictionService(params.data, "test", log, predictor=predictor)
        with pytest.raises(DataValidationError, match="missing column"):
            service.predict_frame(frame.drop(columns=[params.data.features[0]]))
        with pytest.raises(DataValidationError, match="unexpected column"):
            service.predict_frame(frame.assign(extra=1))
    assert read_predictions(store).empty
    assert read_requests(store)["status"].tolist() == ["invalid", "invalid"]


def test_without_a_model_nothing_is_scored_and_the_reason_is_redacted(params: Params, store: str) -> None:
    def unreachable() -> Predictor:
        raise RuntimeError("cannot reach http://admin:hunter2@mlflow.internal:5000/api")

    with PredictionStore.writer(store) as log:
        service = PredictionService(params.data, "test", log)
        assert not service.load(unreachable)
        assert "hunter2" not in service.not_ready
        assert "http://***@mlflow.internal:5000" in service.not_ready
        with pytest.raises(NotReadyError, match="model not loaded"):
            service.predict_records([], time.perf_counter())
        with pytest.raises(NotReadyError):
            service.record_feedback("0" * 32, 1)
    assert read_requests(store)["status"].tolist() == ["error"]


@pytest.mark.classification
def test_feedback_must_be_a_known_class(
    predictor: Predictor, params: Params, store: str, classes: list, wrong_class: tuple
) -> None:
    wrong, message = wrong_class
    with PredictionStore.writer(store) as log:
        service = PredictionService(params.data, "test", log, predictor=predictor)
        scored = service.predict_frame(parity_sample(params.data, rows=2))
        with pytest.raises(DataValidationError, match=f"^{re.escape(message)}$"):
            service.record_feedback(scored.ids[0], wrong)
        assert service.record_feedback(scored.ids[0], str(classes[-1]))  # text of a class is that class
        assert not service.record_feedback("f" * 32, classes[0])
    assert read_outcomes(store)["actual"].tolist() == [classes[-1]]


def test_a_full_queue_makes_record_wait_instead_of_growing(
    predictor: Predictor, params: Params, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backpressure: with room for 10 rows, 40 logged rows still all arrive, and never more than 10 wait."""
    from {{ cookiecutter.package_name }} import store as store_module

    monkeypatch.setattr(store_module, "MAX_PENDING_ROWS", 10)
    most = 0
    with PredictionStore.writer(store) as log:
        service = PredictionService(params.data, "test", log, predictor=predictor)
        for _ in range(10):
            service.predict_frame(parity_sample(params.data, rows=3))
            most = max(most, log._pending_rows)
    assert most <= 10
    assert len(read_predictions(store)) == 30
