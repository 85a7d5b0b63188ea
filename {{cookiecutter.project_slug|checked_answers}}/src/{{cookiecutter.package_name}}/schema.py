"""The data schema (features, types, bounds, target) from params.yaml, enforced on every frame we accept.

Training, the service's request validation and the monitoring jobs all call `validate_frame`, so a column means
the same thing everywhere.
"""

from __future__ import annotations

import math

import pandas as pd

from .config import Bounds, DataParams
from .errors import DataValidationError

MISSING_CATEGORY = "missing"


def validate_frame(
    frame: pd.DataFrame,
    data: DataParams,
    *,
    require_target: bool,
    allow_extra_columns: bool = True,
) -> pd.DataFrame:
    """Return the schema's columns with their types coerced, or raise DataValidationError naming the column.

    Missing feature values are allowed: numbers are imputed by the model, a missing category becomes
    MISSING_CATEGORY. Wrong types and out-of-bounds values are refused.
    """
    expected = [*data.features, data.target] if require_target else list(data.features)
    missing = [column for column in expected if column not in frame.columns]
    if missing:
        raise DataValidationError(f"missing column(s): {', '.join(missing)}")
    if not allow_extra_columns:
        extra = [column for column in frame.columns if column not in expected and column != data.target]
        if extra:
            raise DataValidationError(f"unexpected column(s): {', '.join(map(str, extra))}")
    if frame.empty:
        raise DataValidationError("no rows to work with")

    clean = pd.DataFrame(index=frame.index)
    for column, bounds in data.numeric_features.items():
        clean[column] = _numeric(frame[column], column)
        _check_bounds(clean[column], column, bounds.min, bounds.max)
    for column in data.categorical_features:
        values = frame[column]
        clean[column] = values.astype(str).where(values.notna(), MISSING_CATEGORY).astype(object)
    if require_target:
        clean[data.target] = _numeric(frame[data.target], data.target) if data.regression else frame[data.target]
    return clean


def _numeric(values: pd.Series, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & numbers.isna()
    if bad.any():
        example = values[bad].iloc[0]
        raise DataValidationError(f"column {column!r} must be numeric; found {example!r} ({int(bad.sum())} rows)")
    return numbers.astype("float64")


def check_number(number: float, where: str, bounds: Bounds) -> float:
    """One value against its column's rule (finite, within bounds): what `validate_frame` applies column-wise."""
    if not math.isfinite(number):
        raise DataValidationError(f"{where} must be a finite number; got {number}")
    if (bounds.min is not None and number < bounds.min) or (bounds.max is not None and number > bounds.max):
        raise DataValidationError(f"{where} must lie within [{bounds.min}, {bounds.max}]; got {number}")
    return number


def _check_bounds(values: pd.Series, column: str, low: float | None, high: float | None) -> None:
    outside = pd.Series(False, index=values.index)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    if outside.any():
        example = values[outside].iloc[0]
        raise DataValidationError(
            f"column {column!r} must lie within [{low}, {high}]; found {example} ({int(outside.sum())} rows)"
        )


def number_or_text(text: str) -> float | str:
    """A CSV cell as a finite number when it reads as one, else the text itself (for validation to name)."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


OUTCOME_COLUMN = "actual"
"""Where a file of real outcomes holds them (what `simulate --labels` writes); else the target's own column."""


def outcome_column(frame: pd.DataFrame, data: DataParams, source: object) -> str:
    """The column of `frame` holding real outcomes next to `prediction_id`, or one line naming what is missing."""
    column = OUTCOME_COLUMN if OUTCOME_COLUMN in frame.columns else data.target
    needed = [name for name in ("prediction_id", column) if name not in frame.columns]
    if needed:
        wanted = f"prediction_id and {OUTCOME_COLUMN} or {data.target}"
        raise DataValidationError(f"{source}: missing column(s) {', '.join(needed)} (need {wanted})")
    return column


def outcome_from_text(text: str, data: DataParams) -> object:
    """A real outcome read as text (a CSV cell) in the target's own type: a number for regression, else the class's
    type, like the positive label's (text the service then refuses, naming the classes, when it is none of them)."""
    if data.regression:
        return number_or_text(text)
    if isinstance(data.positive_label, bool):
        lowered = text.strip().lower()
        return lowered == "true" if lowered in ("true", "false") else text
    if isinstance(data.positive_label, int):
        value = number_or_text(text)
        return int(value) if isinstance(value, float) and value.is_integer() else text
    return text
