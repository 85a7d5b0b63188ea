"""Model performance on real outcomes, and the service's health, from the prediction store.

Outcomes arrive late: through the service's /feedback (stored next to the predictions) or as a labels CSV
(`prediction_id`, `actual`) joined to the logged predictions. Accuracy, precision and recall (classification) or
RMSE, MAE and R2 (regression) come from Evidently's classification or regression report
(reports/performance.html); latency percentiles and the error rate come from the request log. Everything lands in
reports/performance.json; the CLI exits 1 when a metric crosses its threshold in params.yaml
(`monitoring.min_accuracy`, `min_precision`, `min_recall`, or `max_rmse`, `max_mae`, `min_r2`; and
`max_error_rate`). Model metrics are judged
only with at least `monitoring.min_outcomes` outcomes: fewer say nothing (one wrong answer is accuracy 0.000), so
the job reports "not enough outcomes" and exits 0; the service's error rate is judged either way.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import MonitoringParams, Params
from ..data import TRAIN_FILE, read_csv
from ..errors import DataValidationError
from ..store import PredictionStore
from . import REPORTS_DIR

HTML_REPORT = REPORTS_DIR / "performance.html"
JSON_REPORT = REPORTS_DIR / "performance.json"
LABEL_COLUMNS = ("prediction_id", "actual")
LATENCY_PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class Health:
    requests: int
    errors: int
    error_rate: float | None
    latency_ms: dict[str, float] | None


@dataclass(frozen=True)
class PerformanceReport:
    alert: bool
    alerts: list[str]
    outcomes: int
    source: str
    unmatched_labels: int
    positive_label: Any
    metrics: dict[str, float | None]
    thresholds: dict[str, float]
    health: Health
    html_report: str | None
    min_outcomes: int = 1
    generated_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def enough_outcomes(self) -> bool:
        return self.outcomes >= self.min_outcomes

    def summary_line(self) -> str:
        verdict = f"ALERT ({'; '.join(self.alerts)})" if self.alert else "OK"
        if not self.enough_outcomes:
            verdict += f" (not enough outcomes: {self.outcomes} of the {self.min_outcomes} needed to judge the model)"
        scores = ", ".join(
            f"{name} {'n/a' if value is None else format(value, '.3f')}" for name, value in self.metrics.items()
        )
        health = self.health
        if health.requests:
            latency = " / ".join(f"{name} {value:.1f}" for name, value in (health.latency_ms or {}).items())
            system = f"{health.requests} requests, error rate {health.error_rate:.1%}, latency {latency} ms"
        else:
            system = "no requests logged"
        report = f"; report {self.html_report}" if self.html_report else ""
        return f"{verdict}: {scores} on {self.outcomes} outcomes from {self.source}; {system}{report}"


def run_performance(params: Params, labels: Path | None) -> PerformanceReport:
    """Score logged predictions against their outcomes, check the service's health, write both reports."""
    with PredictionStore.reader() as store:
        if labels is not None:
            joined, unmatched = _join_labels(store, labels)
            source = str(labels)
        else:
            joined, unmatched = store.outcomes(), 0
            source = "/feedback"
            if joined.empty:
                raise DataValidationError("no outcomes yet: send them to /feedback or pass --labels FILE")
        requests = store.requests()
    joined = joined.dropna(subset=["actual"])
    if joined.empty:
        raise DataValidationError(f"no usable outcomes in {source}: every 'actual' is empty")

    positive = params.data.positive_label
    limits = params.monitoring
    enough = len(joined) >= limits.min_outcomes
    if params.data.regression:
        actual = _numbers(joined["actual"], params.data.target, source)
        predicted = joined["prediction"].astype(float)
        metrics = _evidently_regression(actual, predicted) if enough else dict.fromkeys(("rmse", "mae", "r2"))
    else:
        actual = _label_text(joined["actual"])
        _check_classes(actual, params.data.target, source)
        if enough:
            metrics = _evidently_metrics(actual, _label_text(joined["prediction"]), str(positive))
        else:
            metrics = dict.fromkeys(("accuracy", "precision", "recall", "f1"))
    health = _health(requests)
    alerts = _alerts(metrics, health, limits)
    report = PerformanceReport(
        alert=bool(alerts),
        alerts=alerts,
        outcomes=len(joined),
        source=source,
        unmatched_labels=unmatched,
        positive_label=positive,
        metrics=metrics,
        thresholds=limits.model_dump(exclude={"drift_share"}, exclude_none=True),
        health=health,
        html_report=str(HTML_REPORT) if enough else None,
        min_outcomes=limits.min_outcomes,
    )
    JSON_REPORT.parent.mkdir(parents=True, exist_ok=True)
    JSON_REPORT.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")
    return report


