"""Loading and validation: the schema in params.yaml is enforced with clear errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import prepare, read_csv
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.schema import MISSING_CATEGORY, validate_frame


def test_missing_values_are_kept_for_the_model(params: Params) -> None:
    frame = read_csv(params.data.path)
    assert set(params.data.features) <= set(frame.columns)
    frame.loc[0, params.data.features] = None
    clean = validate_frame(frame, params.data, require_target=True)
    assert clean.loc[0, list(params.data.numeric_features)].isna().all()  # imputed by the model
    assert (clean.loc[0, list(params.data.categorical_features)] == MISSING_CATEGORY).all()


@pytest.mark.classification
def test_prepare_splits_stratified_without_losing_rows(params: Params) -> None:
    prepared = prepare(params.data)
    total = len(read_csv(params.data.path))
    assert len(prepared.train) + len(prepared.test) + prepared.dropped_rows == total
    assert abs(len(prepared.test) / (total - prepared.dropped_rows) - params.data.test_size) < 0.01
    target = params.data.target
    shares = [split[target].value_counts(normalize=True) for split in (prepared.train, prepared.test)]
    assert (shares[0] - shares[1]).abs().max() <= 1 / len(prepared.test) + 0.01  # stratified: same class mix


def test_missing_column_is_named(params: Params) -> None:
    column = params.data.features[-1]
    frame = read_csv(params.data.path).drop(columns=[column])
    with pytest.raises(DataValidationError, match=rf"missing column.*{re.escape(column)}"):
        validate_frame(frame, params.data, require_target=True)


def test_text_in_numeric_column_is_refused(params: Params, numeric_column: str) -> None:
    frame = read_csv(params.data.path)
    frame[numeric_column] = frame[numeric_column].astype(object)
    frame.loc[0, numeric_column] = "forty"
    with pytest.raises(DataValidationError, match=f"{re.escape(repr(numeric_column))} must be numeric; found 'forty'"):
        validate_frame(frame, params.data, require_target=True)


def test_out_of_bounds_value_is_refused(params: Params) -> None:
    bounded = {name: bounds for name, bounds in params.data.numeric_features.items() if bounds.max is not None}
    if not bounded:
        pytest.skip("no numeric feature has an upper bound in params.yaml")
    column, bounds = next(iter(bounded.items()))
    frame = read_csv(params.data.path)
    frame.loc[0, column] = bounds.max + abs(bounds.max) + 1
    with pytest.raises(DataValidationError, match=f"{re.escape(repr(column))} must lie within"):
        validate_frame(frame, params.data, require_target=True)


def test_empty_frame_is_refused(params: Params) -> None:
    frame = read_csv(params.data.path).head(0)
    with pytest.raises(DataValidationError, match="no rows"):
        validate_frame(frame, params.data, require_target=True)


def test_extra_columns_refused_only_when_asked(params: Params) -> None:
    frame = read_csv(params.data.path).assign(customer_id=1)
    assert "customer_id" not in validate_frame(frame, params.data, require_target=True)
    with pytest.raises(DataValidationError, match=r"unexpected column.*customer_id"):
        validate_frame(frame, params.data, require_target=True, allow_extra_columns=False)


def test_unreadable_csv_is_one_line_error(params: Params, workspace) -> None:
    bad = workspace / "bad.csv"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataValidationError, match="not a readable CSV"):
        read_csv(bad)


def test_rows_without_target_are_dropped_and_counted(params: Params) -> None:
    frame = read_csv(params.data.path)
    frame.loc[:9, params.data.target] = None
    frame.to_csv(params.data.path, index=False)
    assert prepare(params.data).dropped_rows == 10


def test_categorical_values_become_text(params: Params, categorical_column: str) -> None:
    frame = pd.DataFrame([{**dict.fromkeys(params.data.features, 1), params.data.target: params.data.positive_label}])
    clean = validate_frame(frame, params.data, require_target=True)
    assert clean[categorical_column].iloc[0] == "1"
