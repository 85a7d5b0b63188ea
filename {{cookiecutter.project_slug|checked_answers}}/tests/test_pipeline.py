"""prepare -> train -> evaluate through the project's real tracking backend, in a scratch workspace."""

from __future__ import annotations

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.evaluate import METRICS_FILE, evaluate
from {{ cookiecutter.package_name }}.gate import Decision
from {{ cookiecutter.package_name }}.model import load_model
from {{ cookiecutter.package_name }}.tracking import Tracker, get_tracker
from {{ cookiecutter.package_name }}.train import CHALLENGER_FILE, train


@pytest.fixture
def trained(params: Params) -> Params:
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    return params


def test_trained_model_learns_and_handles_missing_and_unknown_values(trained: Params) -> None:
    model = load_model(CHALLENGER_FILE)
    row = {name: None for name in trained.data.features} | {"contract": "lifetime", "age": 40.0}
    assert model.predict(pd.DataFrame([row]))[0] in {0, 1}
    first = evaluate(trained, get_tracker())
    assert first.challenger > 0.7, "the bundled data carries a real signal"


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

    weak = trained.model_copy(update={"train": trained.train.model_copy(update={"n_estimators": 1, "max_depth": 1})})
    train(weak, tracker)
    decision = evaluate(weak, tracker)
    assert not decision.promoted
    assert decision.challenger < decision.champion
    assert champion_version(tracker) == version
