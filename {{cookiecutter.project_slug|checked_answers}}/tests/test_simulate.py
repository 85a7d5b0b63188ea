"""Simulated traffic: valid rows like the data, a drift that really moves the inputs, outcomes degraded on request."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import (
    TEST_FILE,
    TRAIN_FILE,
    prepare,
    write_prepared,
)
from {{ cookiecutter.package_name }}.monitoring.simulate import ACTUAL_COLUMN, simulate
from {{ cookiecutter.package_name }}.schema import MISSING_CATEGORY, validate_frame


@pytest.fixture
def prepared(params: Params) -> Params:
    write_prepared(prepare(params.data))
    return params


ROWS = 400


def population(params: Params) -> Path:
    """Where simulate draws from: the holdout when it has the rows asked for, else the whole dataset."""
    return TEST_FILE if len(pd.read_csv(TEST_FILE)) >= ROWS else params.data.path


def write(params: Params, name: str, **options: object) -> pd.DataFrame:
    settings = {"rows": ROWS, "drift": False, "labels": False, "label_noise": 0.0, "seed": 1} | options
    summary = simulate(params, Path(name), **settings)
    assert summary.startswith(f"wrote {settings['rows']} rows to {name} from {population(params)}")
    return pd.read_csv(name)


def test_rows_follow_the_schema_and_look_like_the_data(prepared: Params) -> None:
    rows = write(prepared, "rows.csv")
    clean = validate_frame(rows, prepared.data, require_target=False, allow_extra_columns=False)
    assert len(clean) == ROWS
    source = validate_frame(pd.read_csv(population(prepared)), prepared.data, require_target=False)
    for column in prepared.data.numeric_features:
        assert abs(rows[column].mean() - source[column].mean()) < 0.2 * source[column].std(), column
        if source[column].dropna().mod(1).eq(0).all():
            assert rows[column].dropna().mod(1).eq(0).all(), f"{column}: whole numbers stay whole"
    for column in prepared.data.categorical_features:
        assert (rows[column] == MISSING_CATEGORY).sum() == 0, "a missing category is written as missing, not named"
        if (source[column] == MISSING_CATEGORY).mean() > 0.02:
            assert rows[column].isna().any(), f"{column}: missing values are simulated too"
    assert rows.equals(write(prepared, "again.csv")), "the same seed gives the same rows"


def test_drift_moves_numbers_and_category_mix(prepared: Params) -> None:
    rows = write(prepared, "drifted.csv", drift=True)
    validate_frame(rows, prepared.data, require_target=False, allow_extra_columns=False)
    reference = pd.read_csv(TRAIN_FILE)
    source = validate_frame(pd.read_csv(population(prepared)), prepared.data, require_target=False)
    for column in prepared.data.numeric_features:
        assert rows[column].mean() > reference[column].mean() + 0.5 * reference[column].std(), column
    for column in prepared.data.categorical_features:
        known = source[column][source[column] != MISSING_CATEGORY]
        rarest = known.value_counts().index[-1]
        assert (rows[column] == rarest).mean() > 0.4 > (known == rarest).mean(), column


@pytest.mark.classification
def test_label_noise_flips_that_share_of_outcomes(prepared: Params) -> None:
    exact = write(prepared, "exact.csv", labels=True)
    noisy = write(prepared, "noisy.csv", labels=True, label_noise=0.25)
    features = prepared.data.features
    assert exact[features].equals(noisy[features])
    classes = set(pd.read_csv(TRAIN_FILE)[prepared.data.target].astype(str))
    assert set(exact[ACTUAL_COLUMN].astype(str)) == classes
    assert (exact[ACTUAL_COLUMN] != noisy[ACTUAL_COLUMN]).mean() == 0.25


def test_without_a_holdout_rows_come_from_the_raw_data(params: Params) -> None:
    summary = simulate(params, Path("raw.csv"), rows=5000, drift=False, labels=False, label_noise=0.0, seed=0)
    assert f"from {params.data.path}" in summary
    assert len(pd.read_csv("raw.csv")) == 5000
