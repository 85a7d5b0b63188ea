"""The REST API's request and response models, generated from the schema in params.yaml when the service starts.

One field per feature with its real type (a bounded number or a short string, either may be null), so bad input
is refused with a 422 naming the field before it reaches the model, and /openapi.json documents the exact
contract. Field names are aliases: any column name in params.yaml works, even one that is not an identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..config import Bounds, DataParams, positive_int_from_env

MAX_BATCH_SIZE_ENV = "MAX_BATCH_SIZE"
DEFAULT_MAX_BATCH_SIZE = 1000
MAX_CATEGORY_LENGTH = 200
FLOAT32_MAX = float(np.finfo(np.float32).max)  # the model sees float32: larger numbers would become inf
PREDICTION_ID_PATTERN = r"^[0-9a-f]{32}$"

_STRICT = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class RequestModels:
    instance: type[BaseModel]
    predict_request: type[BaseModel]
    predict_response: type[BaseModel]
    feedback_request: type[BaseModel]
    max_batch_size: int


def max_batch_size_from_env() -> int:
    return positive_int_from_env(MAX_BATCH_SIZE_ENV, DEFAULT_MAX_BATCH_SIZE)


def build_request_models(data: DataParams, max_batch_size: int) -> RequestModels:
    instance = _instance_model(data)
    label = label_type(data)
    predict_request = create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": [{"instances": [_example_row(data)]}]}),
        __doc__=f"Rows to score: 1 to {max_batch_size} instances per request.",
        instances=(list[instance], Field(min_length=1, max_length=max_batch_size)),
    )
    predict_response = create_model(
        "PredictResponse", __doc__="One entry per instance, in the order sent.", **_answer_fields(data, label)
    )
    feedback_request = create_model(
        "FeedbackRequest",
        __config__=_STRICT,
        __doc__="The actual outcome of an earlier prediction, for performance monitoring.",
        prediction_id=(str, Field(pattern=PREDICTION_ID_PATTERN, description="An id returned by /predict.")),
        actual=(label, Field(strict=True, description=f"The real value of {data.target!r}.")),
    )
    return RequestModels(instance, predict_request, predict_response, feedback_request, max_batch_size)


def _answer_fields(data: DataParams, label: Any) -> dict[str, Any]:
    """What each instance's answer holds: a class with its probabilities, or a regressor's one number."""
    if data.regression:
        predictions = (list[float], Field(description=f"Predicted value of {data.target!r} for each instance."))
        spread: dict[str, Any] = {}
    else:
        predictions = (list[label], Field(description="Predicted class of each instance."))
        about = f"Probability of class {data.positive_label!r} (two classes), else of the predicted class."
        spread = {
            "probabilities": (list[float], Field(description=about)),
            "class_probabilities": (
                list[dict[str, float]],
                Field(description="Every class's probability, keyed by the class as text; each instance's sum to 1."),
            ),
        }
    return {
        "predictions": predictions,
        **spread,
        "prediction_ids": (list[str], Field(description="Ids to send actual outcomes to /feedback with.")),
        "model_version": (str, Field(description="Version of the champion model that answered.")),
    }


def label_type(data: DataParams) -> Any:
    """The target's type as JSON carries it: a boolean, an integer or a short string, like the positive label; a
    finite number for regression."""
    if data.regression:
        return Annotated[float, Field(allow_inf_nan=False)]
    if isinstance(data.positive_label, bool):
        return bool
    if isinstance(data.positive_label, int):
        return int
    return Annotated[str, Field(max_length=MAX_CATEGORY_LENGTH)]


def _instance_model(data: DataParams) -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for index, (name, bounds) in enumerate(data.numeric_features.items()):
        low, high = _limits(bounds)
        number = Field(
            alias=name,
            ge=low,
            le=high,
            strict=True,  # a number, not a numeric string or a boolean
            allow_inf_nan=False,
            description=f"Number in [{low:g}, {high:g}]; null when unknown.",
            examples=[_example_number(low, high)],
        )
        fields[f"numeric_{index}"] = (float | None, number)
    for index, (name, known) in enumerate(data.categorical_features.items()):
        category = Field(
            alias=name,
            max_length=MAX_CATEGORY_LENGTH,
            strict=True,
            description=f"Known values: {', '.join(known)}. Other values are accepted (scored as unseen); "
            "null when unknown.",
            examples=known[:1],
        )
        fields[f"categorical_{index}"] = (str | None, category)
    return create_model(
        "Instance", __config__=_STRICT, __doc__="One row: every feature of the schema, null when missing.", **fields
    )


def _limits(bounds: Bounds) -> tuple[float, float]:
    """The bounds from params.yaml; float32's range where none is given."""
    low = bounds.min if bounds.min is not None else -FLOAT32_MAX
    high = bounds.max if bounds.max is not None else FLOAT32_MAX
    return low, high


def _example_number(low: float, high: float) -> float:
    start = low if low > -FLOAT32_MAX else min(0.0, high)
    return round(start + (min(high, start + 100.0) - start) / 2, 2)


def typical_row(data: DataParams, medians: dict[str, float]) -> dict[str, object]:
    """A valid instance that reads like the data: the training medians, each category's first known value."""
    row: dict[str, object] = {}
    for name, bounds in data.numeric_features.items():
        median = medians.get(name)  # None (missing, imputed) for a column the champion never saw
        if median is not None:  # within bounds even if params.yaml narrowed them after training
            median = float(f"{median:.6g}")
            median = max(median, bounds.min) if bounds.min is not None else median
            median = min(median, bounds.max) if bounds.max is not None else median
        row[name] = median
    return row | {name: known[0] if known else None for name, known in data.categorical_features.items()}


def _example_row(data: DataParams) -> dict[str, object]:
    row: dict[str, object] = {name: _example_number(*_limits(b)) for name, b in data.numeric_features.items()}
    row |= {name: known[0] if known else None for name, known in data.categorical_features.items()}
    return row
