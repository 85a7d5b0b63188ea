"""Prometheus metrics of the service: requests by outcome, latency, predictions per class (or a regressor's predicted
values), model version.

Names follow Prometheus conventions so dashboards and alerts work unchanged across projects (grafana/ holds one).
With several worker processes (PROMETHEUS_MULTIPROC_DIR set before this module is imported) every process writes
its values to files in that directory and `exposition()` sums them, so a scrape sees the whole service whichever
worker answers it.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest, multiprocess

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "prediction_requests_total", "Prediction requests by outcome (ok, invalid input, server error).", ["status"]
)
LATENCY = Histogram(
    "prediction_request_duration_seconds",
    "Time to answer a prediction request.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
PREDICTIONS = Counter("predictions_total", "Predicted rows per class.", ["label"])
PREDICTED_VALUES = Summary("predicted_value", "A regressor's predicted values (sum / count is their mean).")
MODEL_INFO = Gauge(
    "model_info",
    "The model being served (value 1).",
    ["version"],
    multiprocess_mode="livemax",  # one series per version that a live worker serves
)


def observe(status: str, seconds: float, labels: Iterable[object] = (), values: Iterable[float] = ()) -> None:
    """Record one answered request: its outcome, its latency and the classes (or values) it predicted."""
    REQUESTS.labels(status=status).inc()
    LATENCY.observe(seconds)
    for label, count in Tally(labels).items():
        PREDICTIONS.labels(label=str(label)).inc(count)
    for value in values:
        PREDICTED_VALUES.observe(value)


def serving_model(version: str) -> None:
    MODEL_INFO.labels(version=version).set(1)


def exposition() -> bytes:
    """The metrics in Prometheus' text format: this process's, or every worker's summed in multiprocess mode."""
    if not os.environ.get(MULTIPROC_DIR_ENV):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


def process_exited() -> None:
    """A worker is stopping: drop its live gauges (model_info) from the sums; its counters stay counted."""
    if os.environ.get(MULTIPROC_DIR_ENV):
        multiprocess.mark_process_dead(os.getpid())
