"""Train stage: fit the pipeline on the training split, save the challenger and log it to the tracker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from rich.progress import Progress
from sklearn.pipeline import Pipeline

from .config import Params
from .data import TRAIN_FILE, load_split
from .estimators import family_of
from .lineage import lineage_tags
from .metrics import score
from .model import build_pipeline, estimator_of, save_model
from .model_schema import record_schema
from .tracking import ModelRef, Tracker

CHALLENGER_FILE = Path("models/challenger.skops")
CHALLENGER_REF_FILE = Path("models/challenger.json")


def flatten(params: Params) -> dict[str, Any]:
    """params.yaml as dotted `section.key` pairs (`train.random_forest.n_estimators`), the shape trackers show best
    and the one `dvc exp run -S` takes."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            flat[prefix] = value

    walk("", params.model_dump(mode="json"))
    return flat


def fit_with_progress(model: Pipeline, features: pd.DataFrame, target: pd.Series) -> None:
    """Fit the preprocessing, then the estimator its family's way, with a progress bar fed by the family; the
    schema it learned (task, features, target, classes) is recorded on the model for the gate."""
    preprocess, estimator = model.named_steps["preprocess"], estimator_of(model)
    encoded = preprocess.fit_transform(features)
    with Progress(transient=True) as progress:
        task = progress.add_task("training", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        family_of(estimator).fit(estimator, encoded, target, report)
    record_schema(model, target)


def train(params: Params, tracker: Tracker) -> ModelRef:
    features, target = load_split(TRAIN_FILE, params.data)
    model = build_pipeline(params.data, params.train)
    fit_with_progress(model, features, target)
    save_model(model, CHALLENGER_FILE)
    train_scores = score(model, features, target, params.data)
    metrics = {f"train_{name}": value for name, value in train_scores.items()}
    ref = tracker.log_training(
        params=flatten(params),
        metrics=metrics,
        model=model,
        example=features.head(5),
        tags=lineage_tags(params.data.path),
        model_file=CHALLENGER_FILE,
    )
    ref.write(CHALLENGER_REF_FILE)
    return ref
