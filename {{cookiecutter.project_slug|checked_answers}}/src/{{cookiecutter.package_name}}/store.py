"""The prediction store: every request, every prediction (inputs, output, model version) and actual outcomes.

A SQLite file by default; any SQLAlchemy URL in PREDICTION_STORE_URL whose driver is installed. `PredictionStore`
is the only door to it:
- `PredictionStore.writer()` (the serving side) creates the tables and logs through a background thread, so the
  request path never waits on the database. At most MAX_PENDING_ROWS rows wait in memory: past that `record`
  blocks until the database catches up (backpressure, not unbounded memory). `close()` drains the queue, so a
  graceful shutdown loses nothing.
- `PredictionStore.reader()` (the monitors) creates nothing and refuses a SQLite file that does not exist.
Opening either checks the connection once, so a wrong URL, a missing driver, a stopped server or a file that is not
a database is one clear line at start-up, with any password in the URL redacted.
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
from pathlib import Path
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
    inspect,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from .errors import StoreError
from .redaction import first_line, redact

STORE_URL_ENV = "PREDICTION_STORE_URL"
DEFAULT_STORE_URL = "sqlite:///predictions.db"
FLUSH_ROWS = 500
FLUSH_SECONDS = 0.1
MAX_PENDING_ROWS = 50_000
"""Rows (and requests) waiting for the database before `record` blocks; a batch chunk larger than this still goes
through alone, so batch scoring keeps at most one chunk waiting."""
SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a SQLite writer waits for another process's write transaction
ID_CHUNK = 500  # ids per `IN (...)` query: far below every database's parameter limit
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
    Column("probability", Float),  # None for a regressor's predictions
)
feedback_table = Table(
    "feedback",
    metadata,
    Column("prediction_id", String(32), primary_key=True),
    Column("actual", JSON, nullable=False),
    Column("received_at", DateTime, nullable=False),
)
OUTCOME_COLUMNS = ["id", "created_at", "model_version", "prediction", "probability", "actual"]


def store_url() -> str:
    return os.environ.get(STORE_URL_ENV, DEFAULT_STORE_URL)


def utc_now() -> datetime:
    """Naive UTC: what every SQL database stores the same way."""
    return datetime.now(UTC).replace(tzinfo=None)


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
    probability: float | None
    model_version: str
    created_at: datetime = field(default_factory=utc_now)


Entry = tuple[RequestRecord, Sequence[PredictionRecord]]


class PredictionStore:
    """Logging (writer) and every read the monitors make (reader), over one engine; close it, or use `with`."""

    def __init__(self, url: str | None = None, *, writable: bool) -> None:
        self.url = url or store_url()
        self.engine = open_engine(self.url, must_exist=not writable)
        self._writer: threading.Thread | None = None
        if writable:
            try:
                metadata.create_all(self.engine)
            except SQLAlchemyError as exc:
                self.engine.dispose()
                problem = f"cannot create the prediction store's tables ({STORE_URL_ENV})"
                raise StoreError(f"{problem}: {first_line(exc)}") from None
            self._queue: queue.SimpleQueue[Entry | None] = queue.SimpleQueue()
            self._pending_ids: set[str] = set()
            self._pending_rows = 0
            self._space = threading.Condition()
            self._writer = threading.Thread(target=self._write_forever, name="prediction-store", daemon=True)
            self._writer.start()

    @classmethod
    def writer(cls, url: str | None = None) -> PredictionStore:
        return cls(url, writable=True)

    @classmethod
    def reader(cls, url: str | None = None) -> PredictionStore:
        return cls(url, writable=False)

    def __enter__(self) -> PredictionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Write everything still queued, then release the connections. Safe to call twice."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        self.engine.dispose()

    # Writing -------------------------------------------------------------------------------------------------------

    def record(self, request: RequestRecord, predictions: Sequence[PredictionRecord] = ()) -> None:
        """Queue one request and its predictions; blocks only while MAX_PENDING_ROWS rows already wait."""
        if self._writer is None:
            raise StoreError("the prediction store was opened for reading (or is closed): cannot log")
        cost = len(predictions) + 1
        with self._space:
            while self._pending_rows and self._pending_rows + cost > MAX_PENDING_ROWS:
                self._space.wait()
            self._pending_rows += cost
            self._pending_ids.update(p.id for p in predictions)
        self._queue.put((request, predictions))

    def has_prediction(self, prediction_id: str) -> bool:
        if self._writer is not None:
            with self._space:
                if prediction_id in self._pending_ids:
                    return True
        query = select(predictions_table.c.id).where(predictions_table.c.id == prediction_id)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def record_feedback(self, prediction_id: str, actual: Any) -> bool:
        """Store the real outcome of a prediction (replacing an earlier one); False when the id is unknown."""
        if not self.has_prediction(prediction_id):
            return False
        row = {"prediction_id": prediction_id, "actual": actual, "received_at": utc_now()}
        with self.engine.begin() as conn:
            conn.execute(feedback_table.delete().where(feedback_table.c.prediction_id == prediction_id))
            conn.execute(insert(feedback_table), [row])
        return True

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
            self._write([entry for entry in batch if entry is not None])

    def _write(self, batch: list[Entry]) -> None:
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
        finally:
            with self._space:
                self._pending_rows -= len(requests) + len(predictions)
                self._pending_ids.difference_update(p["id"] for p in predictions)
                self._space.notify_all()

    def require_missing_probabilities(self) -> None:
        """A regressor logs no probability; a store created by an earlier release has that column NOT NULL and
        would refuse every row in the background, so say so once, at start-up."""
        try:
            with self.engine.connect() as conn:
                columns = inspect(conn).get_columns(predictions_table.name)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the prediction store ({STORE_URL_ENV}): {first_line(exc)}") from None
        if any(column["name"] == "probability" and not column["nullable"] for column in columns):
            raise StoreError(
                f"the prediction store ({STORE_URL_ENV}={redact(self.url)}) was created for a classifier: its"
                " predictions.probability is NOT NULL, which a regressor's predictions leave empty; point"
                f" {STORE_URL_ENV} at a new store, or allow NULL in that column"
            )

    # Reading -------------------------------------------------------------------------------------------------------

    def predictions(
        self, limit: int | None = None, *, model_version: str | None = None, oldest: bool = False
    ) -> pd.DataFrame:
        """The most recent predictions (or the `oldest`), oldest row first, one column per input feature plus id,
        time, output and version; only `model_version`'s when given."""
        columns = [c.name for c in predictions_table.columns]
        created = predictions_table.c.created_at
        query = select(predictions_table).order_by(created.asc() if oldest else created.desc())
        if model_version is not None:
            query = query.where(predictions_table.c.model_version == model_version)
        if limit is not None:
            query = query.limit(limit)
        frame = pd.DataFrame(self._rows(query, predictions_table), columns=columns)
        frame = frame if oldest else frame.iloc[::-1]
        inputs = pd.DataFrame(frame.pop("inputs").tolist(), index=frame.index)
        return pd.concat([frame, inputs], axis=1).reset_index(drop=True)

    def requests(self) -> pd.DataFrame:
        """Every logged request: when, from which serving style, status, latency and row count."""
        return pd.DataFrame(
            self._rows(select(requests_table), requests_table), columns=[c.name for c in requests_table.columns]
        )

    def outcomes(self) -> pd.DataFrame:
        """Predictions joined with the outcomes sent to /feedback (only those with one)."""
        query = select(*self._outcome_columns(), feedback_table.c.actual).join(
            feedback_table, feedback_table.c.prediction_id == predictions_table.c.id
        )
        return pd.DataFrame(self._rows(query, feedback_table), columns=OUTCOME_COLUMNS)

    def outcomes_from(self, labels: pd.DataFrame) -> pd.DataFrame:
        """Predictions joined with outcomes from elsewhere (`prediction_id`, `actual`, one row per id)."""
        ids = labels["prediction_id"].astype(str).tolist()
        found: list[Any] = []
        for start in range(0, len(ids), ID_CHUNK):
            query = select(*self._outcome_columns()).where(predictions_table.c.id.in_(ids[start : start + ID_CHUNK]))
            found += self._rows(query, predictions_table)
        logged = pd.DataFrame(found, columns=OUTCOME_COLUMNS[:-1])
        actual = labels.rename(columns={"prediction_id": "id"})[["id", "actual"]]
        return logged.merge(actual.assign(id=actual["id"].astype(str)), on="id", how="inner")

    @staticmethod
    def _outcome_columns() -> list[Column]:
        return [predictions_table.c[name] for name in OUTCOME_COLUMNS[:-1]]

    def _rows(self, query: Any, needs: Table) -> list[Any]:
        """Rows of `query`; none when nothing was ever logged (the table does not exist yet)."""
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table(needs.name):
                    return []
                return list(conn.execute(query).mappings().all())
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the prediction store ({STORE_URL_ENV}): {first_line(exc)}") from None


