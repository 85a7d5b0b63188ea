"""The model families this project can train, behind one seam: build, fit with progress, scaling, ONNX, trust.

Training, the skops loader and the ONNX conversion read everything family-specific from an `EstimatorFamily`, so
adding a family is one entry in FAMILIES (and its hyperparameters in config.py): no edit to training or serving.
Each family builds a classifier or a regressor, as `data.task` says.

- random_forest: scikit-learn's forest, the robust default on small tabular data.
- gradient_boosting: LightGBM, usually the most accurate on tabular data. Chosen over XGBoost for a 10 MB wheel and
  onnxmltools' converter; scikit-learn's HistGradientBoosting was ruled out because skl2onnx cannot convert it
  with scikit-learn 1.9 (so no ONNX parity, no edge runtime).
- linear: logistic regression (classification) or ridge regression on standardised numbers, the fast and
  explainable baseline.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from .config import Task, TrainParams
from .errors import ConfigError

Report = Callable[[int, int], None]
"""Progress callback: (work done, total work), in the family's own unit (trees, iterations)."""


@dataclass(frozen=True)
class EstimatorFamily:
    name: str
    estimator_types: dict[str, type[BaseEstimator]]
    """The estimator class for each task (classification, regression)."""
    build: Callable[[TrainParams, int, Task], BaseEstimator]
    """A fresh estimator for the task from params.yaml's `train` section and the data seed."""
    fit: Callable[[BaseEstimator, Any, Any, Report], None]
    """Fit on encoded features, calling the report as work gets done."""
    trusted_types: frozenset[str]
    """Exact skops type names a fitted estimator is saved with beyond skops' defaults; nothing else may load."""
    scale_numeric: bool = False
    """Standardise numeric features first (linear models need it; trees do not, and stay exact in ONNX without)."""
    onnx_options: dict[str, Any] = field(default_factory=dict)
    """skl2onnx options for the family's classifier (e.g. plain probability arrays instead of a ZipMap)."""
    register_onnx_converter: Callable[[], None] | None = None
    """Teach skl2onnx to convert an estimator from outside scikit-learn (called once, before converting)."""


TREES_PER_STEP = 20


def _build_forest(train: TrainParams, seed: int, task: Task) -> BaseEstimator:
    forest = train.random_forest
    knobs = {
        "n_estimators": forest.n_estimators,
        "max_depth": forest.max_depth,
        "min_samples_leaf": forest.min_samples_leaf,
        "random_state": seed,
        "n_jobs": -1,
    }
    if task == "regression":
        return RandomForestRegressor(**knobs)
    return RandomForestClassifier(**knobs, class_weight=train.class_weight)


def _grow_forest(forest: BaseEstimator, features: Any, target: Any, report: Report) -> None:
    """Grow the forest in steps (warm start) so a long fit shows real progress; same trees as one fit."""
    total = forest.n_estimators
    forest.set_params(warm_start=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*warm_start.*", category=UserWarning)
        for grown in range(min(TREES_PER_STEP, total), total + TREES_PER_STEP, TREES_PER_STEP):
            forest.set_params(n_estimators=min(grown, total))
            forest.fit(features, target)
            report(forest.n_estimators, total)
    forest.set_params(warm_start=False)


def _build_boosting(train: TrainParams, seed: int, task: Task) -> BaseEstimator:
    boosting = train.gradient_boosting
    knobs = {
        "n_estimators": boosting.n_estimators,
        "learning_rate": boosting.learning_rate,
        "num_leaves": boosting.num_leaves,
        "min_child_samples": boosting.min_child_samples,
        "reg_lambda": boosting.reg_lambda,
        "random_state": seed,
        "deterministic": True,
        "verbose": -1,  # LightGBM's own log lines ("No further splits...") would bury the progress bar
    }
    if task == "regression":
        return LGBMRegressor(**knobs)
    return LGBMClassifier(**knobs, class_weight=train.class_weight)


def _boost(booster: BaseEstimator, features: Any, target: Any, report: Report) -> None:
    """One fit; LightGBM calls back after every boosting round, which feeds the progress bar."""
    booster.fit(features, target, callbacks=[lambda env: report(env.iteration + 1, env.end_iteration)])


def _register_lightgbm_converter() -> None:
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
    )
    update_registered_converter(
        LGBMRegressor, "LightGbmLGBMRegressor", calculate_linear_regressor_output_shapes, convert_lightgbm
    )


def _build_linear(train: TrainParams, seed: int, task: Task) -> BaseEstimator:
    linear = train.linear
    if task == "regression":
        return Ridge(alpha=linear.alpha)
    return LogisticRegression(C=linear.C, max_iter=linear.max_iter, class_weight=train.class_weight, random_state=seed)


def _fit_once(estimator: BaseEstimator, features: Any, target: Any, report: Report) -> None:
    estimator.fit(features, target)
    report(1, 1)


RANDOM_FOREST = EstimatorFamily(
    name="random_forest",
    estimator_types={"classification": RandomForestClassifier, "regression": RandomForestRegressor},
    build=_build_forest,
    fit=_grow_forest,
    trusted_types=frozenset({"sklearn.tree._tree.Tree"}),
    onnx_options={"zipmap": False},
)
GRADIENT_BOOSTING = EstimatorFamily(
    name="gradient_boosting",
    estimator_types={"classification": LGBMClassifier, "regression": LGBMRegressor},
    build=_build_boosting,
    fit=_boost,
    # The booster is restored from LightGBM's own text model format: data, not code.
    trusted_types=frozenset(
        {
            "collections.OrderedDict",
            "lightgbm.basic.Booster",
            "lightgbm.sklearn.LGBMClassifier",
            "lightgbm.sklearn.LGBMRegressor",
        }
    ),
    onnx_options={"zipmap": False},
    register_onnx_converter=_register_lightgbm_converter,
)
LINEAR = EstimatorFamily(
    name="linear",
    estimator_types={"classification": LogisticRegression, "regression": Ridge},
    build=_build_linear,
    fit=_fit_once,
    trusted_types=frozenset(),
    scale_numeric=True,
    onnx_options={"zipmap": False},
)

FAMILIES: dict[str, EstimatorFamily] = {family.name: family for family in (RANDOM_FOREST, GRADIENT_BOOSTING, LINEAR)}


def family_named(name: str) -> EstimatorFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"train.family: {name!r} is not one of {', '.join(FAMILIES)}") from None


def family_of(estimator: BaseEstimator) -> EstimatorFamily:
    """The family a fitted estimator belongs to (its exact type decides)."""
    for family in FAMILIES.values():
        if type(estimator) in family.estimator_types.values():
            return family
    raise ConfigError(f"no model family for {type(estimator).__name__}; known: {', '.join(FAMILIES)}")
