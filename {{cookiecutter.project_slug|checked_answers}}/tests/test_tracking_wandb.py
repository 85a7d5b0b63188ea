"""W&B specifics: runs stay offline without an API key, and the champion is mirrored locally."""

from __future__ import annotations

import os

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.tracking import ModelRef, get_tracker
from {{ cookiecutter.package_name }}.tracking.champion_file import CHAMPION_FILE, CHAMPION_REF_FILE
from {{ cookiecutter.package_name }}.train import CHALLENGER_REF_FILE, train


def test_offline_runs_are_written_locally_and_champion_mirrored(params: Params, workspace) -> None:
    assert os.environ["WANDB_MODE"] == "offline"
    write_prepared(prepare(params.data))
    tracker = get_tracker()
    train(params, tracker)
    evaluate(params, tracker)
    runs = sorted((workspace / "wandb").glob("offline-run-*"))
    assert len(runs) == 3, "train, promote and evaluate each leave an offline run to sync later"
    assert CHAMPION_FILE.is_file()
    assert ModelRef.read(CHAMPION_REF_FILE).version == ModelRef.read(CHALLENGER_REF_FILE).version
