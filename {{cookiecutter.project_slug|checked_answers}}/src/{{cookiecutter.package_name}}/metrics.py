"""Classification metrics, computed the same way for the challenger, the champion and the monitors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.pipeline import Pipeline


def score(model: Pipeline, features: pd.DataFrame, target: pd.Series, positive_label: int | str) -> dict[str, float]:
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