def _join_labels(store: PredictionStore, path: Path) -> tuple[pd.DataFrame, int]:
    """Outcomes from a labels file, joined to the logged predictions by id; also how many ids were unknown."""
    labels = read_csv(path)
    missing = [column for column in LABEL_COLUMNS if column not in labels.columns]
    if missing:
        raise DataValidationError(f"{path}: missing column(s) {', '.join(missing)} (need {', '.join(LABEL_COLUMNS)})")
    labels = labels[list(LABEL_COLUMNS)].dropna(subset=["prediction_id"])
    labels = labels.assign(prediction_id=labels["prediction_id"].astype(str)).drop_duplicates(
        "prediction_id", keep="last"
    )
    if labels.empty:
        raise DataValidationError(f"{path}: no outcomes in the file")
    joined = store.outcomes_from(labels)
    if joined.empty:
        raise DataValidationError(f"{path}: none of its {len(labels)} prediction ids are in the prediction store")
    return joined, len(labels) - len(joined)


def _label_text(values: pd.Series) -> pd.Series:
    """Labels as text, so 1, 1.0 and "1" (CSV, JSON, a client's choice) are the same class."""

    def text(value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value)

    return values.map(text).astype(object)


def _check_classes(actual: pd.Series, target: str, source: str) -> None:
    """Outcomes must be classes the model knows (those of the training data); anything else is a typo or a bug."""
    if not TRAIN_FILE.exists():
        return
    known = set(_label_text(read_csv(TRAIN_FILE)[target].dropna()))
    unknown = actual[~actual.isin(known)]
    if not unknown.empty:
        raise DataValidationError(
            f"outcomes from {source} hold {unknown.iloc[0]!r} ({len(unknown)} rows), not a class of {target!r}:"
            f" expected one of {sorted(known)}"
        )


