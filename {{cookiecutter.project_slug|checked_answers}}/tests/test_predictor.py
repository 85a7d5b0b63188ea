"""The prediction core: ONNX scores like scikit-learn, and records and frames score the same."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }}.champion import Champion
from {{ cookiecutter.package_name }}.config import Bounds, Params
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.model import build_pipeline
from {{ cookiecutter.package_name }}.onnx_model import check_parity
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.schema import validate_frame
from {{ cookiecutter.package_name }}.train import fit_with_progress


@pytest.fixture
def model(params: Params) -> Pipeline:
    write_prepared(prepare(params.data))
    features, target = load_split(params.data.path, params.data)
    pipeline = build_pipeline(params.data, params.train)
    fit_with_progress(pipeline, features, target)
    return pipeline


@pytest.fixture
def predictor(model: Pipeline, params: Params) -> Predictor:
    return Predictor(Champion(model, "7"), params.data)


def test_onnx_matches_scikit_learn_on_the_holdout(model: Pipeline, predictor: Predictor, params: Params) -> None:
    features, _ = load_split(TEST_FILE, params.data)
    parity = check_parity(model, predictor.scorer, features)
    assert parity.ok, parity


@pytest.mark.classification
def test_records_and_frames_score_the_same(predictor: Predictor, params: Params) -> None:
    frame = parity_sample(params.data, rows=20)
    records = [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
    from_frame = predictor.score_frame(validate_frame(frame, params.data, require_target=False))
    from_records = predictor.score_records(records)
    assert from_frame.labels == from_records.labels
    assert from_frame.probabilities == pytest.approx(from_records.probabilities)
    assert len(set(from_frame.ids)) == 20
    assert from_frame.model_version == "7"
    assert all(0.0 <= p <= 1.0 for p in from_frame.probabilities)


@pytest.mark.classification
def test_every_class_gets_its_probability(predictor: Predictor, params: Params, classes: list) -> None:
    """The whole distribution, keyed by the class as text; the one `probability` is the positive label's (two
    classes) or the predicted label's (more)."""
    frame = parity_sample(params.data, rows=20)
    scored = predictor.score_frame(validate_frame(frame, params.data, require_target=False))
    for label, probability, spread in zip(scored.labels, scored.probabilities, scored.class_probabilities, strict=True):
        assert list(spread) == [str(known) for known in classes]
        assert sum(spread.values()) == pytest.approx(1.0, abs=1e-5)
        assert max(spread, key=spread.__getitem__) == str(label)
        chosen = str(params.data.positive_label) if len(classes) == 2 else str(label)
        assert probability == pytest.approx(spread[chosen])


@pytest.mark.classification
def test_outcomes_must_name_a_class(predictor: Predictor, classes: list, wrong_class: tuple) -> None:
    assert predictor.known_class(classes[-1]) == classes[-1]
    assert predictor.known_class(str(classes[0])) == classes[0]  # the text of a class is that class
    allowed = re.escape(f"actual must be one of the model's classes ({', '.join(map(str, classes))})")
    for wrong in (wrong_class[0], "no-such-class", True, None):
        with pytest.raises(DataValidationError, match=allowed):
            predictor.known_class(wrong)


@pytest.mark.classification
def test_boolean_classes_stay_booleans(boolean_predictor: Predictor) -> None:
    scored = boolean_predictor.score_frame(
        validate_frame(parity_sample(boolean_predictor.data, rows=50), boolean_predictor.data, require_target=False)
    )
    assert {type(label) for label in scored.labels} == {bool}
    assert all(set(spread) == {"False", "True"} for spread in scored.class_probabilities)
    assert boolean_predictor.known_class(True) is True
    assert boolean_predictor.known_class("False") is False  # gRPC carries a boolean outcome as text
    for wrong in (1, 0, "1", "yes"):
        with pytest.raises(DataValidationError, match=re.escape("model's classes (False, True)")):
            boolean_predictor.known_class(wrong)


def test_the_parity_sample_stays_within_narrow_bounds(params: Params) -> None:
    """Rounding to 0.01 once pushed values of a column bounded by [0, 0.0588] out of bounds."""
    narrow = {name: Bounds(min=0.0, max=0.0587852) for name in params.data.numeric_features}
    data = params.data.model_copy(update={"numeric_features": narrow})
    sample = parity_sample(data, rows=200)
    validate_frame(sample, data, require_target=False)
    assert all(sample[name].nunique() > 5 for name in narrow), "the values still spread over the range"
