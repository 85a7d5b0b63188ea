"""No tracking service: the champion is a safe skops file plus a small JSON record."""

from __future__ import annotations

from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.champion import load_tracked
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ModelNotFoundError, UntrustedModelError
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.model import load_model
from {{ cookiecutter.package_name }}.tracking import ModelRef, get_tracker
from {{ cookiecutter.package_name }}.tracking.champion_file import CHAMPION_FILE, CHAMPION_REF_FILE
from {{ cookiecutter.package_name }}.train import CHALLENGER_REF_FILE, train


def test_promotion_writes_champion_file_and_record(params: Params) -> None:
    write_prepared(prepare(params.data))
    tracker = get_tracker()
    train(params, tracker)
    assert not CHAMPION_FILE.exists()
    evaluate(params, tracker)
    assert CHAMPION_FILE.read_bytes()
    assert ModelRef.read(CHAMPION_REF_FILE).version == ModelRef.read(CHALLENGER_REF_FILE).version
    assert load_model(CHAMPION_FILE).predict


def test_no_champion_yet_and_a_tampered_one_are_clear_errors(params: Params, workspace: Path, crafted_model) -> None:
    with pytest.raises(
        ModelNotFoundError, match=r"^no champion yet in models/champion\.json \(run `dvc repro` first\)"
    ):
        load_tracked()
    write_prepared(prepare(params.data))
    tracker = get_tracker()
    train(params, tracker)
    evaluate(params, tracker)
    crafted_model(CHAMPION_FILE, workspace / "marker")
    with pytest.raises(UntrustedModelError):
        load_tracked()
    assert not (workspace / "marker").exists()
