"""The prediction store: every request, every prediction (inputs, output, model version) and actual outcomes.

A SQLite file by default; any SQLAlchemy URL in PREDICTION_STORE_URL. The serving layer logs through
`PredictionLog`, whose background thread does the writing so the request path never waits on the database;
`close()` drains the queue, so a graceful shutdown loses nothing. The monitoring jobs read with `read_*`.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)

STORE_URL_ENV = "PREDICTION_STORE_URL"
DEFAULT_STORE_URL = "sqlite:///predictions.db"
FLUSH_ROWS = 500
FLUSH_SECONDS = 0.1
logger = logging.getLogger(__name__)

metadata = MetaData()
requests_table = Table(
    "requests",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("received_at", DateTime, nullable=False, index=True),
    Column("source", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # ok, invalid (the client's fault) or error (ours)
    Column("latency_ms", Float, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("model_version", String(64)),
)
predictions_table = Table(
    "predictions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("request_id", String(32), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False, index=True),
    Column("model_version", String(64), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("prediction", JSON, nullable=False),
    Column("probability", Float, nullable=False),
)
feedback_table = Table(
    "feedback",
    metadata,
    Column("prediction_id", String(32), primary_key=True),
    Column("actual", JSON, nullable=False),
    Column("received_at", DateTime, nullable=False),
)


def store_url() -> str:
    return os.environ.get(STORE_URL_ENV, DEFAULT_STORE_URL)


def utc_now() -> datetime:
    """Naive UTC: what every SQL database stores the same way."""
    return datetime.now(UTC).replace(tzinfo=None)


def connect(url: str | None = None) -> Engine:
    engine = create_engine(url or store_url())
    if engine.dialect.name == "sqlite":
        # WAL lets the monitoring jobs read while the service writes.
        event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA journal_mode=WAL"))
    metadata.create_all(engine)
    return engine


@dataclass
class RequestRecord:
    id: str
    source: str
    status: str
    latency_ms: float
    rows: int
    model_version: str | None
    received_at: datetime = field(default_factory=utc_now)


@dataclass
class PredictionRecord:
    id: str
    inputs: dict[str, Any]
    prediction: Any
    probability: float
    model_version: str
    created_at: datetime = field(default_factory=utc_now)


class PredictionLog:
    """Buffered, thread-backed writer: `record` never blocks; `close` writes everything still queued."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = connect(url)
        self._queue: queue.SimpleQueue[tuple[RequestRecord, Sequence[PredictionRecord]] | None] = queue.SimpleQueue()
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._writer = threading.Thread(target=self._write_forever, name="prediction-log", daemon=True)
        self._writer.start()

    def record(self, request: RequestRecord, predictions: Sequence[PredictionRecord] = ()) -> None:
        with self._lock:
            self._pending.update(p.id for p in predictions)
        self._queue.put((request, predictions))

    def has_prediction(self, prediction_id: str) -> bool:
        with self._lock:
            if prediction_id in self._pending:
                return True
        query = select(predictions_table.c.id).where(predictions_table.c.id == prediction_id)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def record_feedback(self, prediction_id: str, actual: Any) -> bool:
        """Store the real outcome of a prediction; False when the prediction id is unknown."""
        if not self.has_prediction(prediction_id):
            return False
        row = {"prediction_id": prediction_id, "actual": actual, "received_at": utc_now()}
        with self.engine.begin() as conn:
            conn.execute(feedback_table.delete().where(feedback_table.c.prediction_id == prediction_id))
            conn.execute(insert(feedback_table), [row])
        return True

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join()
        self.engine.dispose()

    def _write_forever(self) -> None:
        """One transaction per FLUSH_SECONDS (or FLUSH_ROWS), not per request: commits are the expensive part."""
        done = False
        while not done:
            batch = [self._queue.get()]  # block until there is work
            deadline = time.monotonic() + FLUSH_SECONDS
            while len(batch) < FLUSH_ROWS and batch[-1] is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
            done = None in batch
            self._write([item for item in batch if item is not None])

    def _write(self, batch: list[tuple[RequestRecord, Sequence[PredictionRecord]]]) -> None:
        if not batch:
            return
        requests = [vars(request) for request, _ in batch]
        predictions = [vars(p) | {"request_id": request.id} for request, rows in batch for p in rows]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(requests_table), requests)
                if predictions:
                    conn.execute(insert(predictions_table), predictions)
        except Exception:  # the writer must outlive a bad batch or a database hiccup
            logger.exception("could not write %d requests to the prediction store", len(requests))
        with self._lock:
            self._pending.difference_update(p["id"] for p in predictions)


def read_predictions(url: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """The most recent predictions (newest last), one column per input feature plus id, time, output, version."""
    query = select(predictions_table).order_by(predictions_table.c.created_at.desc())
    if limit is not None:
        query = query.limit(limit)
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    engine.dispose()
    frame = pd.DataFrame(rows, columns=[c.name for c in predictions_table.columns]).iloc[::-1]
    inputs = pd.DataFrame(frame.pop("inputs").tolist(), index=frame.index)
    return pd.concat([frame, inputs], axis=1).reset_index(drop=True)


def read_outcomes(url: str | None = None) -> pd.DataFrame:
    """Predictions joined with their actual outcomes (only those with feedback)."""
    query = select(
        predictions_table.c.id,
        predictions_table.c.created_at,
        predictions_table.c.model_version,
        predictions_table.c.prediction,
        predictions_table.c.probability,
        feedback_table.c.actual,
    ).join(feedback_table, feedback_table.c.prediction_id == predictions_table.c.id)
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    engine.dispose()
    return pd.DataFrame(rows, columns=["id", "created_at", "model_version", "prediction", "probability", "actual"])


def read_requests(url: str | None = None) -> pd.DataFrame:
    """Every logged request: when, from which serving style, status, latency and row count."""
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(select(requests_table)).mappings().all()
    engine.dispose()
    return pd.DataFrame(rows, columns=[c.name for c in requests_table.columns])
