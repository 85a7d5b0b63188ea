"""Evaluate stage: score challenger and champion on the same holdout, write DVC metrics and plots, gate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_curve
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import label_binarize

from .config import DataParams, Params
from .data import TEST_FILE, load_split
from .gate import Decision, decide, decide_on_new_schema
from .metrics import score
from .model import load_model
from .model_schema import schema_of
from .tracking import ModelRef, Tracker
from .train import CHALLENGER_FILE, CHALLENGER_REF_FILE

METRICS_FILE = Path("reports/metrics.json")
PLOTS_DIR = Path("reports/plots")


def evaluate(params: Params, tracker: Tracker) -> Decision:
    features, target = load_split(TEST_FILE, params.data)
    challenger = load_model(CHALLENGER_FILE)
    ref = ModelRef.read(CHALLENGER_REF_FILE)
    challenger_metrics = score(challenger, features, target, params.data)
    champion = tracker.champion()
    metric, margin = params.evaluate.metric, params.evaluate.min_improvement
    changes = schema_of(champion.model).differences(schema_of(challenger)) if champion is not None else []
    champion_metrics = None
    if changes:
        decision = decide_on_new_schema(metric, challenger_metrics[metric], margin, changes)
    else:
        champion_metrics = score(champion.model, features, target, params.data) if champion is not None else None
        champion_value = champion_metrics[metric] if champion_metrics else None
        decision = decide(metric, challenger_metrics[metric], champion_value, margin)
    if decision.promoted:
        tracker.promote(ref, CHALLENGER_FILE)
    tracker.log_evaluation(ref, challenger_metrics, decision)

    write_metrics(challenger_metrics, champion_metrics, decision)
    write_plots(challenger, features, target, params.data)
    decision.write()
    return decision


def write_metrics(challenger: dict[str, float], champion: dict[str, float] | None, decision: Decision) -> None:
    METRICS_FILE.parent.mkdir(parents=True, exist_ok=True)
    report = {**challenger, "champion": champion or {}, "promoted": decision.promoted}
    METRICS_FILE.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def write_plots(model: Pipeline, features: pd.DataFrame, target: pd.Series, data: DataParams) -> None:
    """The task's plots, in the shapes `dvc plots` templates expect (dvc.yaml says how to draw each file).

    Classification: confusion matrix rows and the ROC curve, about `positive_label` for two classes; with more it is
    the micro-averaged one-vs-rest curve (every class's scores against "is this class" pooled), one line that
    reads like the binary one. Regression: each holdout row's actual and predicted value (a scatter plot).
    """
    if PLOTS_DIR.exists():
        shutil.rmtree(PLOTS_DIR)  # a task switch must not leave the other task's plots behind
    PLOTS_DIR.mkdir(parents=True)
    rows = pd.DataFrame({"actual": target.to_numpy(), "predicted": model.predict(features)})
    if data.regression:
        rows.round(6).to_csv(PLOTS_DIR / "predicted.csv", index=False)
        return
    rows.to_csv(PLOTS_DIR / "confusion.csv", index=False)
    positive_label = data.positive_label
    classes = list(model.classes_)
    probabilities = model.predict_proba(features)
    if len(classes) == 2:
        fpr, tpr, _ = roc_curve(target == positive_label, probabilities[:, classes.index(positive_label)])
    else:
        fpr, tpr, _ = roc_curve(label_binarize(target, classes=classes).ravel(), probabilities.ravel())
    points = [{"fpr": round(float(x), 6), "tpr": round(float(y), 6)} for x, y in zip(fpr, tpr, strict=True)]
    (PLOTS_DIR / "roc.json").write_text(json.dumps({"roc": points}) + "\n", encoding="utf-8")
