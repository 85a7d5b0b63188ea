"""The drift job on a prediction store filled by the real prediction core: quiet on normal traffic, loud on drift,
and a clear one-line error for inputs it cannot judge."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.champion import Champion
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.model import build_pipeline
from {{ cookiecutter.package_name }}.monitoring.drift import JSON_REPORT, run_drift
from {{ cookiecutter.package_name }}.monitoring.simulate import simulate
from {{ cookiecutter.package_name }}.predictor import Predictor
from {{ cookiecutter.package_name }}.store import (
    STORE_URL_ENV,
    PredictionLog,
    PredictionRecord,
    RequestRecord,
)
from {{ cookiecutter.package_name }}.train import fit_with_progress

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
ROWS = 300


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own module, fixed arguments)
        [sys.executable, "-m", PACKAGE, *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    """A small forest trained once for the module on the pipeline's training split."""
    params = load_params(PROJECT_ROOT / "params.yaml")
    data = params.data.model_copy(update={"path": PROJECT_ROOT / params.data.path})
    train = prepare(data).train
    pipeline = build_pipeline(data, params.train.model_copy(update={"n_estimators": 30}))
    fit_with_progress(pipeline, train[data.features], train[data.target])
    return Predictor(Champion(pipeline, "7"), params.data)


@pytest.fixture
def store(params: Params, workspace: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh prediction store in the workspace, and the prepared splits the jobs read."""
    write_prepared(prepare(params.data))
    url = f"sqlite:///{workspace / 'predictions.db'}"
    monkeypatch.setenv(STORE_URL_ENV, url)
    return url


def traffic(params: Params, name: str, *, drift: bool, seed: int) -> pd.DataFrame:
    simulate(params, Path(name), rows=ROWS, drift=drift, labels=False, label_noise=0.0, seed=seed)
    return pd.read_csv(name)


def serve(predictor: Predictor, rows: pd.DataFrame, url: str) -> None:
    """Score rows and log them the way the serving layer does: one request, its predictions, inputs as sent."""
    scored = predictor.predict_frame(rows)
    inputs = rows.astype(object).where(rows.notna(), None).to_dict("records")
    log = PredictionLog(url)
    records = [
        PredictionRecord(id_, row, label, probability, scored.model_version)
        for id_, row, label, probability in zip(scored.ids, inputs, scored.labels, scored.probabilities, strict=True)
    ]
    log.record(RequestRecord(uuid.uuid4().hex, "test", "ok", 1.0, len(rows), scored.model_version), records)
    log.close()


def test_normal_traffic_shows_no_drift(predictor: Predictor, params: Params, store: str) -> None:
    serve(predictor, traffic(params, "normal.csv", drift=False, seed=1), store)
    report = run_drift(params, current=None, window=1000)
    assert not report.drift_detected
    assert report.share_drifted_columns < params.monitoring.drift_share
    assert report.summary_line().startswith("no drift: ")
    written = json.loads(JSON_REPORT.read_text(encoding="utf-8"))
    assert written["drift_detected"] is False
    assert written["current_rows"] == ROWS
    assert written["reference_rows"] == len(pd.read_csv("data/prepared/train.csv"))
    assert written["drift_share_threshold"] == params.monitoring.drift_share
    assert set(written["columns"]) == set(params.data.features)
    assert all({"drifted", "stattest", "score"} <= set(column) for column in written["columns"].values())
    assert Path("reports/drift.html").stat().st_size > 100_000


def test_drifted_traffic_is_flagged_within_the_window(predictor: Predictor, params: Params, store: str) -> None:
    serve(predictor, traffic(params, "normal.csv", drift=False, seed=2), store)
    serve(predictor, traffic(params, "drifted.csv", drift=True, seed=3), store)
    report = run_drift(params, current=None, window=ROWS)  # the newest rows only: the drifted ones
    assert report.drift_detected
    assert report.share_drifted_columns >= params.monitoring.drift_share
    assert report.current_rows == ROWS
    assert report.summary_line().startswith("DRIFT: ")
    assert json.loads(JSON_REPORT.read_text(encoding="utf-8"))["drift_detected"] is True
    assert not run_drift(params, current=Path("normal.csv"), window=ROWS).drift_detected


def test_cli_exits_1_on_drift(params: Params, store: str) -> None:
    traffic(params, "drifted.csv", drift=True, seed=4)
    result = run_cli("drift", "--current", "drifted.csv")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("DRIFT: ")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows: rows.drop(columns=["age"]), "missing column"),
        (lambda rows: rows.assign(customer="x"), "unexpected column"),
        (lambda rows: rows.assign(age="old"), "column 'age' must be numeric"),
        (lambda rows: rows.head(0), "no rows"),
        (lambda rows: rows.head(5), "drift needs at least"),
    ],
    ids=["missing-column", "extra-column", "wrong-type", "empty", "too-few-rows"],
)
def test_unusable_current_file_is_a_clear_error(params: Params, store: str, change, message: str) -> None:
    change(traffic(params, "rows.csv", drift=False, seed=5)).to_csv("bad.csv", index=False)
    with pytest.raises(ProjectError, match=message):
        run_drift(params, current=Path("bad.csv"), window=ROWS)


def test_empty_or_missing_store_is_a_clear_error(params: Params, store: str) -> None:
    with pytest.raises(ProjectError, match="no prediction store"):
        run_drift(params, current=None, window=ROWS)
    PredictionLog(store).close()  # the tables exist, nothing was served yet
    with pytest.raises(ProjectError, match="no predictions yet"):
        run_drift(params, current=None, window=ROWS)


def test_cli_error_is_one_line(params: Params, store: str) -> None:
    result = run_cli("drift")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no prediction store at ")
    assert len(result.stderr.strip().splitlines()) == 1
