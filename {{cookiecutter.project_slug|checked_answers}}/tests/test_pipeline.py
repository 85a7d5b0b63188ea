"""prepare -> train -> evaluate through the project's real tracking backend, in a scratch workspace."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from {{ cookiecutter.package_name }}.config import LOWER_IS_BETTER, Params, RandomForestParams
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
from {{ cookiecutter.package_name }}.evaluate import METRICS_FILE, PLOTS_DIR, evaluate
from {{ cookiecutter.package_name }}.gate import Decision
from {{ cookiecutter.package_name }}.metrics import score
from {{ cookiecutter.package_name }}.model import load_model
from {{ cookiecutter.package_name }}.tracking import Tracker, get_tracker
from {{ cookiecutter.package_name }}.train import CHALLENGER_FILE, train


@pytest.fixture
def trained(params: Params) -> Params:
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    return params


def test_trained_model_learns_and_handles_missing_and_unknown_values(trained: Params) -> None:
    data = trained.data
    model = load_model(CHALLENGER_FILE)
    row = {name: None for name in data.features} | dict.fromkeys(data.categorical_features, "never-seen-before")
    answer = model.predict(pd.DataFrame([row]))[0]
    assert math.isfinite(answer) if data.regression else answer in set(model.classes_)
    first = evaluate(trained, get_tracker())
    features, target = load_split(TEST_FILE, data)
    dummy = DummyRegressor(strategy="mean") if data.regression else DummyClassifier(strategy="prior")
    guess = make_pipeline(SimpleImputer(strategy="most_frequent"), dummy)
    metric = trained.evaluate.metric
    baseline = score(guess.fit(features, target), features, target, data)[metric]
    better = first.challenger < baseline if metric in LOWER_IS_BETTER else first.challenger > baseline
    assert better, f"{metric} {first.challenger}: no better than guessing ({baseline})"


def champion_version(tracker: Tracker) -> str | None:
    champion = tracker.champion()
    return None if champion is None else champion.version


def test_first_model_is_promoted_and_identical_retrain_is_not(trained: Params) -> None:
    tracker = get_tracker()
    first = evaluate(trained, tracker)
    assert first.promoted
    assert first.champion is None
    version = champion_version(tracker)
    assert version is not None

    train(trained, tracker)  # same data, same seed: an identical challenger
    second = evaluate(trained, tracker)
    assert not second.promoted
    assert second.champion == pytest.approx(second.challenger)
    assert champion_version(tracker) == version
    assert Decision.read() == second
    assert METRICS_FILE.is_file()


def test_worse_challenger_is_kept_out(trained: Params) -> None:
    tracker = get_tracker()
    evaluate(trained, tracker)
    version = champion_version(tracker)

    stump = RandomForestParams(n_estimators=1, max_depth=1)
    weak = trained.model_copy(
        update={"train": trained.train.model_copy(update={"family": "random_forest", "random_forest": stump})}
    )
    train(weak, tracker)
    decision = evaluate(weak, tracker)
    assert not decision.promoted
    lower = decision.metric in LOWER_IS_BETTER
    assert decision.challenger > decision.champion if lower else decision.challenger < decision.champion, decision
    assert champion_version(tracker) == version


def retrain_on(params: Params, **data_changes: object) -> Params:
    """params.yaml's data section changed as a user would edit it, then prepared and trained."""
    changed = params.model_copy(update={"data": params.data.model_copy(update=data_changes)})
    write_prepared(prepare(changed.data))
    train(changed, get_tracker())
    return changed


@pytest.mark.classification
def test_a_new_target_is_promoted_with_the_reason_not_a_traceback(trained: Params) -> None:
    tracker = get_tracker()
    evaluate(trained, tracker)
    data = trained.data
    categorical = dict(data.categorical_features)
    if not categorical:
        pytest.skip("the schema has no categorical column to turn into a target")
    new_target = next(iter(categorical))
    classes = categorical.pop(new_target)
    changed = retrain_on(
        trained,
        target=new_target,
        positive_label=classes[0],
        categorical_features=categorical,
        numeric_features=data.numeric_features,
    )
    decision = evaluate(changed, tracker)
    assert decision.promoted
    assert decision.champion is None
    assert decision.reason.startswith("schema changed (")
    assert f"target {data.target!r} -> {new_target!r}" in decision.reason
    curve = json.loads((PLOTS_DIR / "roc.json").read_text(encoding="utf-8"))["roc"]  # micro-averaged past 2 classes
    assert curve[0] == {"fpr": 0.0, "tpr": 0.0}
    assert curve[-1] == {"fpr": 1.0, "tpr": 1.0}
    assert champion_version(tracker) is not None
    assert tracker.champion().model.predict(pd.DataFrame([{name: None for name in changed.data.features}]))[0] in set(
        classes
    )


def test_a_new_dataset_is_promoted_with_the_reason(trained: Params, tmp_path: Path) -> None:
    tracker = get_tracker()
    evaluate(trained, tracker)
    data = trained.data
    numeric = list(data.numeric_features)
    if len(numeric) < 2 or not data.categorical_features:
        pytest.skip("needs two numeric columns and a categorical one to drop")
    frame = pd.read_csv(data.path)
    renamed = {numeric[0]: "measure", data.target: "outcome"}
    other = frame[[*numeric[:2], data.target]].rename(columns=renamed)
    other.to_csv(tmp_path / "other.csv", index=False)
    changed = retrain_on(
        trained,
        path=tmp_path / "other.csv",
        target="outcome",
        numeric_features={"measure": data.numeric_features[numeric[0]], numeric[1]: data.numeric_features[numeric[1]]},
        categorical_features={},
    )
    decision = evaluate(changed, tracker)
    assert decision.promoted
    assert "numeric features added: measure" in decision.reason
    assert "categorical features removed" in decision.reason
    assert Decision.read() == decision
