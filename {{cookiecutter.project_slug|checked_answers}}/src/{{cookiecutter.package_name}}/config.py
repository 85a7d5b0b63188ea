"""Typed view of params.yaml: the one place every step, the service and the monitors read their knobs from."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import ConfigError

PARAMS_FILE_ENV = "PARAMS_FILE"
DEFAULT_PARAMS_FILE = Path("params.yaml")

Task = Literal["classification", "regression"]
Metric = Literal["accuracy", "precision", "recall", "f1", "roc_auc", "rmse", "mae", "r2"]
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "regression": ("rmse", "mae", "r2"),
}
LOWER_IS_BETTER = frozenset({"rmse", "mae"})
"""Metrics where a smaller value is a better model (errors); every other metric is better higher."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bounds(_Strict):
    min: float | None = None
    max: float | None = None


class DataParams(_Strict):
    path: Path
    target: str
    task: Task = "classification"
    positive_label: bool | int | str | None = None  # bool first: YAML's `true` is a boolean class, not the integer 1
    """Classification: the class precision, recall, F1 and ROC AUC are about (two classes). Regression has none."""
    test_size: float = Field(gt=0, lt=1)
    seed: int
    numeric_features: dict[str, Bounds] = Field(default_factory=dict)
    categorical_features: dict[str, list[str]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _features_are_distinct(self) -> DataParams:
        overlap = set(self.numeric_features) & set(self.categorical_features)
        if overlap:
            raise ValueError(f"columns listed as both numeric and categorical: {sorted(overlap)}")
        if self.target in self.numeric_features or self.target in self.categorical_features:
            raise ValueError(f"the target {self.target!r} is also listed as a feature")
        if not self.numeric_features and not self.categorical_features:
            raise ValueError("list at least one feature")
        if self.task == "classification" and self.positive_label is None:
            raise ValueError("classification needs positive_label (the class binary metrics are about)")
        if self.task == "regression" and self.positive_label is not None:
            raise ValueError("regression has no positive_label: remove it, or set task: classification")
        return self

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property  # not cached: model_copy(update=...) would carry a stale list over
    def features(self) -> list[str]:
        return [*self.numeric_features, *self.categorical_features]


Family = Literal["random_forest", "gradient_boosting", "linear"]
"""The keys of estimators.FAMILIES (a test keeps the two equal)."""


class RandomForestParams(_Strict):
    n_estimators: int = Field(default=200, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=1, ge=1)


class GradientBoostingParams(_Strict):
    """LightGBM's knobs, under scikit-learn's names where LightGBM has them."""

    n_estimators: int = Field(default=200, ge=1)
    learning_rate: float = Field(default=0.05, gt=0)
    num_leaves: int = Field(default=31, ge=2)
    min_child_samples: int = Field(default=20, ge=1)
    reg_lambda: float = Field(default=0.0, ge=0)


class LinearParams(_Strict):
    """Logistic regression for classification, ridge regression for regression."""

    C: float = Field(default=1.0, gt=0)  # logistic: inverse regularisation strength, under scikit-learn's name
    max_iter: int = Field(default=1000, ge=1)
    alpha: float = Field(default=1.0, ge=0)  # ridge: regularisation strength, under scikit-learn's name


class TrainParams(_Strict):
    """The family to train and each family's hyperparameters: switching family keeps the others' settings."""

    family: Family = "random_forest"
    class_weight: Literal["balanced"] | None = None  # classification only
    random_forest: RandomForestParams = Field(default_factory=RandomForestParams)
    gradient_boosting: GradientBoostingParams = Field(default_factory=GradientBoostingParams)
    linear: LinearParams = Field(default_factory=LinearParams)


class EvaluateParams(_Strict):
    metric: Metric
    min_improvement: float = Field(ge=0)


CLASSIFICATION_THRESHOLDS = ("min_accuracy", "min_precision", "min_recall")
REGRESSION_THRESHOLDS = ("max_rmse", "max_mae", "min_r2")


class MonitoringParams(_Strict):
    """Each task's thresholds on real outcomes (set the ones you want judged), and the service's error rate."""

    drift_share: float = Field(gt=0, le=1)
    min_accuracy: float | None = Field(default=None, ge=0, le=1)
    min_precision: float | None = Field(default=None, ge=0, le=1)
    min_recall: float | None = Field(default=None, ge=0, le=1)
    max_rmse: float | None = Field(default=None, gt=0)
    max_mae: float | None = Field(default=None, gt=0)
    min_r2: float | None = Field(default=None, le=1)
    max_error_rate: float = Field(ge=0, le=1)
    min_outcomes: int = Field(default=30, ge=1)
    """Fewer real outcomes say nothing about accuracy: `performance` reports "not enough outcomes" instead."""


class Params(_Strict):
    data: DataParams
    train: TrainParams
    evaluate: EvaluateParams
    monitoring: MonitoringParams

    @model_validator(mode="after")
    def _settings_fit_the_task(self) -> Params:
        task = self.data.task
        if self.evaluate.metric not in TASK_METRICS[task]:
            raise ValueError(
                f"evaluate.metric {self.evaluate.metric!r} is not a {task} metric: use one of"
                f" {', '.join(TASK_METRICS[task])}"
            )
        own, other = (
            (REGRESSION_THRESHOLDS, CLASSIFICATION_THRESHOLDS)
            if task == "regression"
            else (CLASSIFICATION_THRESHOLDS, REGRESSION_THRESHOLDS)
        )
        foreign = [name for name in other if getattr(self.monitoring, name) is not None]
        if foreign:
            raise ValueError(f"monitoring.{foreign[0]} does not apply to {task}; set {', '.join(own)} instead")
        if all(getattr(self.monitoring, name) is None for name in own):
            raise ValueError(f"monitoring: set at least one of {', '.join(own)} for {task}")
        return self


def params_path() -> Path:
    return Path(os.environ.get(PARAMS_FILE_ENV, DEFAULT_PARAMS_FILE))


def positive_int_from_env(name: str, default: int, meaning: str = "") -> int:
    """An environment variable that must be a positive integer (a count or a size), or one ConfigError line."""
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a positive integer{f' ({meaning})' if meaning else ''}; got {raw!r}")
    return value


def load_params(path: Path | None = None) -> Params:
    """Read and validate params.yaml; any problem becomes one ConfigError line naming the key."""
    path = path or params_path()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (set {PARAMS_FILE_ENV} or run from the project root)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc.__class__.__name__})"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
