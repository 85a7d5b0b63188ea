"""The one prediction core behind every serving style: the champion, checked as ONNX, scoring validated rows.

Rows come as records an API layer has validated while parsing (the fast path: no pandas on the request path) or as
a frame `schema.validate_frame` returned. Validation is not repeated here: `serving.service.PredictionService`
is the one caller, and it validates each input exactly once.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .champion import Champion, load_champion
from .config import DataParams, Params, load_params
from .errors import ConfigError, DataValidationError
from .model import training_medians
from .onnx_model import OnnxScorer, scorer_for
from .schema import MISSING_CATEGORY

PARITY_SAMPLE_ROWS = 256


@dataclass(frozen=True)
class ScoredRows:
    ids: list[str]
    labels: list[bool | int | str | float]
    """The predicted class of each row, or for regression the predicted value."""
    probabilities: list[float] | None
    """Probability of `data.positive_label` for two classes, of the predicted label otherwise; None for regression."""
    class_probabilities: list[dict[str, float]] | None
    """Every class's probability, keyed by the class as text (JSON keys are text): the whole distribution; None
    for regression."""
    model_version: str


def parity_sample(data: DataParams, rows: int = PARITY_SAMPLE_ROWS, seed: int = 0) -> pd.DataFrame:
    """Rows spread over the schema (bounds, known and unknown categories, missing values), no data file needed."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(index=range(rows))
    for name, bounds in data.numeric_features.items():
        low = bounds.min if bounds.min is not None else -1000.0
        high = bounds.max if bounds.max is not None else 1000.0
        top = min(high, low + 1000.0)
        places = 2 + max(0, -math.floor(math.log10(top - low))) if top > low else 2  # 0.01 of a span of 1
        spread = np.clip(np.round(rng.uniform(low, top, rows), places), low, high)  # rounding stays in bounds
        frame[name] = np.where(rng.uniform(size=rows) < 0.1, np.nan, spread)
    for name, known in data.categorical_features.items():
        frame[name] = rng.choice([*known, MISSING_CATEGORY, "unseen"], rows)
    return frame


class Predictor:
    def __init__(self, champion: Champion, data: DataParams) -> None:
        scorer = scorer_for(champion.model, data, parity_sample(data))
        # each numeric column's training median: what the model imputes, and what a typical row holds
        medians = training_medians(champion.model) if data.numeric_features else {}
        self._setup(scorer, data, champion.version, medians)

    @classmethod
    def from_onnx(cls, onnx_bytes: bytes, classes: list, version: str, data: DataParams) -> Predictor:
        """A predictor for a graph another process converted and parity-checked (`scorer.onnx_bytes` and
        `scorer.classes` of a Predictor built from the champion): no scikit-learn object involved, so no medians.
        Spark's executors build theirs this way from what the driver ships."""
        predictor = cls.__new__(cls)
        predictor._setup(OnnxScorer(onnx_bytes, data, classes), data, version, {})
        return predictor

    def _setup(self, scorer: OnnxScorer, data: DataParams, version: str, medians: dict[str, float]) -> None:
        self.data = data
        self.model_version = version
        self.scorer: OnnxScorer = scorer
        classes = self.scorer.classes
        if bool(classes) == data.regression:
            raise ConfigError(
                f"the champion is a {'classifier' if classes else 'regressor'} but data.task is {data.task}:"
                " run `dvc repro` to train one for params.yaml"
            )
        self._positive = classes.index(data.positive_label) if len(classes) == 2 else None
        self._classes = {str(known): known.item() if isinstance(known, np.generic) else known for known in classes}
        self.class_names = list(self._classes)
        self.medians = medians

    @classmethod
    def from_champion(cls, params: Params | None = None) -> Predictor:
        return cls(load_champion(), (params or load_params()).data)

    def known_outcome(self, value: object) -> bool | int | str | float:
        """A real outcome checked against what the model predicts: a class, or for regression a finite number."""
        if not self.data.regression:
            return self.known_class(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise DataValidationError(
                f"actual must be a finite number (the real value of {self.data.target!r}); got {value!r}"
            )
        return float(value)

    def known_class(self, value: object) -> int | str:
        """The model's class that `value` names (the class or its text form: `1` or "1", `true` or "True"), or
        DataValidationError. A boolean names only a boolean class (`true` is not the class 1).

        Returned as a plain Python value of the class's own type, so outcomes join with the logged predictions.
        """
        if (isinstance(value, bool) and not self.scorer.boolean) or str(value) not in self._classes:
            allowed = ", ".join(self._classes)
            raise DataValidationError(f"actual must be one of the model's classes ({allowed}); got {value!r}")
        return self._classes[str(value)]

    def score_frame(self, clean: pd.DataFrame) -> ScoredRows:
        """Score a frame `schema.validate_frame` returned."""
        return self._score(self.scorer.columns_from_frame(clean))

    def score_records(self, records: Sequence[Mapping[str, object]]) -> ScoredRows:
        """Score records already validated against the schema (numbers or None, strings or None)."""
        columns = {
            name: np.array([[np.nan if r[name] is None else r[name]] for r in records], dtype=np.float32)
            for name in self.data.numeric_features
        }
        columns |= {
            name: np.array([[MISSING_CATEGORY if r[name] is None else r[name]] for r in records], dtype=object)
            for name in self.data.categorical_features
        }
        return self._score(columns)

    def _score(self, columns: dict[str, np.ndarray]) -> ScoredRows:
        labels, probabilities = self.scorer.run(columns)
        ids = [uuid.uuid4().hex for _ in range(len(labels))]
        if probabilities is None:  # a regressor: one value per row
            return ScoredRows(ids, labels.tolist(), None, None, self.model_version)
        chosen = probabilities.max(axis=1) if self._positive is None else probabilities[:, self._positive]
        return ScoredRows(
            ids=ids,
            labels=labels.tolist(),
            probabilities=chosen.astype(float).tolist(),
            class_probabilities=[dict(zip(self.class_names, row, strict=True)) for row in probabilities.tolist()],
            model_version=self.model_version,
        )
