"""The prediction store keeps every logged prediction, even when closed right after a burst; reading creates
nothing; a bad URL is one line without its password."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.errors import StoreError
from {{ cookiecutter.package_name }}.store import (
    PredictionRecord,
    PredictionStore,
    RequestRecord,
    read_outcomes,
    read_predictions,
    read_requests,
)


def log_burst(log: PredictionStore, requests: int) -> list[str]:
    ids = []
    for number in range(requests):
        inputs = {"age": number, "contract": "one-year"}
        prediction = PredictionRecord(f"p{number}", inputs, prediction=1, probability=0.9, model_version="3")
        log.record(RequestRecord(f"r{number}", "test", "ok", 1.5, 1, "3"), [prediction])
        ids.append(prediction.id)
    return ids


def test_close_drains_the_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    log = PredictionStore.writer(url)
    log_burst(log, 2000)
    log.record(RequestRecord("bad", "test", "invalid", 0.3, 0, None))
    log.close()
    predictions = read_predictions(url)
    assert len(predictions) == 2000
    assert {"age", "contract", "model_version", "prediction"} <= set(predictions.columns)
    assert read_requests(url)["status"].value_counts().to_dict() == {"ok": 2000, "invalid": 1}


WRITER_PROCESS = textwrap.dedent(
    """
    import sys, time
    from {{ cookiecutter.package_name }} import store
    from {{ cookiecutter.package_name }}.store import PredictionRecord, PredictionStore, RequestRecord
    store.FLUSH_SECONDS = 0.0  # a transaction per request or two: as much contention as possible
    url, name, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with PredictionStore.writer(url) as log:
        for number in range(requests):
            rows = [PredictionRecord(f"{name}-{number}-{i}", {"age": i}, 1, 0.5, "3") for i in range(5)]
            log.record(RequestRecord(f"{name}-{number}", "test", "ok", 1.0, 5, "3"), rows)
            if number % 5 == 0:
                time.sleep(0.002)  # transactions over a second or two, interleaved with the other process's
    """
)


def test_writers_in_two_processes_lose_nothing(tmp_path: Path) -> None:
    """What several REST workers do: one writer each on one SQLite file. WAL and the busy timeout make each wait
    for the other's transaction instead of failing with "database is locked" (which would drop a batch): without
    the timeout this test loses about two thirds of the rows."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    PredictionStore.writer(url).close()  # the tables exist before the workers start, as `serve` makes sure
    command = [sys.executable, "-c", WRITER_PROCESS]
    writers = [subprocess.Popen([*command, url, name, "1500"]) for name in ("a", "b")]  # noqa: S603
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0]
    requests = read_requests(url)
    assert len(requests) == 3000
    assert len(read_predictions(url)) == 15_000


def test_feedback_joins_known_predictions_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    log = PredictionStore.writer(url)
    ids = log_burst(log, 3)
    assert log.record_feedback(ids[0], 0)  # known even while still queued
    log.close()
    log = PredictionStore.writer(url)
    assert log.record_feedback(ids[1], 1)
    assert not log.record_feedback("no-such-id", 1)
    log.close()
    outcomes = read_outcomes(url).sort_values("id")
    assert outcomes["actual"].tolist() == [0, 1]
    assert read_predictions(url, limit=2)["id"].tolist() == ["p1", "p2"]


def test_reading_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    with pytest.raises(StoreError, match="no prediction store at"):
        PredictionStore.reader(f"sqlite:///{missing}")
    assert not missing.exists()
    sqlite3.connect(tmp_path / "empty.db").close()  # a database without our tables: nothing logged yet
    with PredictionStore.reader(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        assert store.predictions().empty
        assert store.requests().empty
        assert store.outcomes().empty
        with pytest.raises(StoreError, match="opened for reading"):
            store.record(RequestRecord("r", "test", "ok", 1.0, 0, None))
    with sqlite3.connect(tmp_path / "empty.db") as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []


def test_outcomes_from_a_labels_table_join_by_id(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with PredictionStore.writer(url) as log:
        log_burst(log, 3)
    labels = pd.DataFrame({"prediction_id": ["p2", "p0", "unknown"], "actual": [1, 0, 1]})
    with PredictionStore.reader(url) as store:
        joined = store.outcomes_from(labels).sort_values("id")
    assert joined["id"].tolist() == ["p0", "p2"]
    assert joined["actual"].tolist() == [0, 1]
    assert joined["prediction"].tolist() == [1, 1]


def test_a_password_in_the_url_never_shows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}"  # a directory
    with pytest.raises(StoreError, match="is a directory") as error:
        PredictionStore.writer(url)
    assert str(tmp_path) in str(error.value)
    with pytest.raises(StoreError) as error:
        PredictionStore.writer("postgresql+psycopg://owner:pa55word@127.0.0.1:1/db")
    assert "pa55word" not in str(error.value)
    assert "postgresql+psycopg://***@127.0.0.1:1/db" in str(error.value)
