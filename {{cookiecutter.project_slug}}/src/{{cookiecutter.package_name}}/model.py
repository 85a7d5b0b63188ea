"""The model: preprocessing (impute, one-hot) and a random forest in one scikit-learn pipeline.

No scaling: trees do not need it, and without it the ONNX export scores exactly as scikit-learn does.

Saved with skops, never pickle: loading refuses any type outside scikit-learn, NumPy and SciPy, so a model
file cannot run arbitrary code.
"""

from __future__ import annotations

from pathlib import Path

import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from .config import DataParams, TrainParams
from .errors import ModelNotFoundError

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def build_pipeline(data: DataParams, train: TrainParams) -> Pipeline:
    # Missing categories arrive as MISSING_CATEGORY (see schema.py), a category of their own.
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), list(data.numeric_features)),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(data.categorical_features)),
        ]
    )
    forest = RandomForestClassifier(
        n_estimators=train.n_estimators,
        max_depth=train.max_depth,
        min_samples_leaf=train.min_samples_leaf,
        class_weight=train.class_weight,
        random_state=data.seed,
        n_jobs=-1,
    )
    return Pipeline([("preprocess", preprocess), ("classifier", forest)])


def save_model(model: Pipeline, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump(model, path)


def trusted_types(path: Path) -> list[str]:
    """The non-default types in a skops file, all of which must come from a trusted library."""
    types = sio.get_untrusted_types(file=path)
    refused = [name for name in types if not name.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelNotFoundError(f"{path}: refusing to load untrusted types {refused}")
    return types


def load_model(path: Path) -> Pipeline:
    if not path.is_file():
        raise ModelNotFoundError(f"{path}: no model file (run `dvc repro` first)")
    return sio.load(path, trusted=trusted_types(path))
