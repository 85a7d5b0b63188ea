"""Loading and validation: the schema in params.yaml is enforced with clear errors."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import prepare, read_csv
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.schema import validate_frame


def test_bundled_data_has_numeric_categorical_and_missing_values(params: Params) -> None:
    frame = read_csv(params.data.path)
    assert set(params.data.features) <= set(frame.columns)
    assert frame[list(params.data.numeric_features)].isna().any().any()
    assert frame[list(params.data.categorical_features)].isna().any().any()


def test_prepare_splits_stratified_without_losing_rows(params: Params) -> None:
    prepared = prepare(params.data)
    total = len(read_csv(params.data.path))
    assert len(prepared.train) + len(prepared.test) + prepared.dropped_rows == total
    assert abs(len(prepared.test) / (total - prepared.dropped_rows) - params.data.test_size) < 0.01
    target = params.data.target
    assert abs(prepared.train[target].mean() - prepared.test[target].mean()) < 0.02


def test_missing_column_is_named(params: Params) -> None:
    frame = read_csv(params.data.path).drop(columns=["contract"])
    with pytest.raises(DataValidationError, match=r"missing column.*contract"):
        validate_frame(frame, params.data, require_target=True)


def test_text_in_numeric_column_is_refused(params: Params) -> None:
    frame = read_csv(params.data.path)
    frame["age"] = frame["age"].astype(object)
    frame.loc[0, "age"] = "forty"
    with pytest.raises(DataValidationError, match="'age' must be numeric; found 'forty'"):
        validate_frame(frame, params.data, require_target=True)


def test_out_of_bounds_value_is_refused(params: Params) -> None:
    frame = read_csv(params.data.path)
    frame.loc[0, "age"] = 400
    with pytest.raises(DataValidationError, match="'age' must lie within"):
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


def test_categorical_values_become_text(params: Params) -> None:
    frame = pd.DataFrame([{**dict.fromkeys(params.data.features, 1), "churned": 0}])
    clean = validate_frame(frame, params.data, require_target=True)
    assert clean["contract"].iloc[0] == "1"