def open_engine(url: str, *, must_exist: bool) -> Engine:
    """An engine whose connection was tried once; every way of failing is one StoreError line, password redacted."""
    problem = f"cannot open the prediction store ({STORE_URL_ENV}={redact(url)})"
    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy raises several types for a malformed URL
        raise StoreError(f"{problem}: not a database URL such as {DEFAULT_STORE_URL}") from None
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
        path = Path(database)
        if path.is_dir():
            raise StoreError(f"{problem}: {path} is a directory, not a database file")
        if must_exist and not path.exists():
            raise StoreError(f"no prediction store at {path}: serve some predictions first ({STORE_URL_ENV})")
    try:
        engine = create_engine(url)
    except ImportError as exc:
        driver = f" ({exc.name})" if exc.name else ""
        raise StoreError(f"{problem}: its database driver{driver} is not installed") from None
    except Exception as exc:  # unknown dialect, bad options
        raise StoreError(f"{problem}: {first_line(exc)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_for_many_processes)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # DBAPI errors (not a database, connection refused, bad password) and OS errors
        engine.dispose()
        reason = first_line(getattr(exc, "orig", None) or exc)
        raise StoreError(f"{problem}: {reason}") from None
    return engine


def _sqlite_for_many_processes(conn: Any, _: object) -> None:
    """WAL lets the monitoring jobs read while the service writes; the busy timeout makes a writer wait for another
    process's transaction (each REST worker has its own writer) instead of failing with "database is locked"."""
    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")


def read_predictions(url: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """`PredictionStore.predictions` for scripts and notebooks: open, read, close."""
    with PredictionStore.reader(url) as store:
        return store.predictions(limit)


def read_requests(url: str | None = None) -> pd.DataFrame:
    with PredictionStore.reader(url) as store:
        return store.requests()


def read_outcomes(url: str | None = None) -> pd.DataFrame:
    with PredictionStore.reader(url) as store:
        return store.outcomes()
