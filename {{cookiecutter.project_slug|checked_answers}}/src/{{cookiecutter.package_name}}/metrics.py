"""Model metrics, computed the same way for the challenger, the champion and the monitors.

Classification: accuracy, precision, recall, f1 and roc_auc. Regression: rmse, mae and r2. Which direction is
better is config.LOWER_IS_BETTER's to say (the gate reads it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sklearn.pipeline import Pipeline

from .config import DataParams


def score(model: Pipeline, features: pd.DataFrame, target: pd.Series, data: DataParams) -> dict[str, float]:
    """The task's metrics of `model` on `features` against `target`."""
    if data.regression:
        return regression_scores(target.to_numpy(dtype=float), model.predict(features))
    return classification_scores(model, features, target, data.positive_label)


def regression_scores(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """rmse, mae and r2 (r2 needs two distinct actual values; it is NaN otherwise)."""
    return {
        "rmse": float(root_mean_squared_error(actual, predicted)),
        "mae": float(mean_absolute_error(actual, predicted)),
        "r2": float(r2_score(actual, predicted)) if len(set(actual.tolist())) > 1 else float("nan"),
    }


def classification_scores(
    model: Pipeline, features: pd.DataFrame, target: pd.Series, positive_label: object
) -> dict[str, float]:
    """accuracy, precision, recall, f1 and roc_auc; binary metrics are about `positive_label`."""
    predicted = model.predict(features)
    probabilities = model.predict_proba(features)
    classes = list(model.classes_)
    if len(classes) == 2:
        averaging: dict = {"average": "binary", "pos_label": positive_label}
        roc_auc = roc_auc_score(target == positive_label, probabilities[:, classes.index(positive_label)])
    else:
        averaging = {"average": "macro"}
        roc_auc = roc_auc_score(target, probabilities, multi_class="ovr", labels=classes)
    return {
        "accuracy": float(accuracy_score(target, predicted)),
        "precision": float(precision_score(target, predicted, zero_division=0, **averaging)),
        "recall": float(recall_score(target, predicted, zero_division=0, **averaging)),
        "f1": float(f1_score(target, predicted, zero_division=0, **averaging)),
        "roc_auc": float(np.round(roc_auc, 12)),
    }
