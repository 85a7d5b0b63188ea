"""The model families this project can train, behind one seam: build, fit with progress, ONNX options, trust.

Training, the skops loader and the ONNX conversion read everything family-specific from an `EstimatorFamily`, so
adding a family (gradient boosting, a linear model) is one entry in FAMILIES: no edit to training or serving.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier

from .config import TrainParams
from .errors import ConfigError

Report = Callable[[int, int], None]
"""Progress callback: (work done, total work), in the family's own unit (trees, iterations)."""


@dataclass(frozen=True)
class EstimatorFamily:
    name: str
    estimator_type: type[BaseEstimator]
    build: Callable[[TrainParams, int], BaseEstimator]
    """A fresh estimator from params.yaml's `train` section and the data seed."""
    fit: Callable[[BaseEstimator, Any, Any, Report], None]
    """Fit on encoded features, calling the report as work gets done."""
    trusted_types: frozenset[str]
    """Exact skops type names a fitted estimator is saved with beyond skops' defaults; nothing else may load."""
    onnx_options: dict[str, Any] = field(default_factory=dict)
    """skl2onnx options for the estimator (e.g. plain probability arrays instead of a ZipMap)."""


TREES_PER_STEP = 20


def _build_forest(train: TrainParams, seed: int) -> BaseEstimator:
    return RandomForestClassifier(
        n_estimators=train.n_estimators,
        max_depth=train.max_depth,
        min_samples_leaf=train.min_samples_leaf,
        class_weight=train.class_weight,
        random_state=seed,
        n_jobs=-1,
    )


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


RANDOM_FOREST = EstimatorFamily(
    name="random_forest",
    estimator_type=RandomForestClassifier,
    build=_build_forest,
    fit=_grow_forest,
    trusted_types=frozenset({"sklearn.tree._tree.Tree"}),
    onnx_options={"zipmap": False},
)

FAMILIES: dict[str, EstimatorFamily] = {family.name: family for family in (RANDOM_FOREST,)}


def family_named(name: str) -> EstimatorFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"train.family: {name!r} is not one of {', '.join(FAMILIES)}") from None


def family_of(estimator: BaseEstimator) -> EstimatorFamily:
    """The family a fitted estimator belongs to (its exact type decides)."""
    for family in FAMILIES.values():
        if type(estimator) is family.estimator_type:
            return family
    raise ConfigError(f"no model family for {type(estimator).__name__}; known: {', '.join(FAMILIES)}")