def _numbers(values: pd.Series, target: str, source: str) -> pd.Series:
    """A regressor's outcomes as numbers; anything else is a typo or a bug, named with how many rows hold it."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() | ~np.isfinite(numbers.fillna(0.0))
    if bad.any():
        raise DataValidationError(
            f"outcomes from {source} hold {values[bad].iloc[0]!r} ({int(bad.sum())} rows), not a number:"
            f" {target!r} is a regression target"
        )
    return numbers.astype(float)


def _evidently_regression(actual: pd.Series, predicted: pd.Series) -> dict[str, float | None]:
    """RMSE, MAE and R2 from Evidently's regression report (also saved as HTML); R2 is None while every outcome
    is the same value (it is undefined then)."""
    from evidently import DataDefinition, Dataset, Regression, Report
    from evidently.metrics import MAE, RMSE, R2Score
    from evidently.presets import RegressionPreset

    frame = pd.DataFrame({"actual": actual.to_numpy(), "prediction": predicted.to_numpy()})
    definition = DataDefinition(
        regression=[Regression(target="actual", prediction="prediction")], numerical_columns=["actual", "prediction"]
    )
    judged = {"rmse": RMSE(), "mae": MAE(), "r2": R2Score()}
    with warnings.catch_warnings():  # scikit-learn's undefined-metric noise: handled below
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        report = Report([RegressionPreset(), *judged.values()])  # the preset's own metrics: computed once
        snapshot = report.run(Dataset.from_pandas(frame, data_definition=definition))
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(HTML_REPORT))
    found: dict[str, float | None] = {}
    for name, metric in judged.items():
        result = snapshot.metric_results[metric.get_metric_id()]
        found[name] = float(result.mean.value if hasattr(result, "mean") else result.value)  # MAE is a mean +- std
    if actual.nunique() < 2:
        found["r2"] = None
    return found


def _evidently_metrics(actual: pd.Series, predicted: pd.Series, positive: str) -> dict[str, float | None]:
    """Accuracy, precision, recall and F1 from Evidently's classification report (also saved as HTML).

    For two classes, precision and recall are about the positive label, and None when undefined: no positive
    outcome (recall) or no positive prediction (precision) yet. An undefined metric is reported, not alerted on.
    """
    # Imported here: evidently takes seconds to import and only the monitors need it.
    from evidently import BinaryClassification, DataDefinition, Dataset, MulticlassClassification, Report
    from evidently.metrics import Accuracy, F1Score, Precision, Recall
    from evidently.presets import ClassificationPreset

    frame = pd.DataFrame({"actual": actual.to_numpy(), "prediction": predicted.to_numpy()})
    classes = set(frame["actual"]) | set(frame["prediction"])
    if len(classes) < 2:
        raise DataValidationError(
            f"all {len(frame)} outcomes and predictions are {classes.pop()!r}: scoring needs two classes; wait for more"
        )
    binary = len(classes) == 2
    if binary:
        task = BinaryClassification(target="actual", prediction_labels="prediction", pos_label=positive)
    else:
        task = MulticlassClassification(target="actual", prediction_labels="prediction")
    definition = DataDefinition(classification=[task], categorical_columns=["actual", "prediction"])
    judged = {"accuracy": Accuracy(), "precision": Precision(), "recall": Recall(), "f1": F1Score()}
    try:
        with warnings.catch_warnings():  # undefined-metric noise from scikit-learn and numpy: handled below
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            report = Report([ClassificationPreset(), *judged.values()])  # the preset's own metrics: computed once
            snapshot = report.run(Dataset.from_pandas(frame, data_definition=definition))
    except ValueError as exc:
        raise DataValidationError(f"cannot score {len(frame)} outcomes (classes {sorted(classes)}): {exc}") from None
    REPORTS_DIR.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(HTML_REPORT))
    metrics: dict[str, float | None] = {
        name: float(snapshot.metric_results[metric.get_metric_id()].value) for name, metric in judged.items()
    }
    if binary and positive not in set(frame["actual"]):
        metrics["recall"] = metrics["f1"] = None
    if binary and positive not in set(frame["prediction"]):
        metrics["precision"] = metrics["f1"] = None
    return metrics


def _health(requests: pd.DataFrame) -> Health:
    if requests.empty:
        return Health(requests=0, errors=0, error_rate=None, latency_ms=None)
    errors = int((requests["status"] == "error").sum())
    latencies = np.percentile(requests["latency_ms"].to_numpy(dtype=float), LATENCY_PERCENTILES)
    return Health(
        requests=len(requests),
        errors=errors,
        error_rate=errors / len(requests),
        latency_ms={f"p{p}": float(value) for p, value in zip(LATENCY_PERCENTILES, latencies, strict=True)},
    )


FLOORS = {"accuracy": "min_accuracy", "precision": "min_precision", "recall": "min_recall", "r2": "min_r2"}
CEILINGS = {"rmse": "max_rmse", "mae": "max_mae"}


def _alerts(metrics: dict[str, float | None], health: Health, limits: MonitoringParams) -> list[str]:
    """Every metric past its threshold (only the thresholds params.yaml sets), then the service's error rate."""
    alerts = []
    for name, value in metrics.items():
        floor = getattr(limits, FLOORS.get(name, ""), None)
        ceiling = getattr(limits, CEILINGS.get(name, ""), None)
        if value is not None and floor is not None and value < floor:
            alerts.append(f"{name} {value:.3f} < {floor}")
        if value is not None and ceiling is not None and value > ceiling:
            alerts.append(f"{name} {value:.3f} > {ceiling}")
    if health.error_rate is not None and health.error_rate > limits.max_error_rate:
        alerts.append(f"error rate {health.error_rate:.1%} > {limits.max_error_rate:.1%}")
    return alerts
