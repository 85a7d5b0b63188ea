"""Every model family trains with progress, saves inside the skops allowlist and scores the same as ONNX."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.config import Family, Params, TrainParams
from {{ cookiecutter.package_name }}.data import load_split
from {{ cookiecutter.package_name }}.estimators import FAMILIES, family_of
from {{ cookiecutter.package_name }}.model import (
    TRUSTED_TYPES,
    build_pipeline,
    load_model,
    save_model,
    training_medians,
    trusted_types,
)
from {{ cookiecutter.package_name }}.onnx_model import OnnxScorer, check_parity, classes_of, convert
from {{ cookiecutter.package_name }}.predictor import parity_sample
from {{ cookiecutter.package_name }}.train import fit_with_progress


def test_params_yaml_offers_exactly_the_known_families() -> None:
    assert set(get_args(Family)) == set(FAMILIES)


def test_each_family_trains_saves_loads_and_converts(family_params: Params, tmp_path: Path) -> None:
    data = family_params.data
    features, target = load_split(data.path, data)
    model = build_pipeline(data, family_params.train)
    fit_with_progress(model, features, target)
    assert family_of(model.steps[-1][1]).name == family_params.train.family

    medians = training_medians(model)  # what the REST example is built from
    assert medians == {name: float(features[name].median()) for name in data.numeric_features}

    save_model(model, tmp_path / "model.skops")
    assert set(trusted_types(tmp_path / "model.skops")) <= TRUSTED_TYPES
    loaded = load_model(tmp_path / "model.skops")
    rows = features.head(50)
    if data.regression:  # trees are summed in parallel: the last bits may differ between two calls
        np.testing.assert_allclose(loaded.predict(rows), model.predict(rows), rtol=1e-12)
    else:
        assert loaded.predict(rows).tolist() == model.predict(rows).tolist()
        np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(rows), rtol=1e-12)

    scorer = OnnxScorer(convert(model, data), data, classes_of(model))
    for sample in (features, parity_sample(data)):
        parity = check_parity(model, scorer, sample)
        assert parity.ok, parity


def test_each_family_reports_progress_up_to_its_total(family_params: Params) -> None:
    data = family_params.data
    features, target = load_split(data.path, data)
    model = build_pipeline(data, family_params.train)
    preprocess, estimator = model.steps[0][1], model.steps[-1][1]
    reports: list[tuple[int, int]] = []
    family_of(estimator).fit(estimator, preprocess.fit_transform(features), target, lambda *done: reports.append(done))
    assert reports, "no progress reported"
    assert reports[-1][0] == reports[-1][1] > 0
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)


def test_column_names_that_are_not_identifiers_reach_the_onnx_graph(
    params: Params, quick_train: TrainParams, tmp_path: Path
) -> None:
    """skl2onnx renames inputs such as `mean radius`; the scorer feeds each column to its renamed input."""
    data = params.data
    renamed = {name: f"{index} {name} (%)" for index, name in enumerate(data.features)}
    frame = pd.read_csv(data.path).rename(columns=renamed)
    frame.to_csv(tmp_path / "renamed.csv", index=False)
    data = data.model_copy(
        update={
            "path": tmp_path / "renamed.csv",
            "numeric_features": {renamed[name]: bounds for name, bounds in data.numeric_features.items()},
            "categorical_features": {renamed[name]: known for name, known in data.categorical_features.items()},
        }
    )
    features, target = load_split(data.path, data)
    model = build_pipeline(data, quick_train)
    fit_with_progress(model, features, target)
    scorer = OnnxScorer(convert(model, data), data, classes_of(model))
    assert list(scorer.input_names) == data.features
    assert all(name.isidentifier() for name in scorer.input_names.values())
    assert check_parity(model, scorer, features).ok
