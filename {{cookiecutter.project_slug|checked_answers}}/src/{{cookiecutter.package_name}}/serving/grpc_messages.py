"""Protobuf messages <-> the prediction core's records and labels, checked against the schema in params.yaml.

The .proto cannot name the features (params.yaml can change without a new .proto), so each instance is a map of
feature name to Value, and this module enforces what a typed message would have: every schema feature present,
no other, numbers for numeric features (finite, within their bounds), text for categorical ones. A Value with
neither field set is a missing value, which the model imputes. Errors name the field: `instances[2].age ...`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..config import Bounds, DataParams
from ..errors import DataValidationError
from ..schema import check_number
from . import prediction_pb2

Record = dict[str, float | str | None]
"""One validated row, as `PredictionService.predict_records` takes it: numbers or None, strings or None."""


def records_from_request(request: prediction_pb2.PredictRequest, data: DataParams) -> list[Record]:
    """The request's instances as validated records, or DataValidationError naming the first bad field."""
    if not request.instances:
        raise DataValidationError("instances: send at least one instance")
    return [_record(instance, f"instances[{index}]", data) for index, instance in enumerate(request.instances)]


def _record(instance: prediction_pb2.Instance, where: str, data: DataParams) -> Record:
    given = instance.features
    unknown = sorted(set(given) - set(data.features))
    if unknown:
        raise DataValidationError(
            f"{where}: unknown feature(s) {', '.join(map(repr, unknown))}; the schema has {', '.join(data.features)}"
        )
    missing = [name for name in data.features if name not in given]
    if missing:
        raise DataValidationError(
            f"{where}: missing feature(s) {', '.join(map(repr, missing))}"
            " (for a missing value send the feature with an empty Value)"
        )
    record: Record = {
        name: _number(given[name], f"{where}.{name}", bounds) for name, bounds in data.numeric_features.items()
    }
    record |= {name: _text(given[name], f"{where}.{name}") for name in data.categorical_features}
    return record


def _number(value: prediction_pb2.Value, where: str, bounds: Bounds) -> float | None:
    kind = value.WhichOneof("kind")
    if kind is None:
        return None
    if kind != "number":
        raise DataValidationError(f"{where} must be a number; got text {value.text!r}")
    return check_number(value.number, where, bounds)


def _text(value: prediction_pb2.Value, where: str) -> str | None:
    kind = value.WhichOneof("kind")
    if kind is None:
        return None
    if kind != "text":
        raise DataValidationError(f"{where} must be text (a category); got number {value.number}")
    return value.text


def instance_message(row: Mapping[str, object], data: DataParams) -> prediction_pb2.Instance:
    """A row (e.g. from a CSV) as an Instance of the schema's features; None or NaN becomes a missing value.

    Numeric features are sent as numbers when they parse as one and as text otherwise, so the server, not the
    client, decides what is valid and says why.
    """
    instance = prediction_pb2.Instance()
    for name in data.features:
        if name not in row:
            continue  # the server names every missing feature
        value = instance.features[name]  # an empty Value: a missing value unless set below
        raw = row[name]
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            continue
        if name in data.numeric_features:
            try:
                value.number = float(raw)  # numbers and numeric text
            except (TypeError, ValueError):
                value.text = str(raw)
        else:
            value.text = str(raw)
    return instance


def label_message(label: object) -> prediction_pb2.Label:
    """What the model returns: a class (an integer or a string) or a regressor's number."""
    if isinstance(label, int) and not isinstance(label, bool):
        return prediction_pb2.Label(integer=label)
    if isinstance(label, float):
        return prediction_pb2.Label(number=label)
    return prediction_pb2.Label(text=str(label))


def label_value(label: prediction_pb2.Label) -> int | str | float | None:
    kind = label.WhichOneof("kind")
    return None if kind is None else getattr(label, kind)
