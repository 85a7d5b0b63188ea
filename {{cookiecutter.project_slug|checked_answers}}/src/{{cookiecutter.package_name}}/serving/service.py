"""The one way inputs become scored, logged predictions, whatever the serving style.

Every adapter (REST, gRPC, batch, Spark) only translates its wire format. Records that REST and gRPC validated
while parsing (per field, against the schema) go to `predict_records`; frames (batch, Spark) go to
`predict_frame`, which validates them with `schema.validate_frame`. Either way the input is validated once, then
scored by the champion, turned into one PredictionRecord per row, logged with its request to the prediction store
and counted by the telemetry. A request that produced no prediction (invalid input, no model, a failure) is logged
through `refused`, so the monitors' error rate sees it. Outcomes (`record_feedback`) are checked against the
model's classes (regression: a finite number) before they are stored: a typo can never poison the performance
monitor.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from ..config import DataParams
from ..errors import DataValidationError, ProjectError
from ..redaction import first_line
from ..schema import validate_frame
from ..store import PredictionRecord, PredictionStore, RequestRecord, utc_now

if TYPE_CHECKING:  # the model stack (scikit-learn, ONNX) loads with the champion, not with this module
    from ..predictor import Predictor, ScoredRows

logger = logging.getLogger(__name__)


class NotReadyError(ProjectError):
    """No model is loaded yet: the service answers, but cannot predict."""


class Telemetry(Protocol):
    """What serving/telemetry.py offers; batch and Spark run without one."""

    def observe(
        self, status: str, seconds: float, labels: Sequence[object] = (), values: Sequence[float] = ()
    ) -> None: ...
    def serving_model(self, version: str) -> None: ...


class PredictionService:
    def __init__(
        self,
        data: DataParams,
        source: str,
        store: PredictionStore | None,
        *,
        predictor: Predictor | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.data = data
        self.source = source
        self.store = store
        if data.regression and store is not None:
            store.require_missing_probabilities()
        self.telemetry = telemetry
        self.predictor: Predictor | None = None
        self.not_ready = "starting"
        if predictor is not None:
            self._serve(predictor)

    @property
    def model_version(self) -> str | None:
        return self.predictor.model_version if self.predictor else None

    def load(self, load: Callable[[], Predictor]) -> bool:
        """Load the champion; on failure keep serving without one, with the reason (redacted) in `not_ready`."""
        try:
            predictor = load()
        except Exception as error:  # no champion yet, registry unreachable, untrusted file, ...
            self.not_ready = first_line(error)
            logger.warning("not ready, no model loaded: %s", self.not_ready)
            return False
        self._serve(predictor)
        return True

    def require_predictor(self) -> Predictor:
        predictor = self.predictor
        if predictor is None:
            raise NotReadyError(f"model not loaded: {self.not_ready}")
        return predictor

    def predict_records(self, records: Sequence[Mapping[str, object]], started: float) -> ScoredRows:
        """Score records validated while parsing; `started` is when the request arrived (perf_counter)."""
        predictor = self._predictor_or_refuse(started, len(records))
        try:
            scored = predictor.score_records(records)
        except Exception:
            self.refused("error", started, len(records))
            raise
        self._log(started, [dict(record) for record in records], scored)
        return scored

    def predict_frame(self, frame: pd.DataFrame, started: float | None = None) -> ScoredRows:
        """Validate a frame against the schema (exactly its columns), score it and log it as one request."""
        started = time.perf_counter() if started is None else started
        predictor = self._predictor_or_refuse(started, len(frame))
        try:
            clean = validate_frame(frame, self.data, require_target=False, allow_extra_columns=False)
        except DataValidationError:
            self.refused("invalid", started, len(frame))
            raise
        try:
            scored = predictor.score_frame(clean)
        except Exception:
            self.refused("error", started, len(frame))
            raise
        if self.store is not None:  # what the store keeps: validated inputs, None where the input had no value
            inputs = clean.astype(object).where(frame[clean.columns].notna(), None).to_dict("records")
            self._log(started, inputs, scored)
        else:
            self._observe("ok", started, scored.labels)
        return scored

    def record_feedback(self, prediction_id: str, actual: object) -> bool:
        """Store the real outcome of a prediction; False for an unknown id, DataValidationError for an outcome the
        model cannot have predicted (an unknown class, or for regression not a finite number)."""
        value = self.require_predictor().known_outcome(actual)
        if self.store is None:
            raise NotReadyError("no prediction store to record outcomes in")
        return self.store.record_feedback(prediction_id, value)

    def refused(self, status: str, started: float, rows: int) -> None:
        """Log a request that produced no prediction: `invalid` (the client's fault) or `error` (ours)."""
        seconds = time.perf_counter() - started
        if self.store is not None:
            request = RequestRecord(uuid.uuid4().hex, self.source, status, seconds * 1000, rows, self.model_version)
            self.store.record(request)
        self._observe(status, started)

    def _predictor_or_refuse(self, started: float, rows: int) -> Predictor:
        try:
            return self.require_predictor()
        except NotReadyError:
            self.refused("error", started, rows)
            raise

    def _log(self, started: float, inputs: list[dict[str, object]], scored: ScoredRows) -> None:
        seconds = time.perf_counter() - started
        version, now = scored.model_version, utc_now()
        probabilities = scored.probabilities or [None] * len(scored.ids)  # a regressor's answers have none
        answers = zip(scored.ids, inputs, scored.labels, probabilities, strict=True)
        rows = [
            PredictionRecord(id_, row, label, probability, version, now) for id_, row, label, probability in answers
        ]
        if self.store is not None:
            request = RequestRecord(uuid.uuid4().hex, self.source, "ok", seconds * 1000, len(rows), version, now)
            self.store.record(request, rows)
        self._observe("ok", started, scored.labels)

    def _observe(self, status: str, started: float, predictions: Sequence[object] = ()) -> None:
        """Count the request; predicted classes are counted per class, a regressor's values summarised."""
        if self.telemetry is not None:
            seconds = time.perf_counter() - started
            if self.data.regression:
                self.telemetry.observe(status, seconds, values=[float(str(v)) for v in predictions])
            else:
                self.telemetry.observe(status, seconds, predictions)

    def _serve(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.not_ready = ""
        if self.telemetry is not None:
            self.telemetry.serving_model(predictor.model_version)
        logger.info("serving model version %s", predictor.model_version)
