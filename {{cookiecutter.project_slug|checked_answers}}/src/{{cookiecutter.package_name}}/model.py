"""The model: preprocessing (impute, one-hot) and an estimator of the chosen family (a classifier or a regressor,
as `data.task` says) in one scikit-learn pipeline.

Numbers are standardised only for a family that needs it (linear): trees do not, and score exactly in ONNX without.

Saved with skops, never pickle. Loading first lists the file's types and refuses any outside TRUSTED_TYPES, an
exact allowlist (no prefixes: `builtins.eval` is a "builtin type" too), so a crafted model file cannot run code.
Every path that loads a model (evaluate, serving, the MLflow registry) goes through `load_model`.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import skops.io as sio
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .config import DataParams, TrainParams
from .errors import ModelNotFoundError, UntrustedModelError
from .estimators import FAMILIES, family_named

PREPROCESSING_TYPES = frozenset({"numpy.dtype"})
"""What the imputer and the encoder are saved with beyond skops' defaults."""
TRUSTED_TYPES = PREPROCESSING_TYPES.union(*(family.trusted_types for family in FAMILIES.values()))


@dataclass(frozen=True)
class Champion:
    """The model serving in production and its version label (registry version, or a content digest)."""

    model: Pipeline
    version: str


def build_pipeline(data: DataParams, train: TrainParams) -> Pipeline:
    # Missing categories arrive as MISSING_CATEGORY (see schema.py), a category of their own.
    family = family_named(train.family)
    numeric = SimpleImputer(strategy="median")
    if family.scale_numeric:
        numeric = make_pipeline(numeric, StandardScaler())
    preprocess = ColumnTransformer(
        [
            ("numeric", numeric, list(data.numeric_features)),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(data.categorical_features)),
        ]
    )
    return Pipeline([("preprocess", preprocess), ("estimator", family.build(train, data.seed, data.task))])


def estimator_of(model: Pipeline) -> BaseEstimator:
    """The pipeline's last step: its classifier or regressor (the step was named `classifier` in earlier releases)."""
    return model.steps[-1][1]


def training_medians(model: Pipeline) -> dict[str, float]:
    """Each numeric column's median in the training data, as the fitted imputer learned it."""
    numeric = model.named_steps["preprocess"].named_transformers_["numeric"]
    imputer = numeric.steps[0][1] if isinstance(numeric, Pipeline) else numeric
    return {str(name): float(value) for name, value in zip(imputer.feature_names_in_, imputer.statistics_, strict=True)}


def save_model(model: Pipeline, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)


def trusted_types(path: Path) -> list[str]:
    """The file's non-default types, each of which must be in TRUSTED_TYPES exactly."""
    try:
        types = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelNotFoundError(f"{path}: not a skops model file ({exc.__class__.__name__})") from None
    refused = sorted(set(types) - TRUSTED_TYPES)
    if refused:
        raise UntrustedModelError(f"{path}: refusing to load a model holding untrusted types {refused}")
    return types


def load_model(path: Path) -> Pipeline:
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no model file (run `dvc repro` first)")
    return sio.load(path, trusted=trusted_types(path))
