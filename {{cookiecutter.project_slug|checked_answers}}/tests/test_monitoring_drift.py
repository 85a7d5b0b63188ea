"""The drift job on a prediction store filled by the real prediction service: quiet on normal traffic, loud on
drift, and a clear one-line error (exit 2, reports untouched) for inputs it cannot judge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.monitoring.drift import HTML_REPORT, JSON_REPORT, run_drift
from {{ cookiecutter.package_name }}.monitoring.simulate import simulate
from {{ cookiecutter.package_name }}.store import PredictionStore

ROWS = 300
pytestmark = pytest.mark.usefixtures("prepared")


def traffic(params: Params, name: str, *, drift: bool, seed: int) -> pd.DataFrame:
    simulate(params, Path(name), rows=ROWS, drift=drift, labels=False, label_noise=0.0, seed=seed)
    return pd.read_csv(name)


def test_normal_traffic_shows_no_drift(log_predictions, params: Params, store: str) -> None:
    log_predictions(traffic(params, "normal.csv", drift=False, seed=1), store)
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
    # the model's own answers: its newest half against its first half of the same traffic
    assert report.prediction_drift is not None  # a 5% test on any data: its verdict is not asserted here
    assert report.prediction_drift.stattest in {"chisquare", "ks"}
    assert written["prediction_drift_note"] == f"model 7: newest {ROWS // 2} against its first {ROWS // 2}"


def test_drifted_traffic_is_flagged_within_the_window(log_predictions, params: Params, store: str) -> None:
    log_predictions(traffic(params, "normal.csv", drift=False, seed=2), store)
    log_predictions(traffic(params, "drifted.csv", drift=True, seed=3), store)
    report = run_drift(params, current=None, window=ROWS)  # the newest rows only: the drifted ones
    assert report.drift_detected
    assert report.share_drifted_columns >= params.monitoring.drift_share
    assert report.current_rows == ROWS
    assert report.summary_line().startswith("DRIFT: ")
    assert json.loads(JSON_REPORT.read_text(encoding="utf-8"))["drift_detected"] is True
    assert report.prediction_drift is not None
    verdict = "DRIFTED" if report.prediction_drift.drifted else "stable"
    assert f"predictions {verdict} (model 7: newest 300 against its first 300)" in report.summary_line()
    from_file = run_drift(params, current=Path("normal.csv"), window=ROWS)
    assert not from_file.drift_detected
    assert from_file.prediction_drift is None  # a file has no logged predictions to compare


def test_cli_exits_1_on_drift(params: Params, store: str, cli) -> None:
    traffic(params, "drifted.csv", drift=True, seed=4)
    result = cli("drift", "--current", "drifted.csv")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("DRIFT: ")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda rows, column: rows.drop(columns=[column]), "missing column"),
        (lambda rows, column: rows.assign(customer="x"), "unexpected column"),
        (lambda rows, column: rows.assign(**{column: "old"}), "column {column!r} must be numeric"),
        (lambda rows, column: rows.head(0), "no rows"),
        (lambda rows, column: rows.head(5), "drift needs at least"),
    ],
    ids=["missing-column", "extra-column", "wrong-type", "empty", "too-few-rows"],
)
def test_unusable_current_file_is_a_clear_error(
    params: Params, store: str, numeric_column: str, change, message: str
) -> None:
    change(traffic(params, "rows.csv", drift=False, seed=5), numeric_column).to_csv("bad.csv", index=False)
    with pytest.raises(ProjectError, match=re.escape(message.format(column=numeric_column))):
        run_drift(params, current=Path("bad.csv"), window=ROWS)


def test_empty_or_missing_store_is_a_clear_error(params: Params, store: str) -> None:
    with pytest.raises(ProjectError, match="no prediction store"):
        run_drift(params, current=None, window=ROWS)
    PredictionStore.writer(store).close()  # the tables exist, nothing was served yet
    with pytest.raises(ProjectError, match="no predictions yet"):
        run_drift(params, current=None, window=ROWS)


def test_cli_error_is_one_line(params: Params, store: str, cli) -> None:
    result = cli("drift")
    assert result.returncode == 2
    assert result.stderr.startswith("error: no prediction store at ")
    assert len(result.stderr.strip().splitlines()) == 1


def _directory(path: Path) -> None:
    path.mkdir()


def _corrupt(path: Path) -> None:
    path.write_bytes(b"\x1f\x8b\x08\x00 not gzip data" if path.suffix == ".gz" else b"PK\x03\x04 not a zip")


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("current", _directory, "a directory, not a CSV file"),
        ("current.csv.gz", _corrupt, "not a readable CSV"),
        ("current.csv.zip", _corrupt, "not a readable CSV"),
    ],
    ids=["directory", "corrupt-gzip", "corrupt-zip"],
)
def test_unreadable_current_file_is_one_line(params: Params, store: str, name: str, make, message: str) -> None:
    """A file the job cannot read is bad input (exit 2), never a verdict (exit 1)."""
    make(Path(name))
    with pytest.raises(ProjectError, match=f"^{re.escape(name)}: {message}") as error:
        run_drift(params, current=Path(name), window=ROWS)
    assert len(str(error.value).splitlines()) == 1


def test_all_missing_rows_are_bad_input_and_leave_the_reports(params: Params, store: str) -> None:
    normal = traffic(params, "normal.csv", drift=False, seed=6)
    run_drift(params, current=Path("normal.csv"), window=ROWS)
    before = JSON_REPORT.read_bytes(), HTML_REPORT.stat().st_mtime_ns
    normal.assign(**dict.fromkeys(params.data.features)).to_csv("blank.csv", index=False)
    with pytest.raises(ProjectError, match=r"^blank\.csv: every feature value of its 300 rows is missing"):
        run_drift(params, current=Path("blank.csv"), window=ROWS)
    assert (JSON_REPORT.read_bytes(), HTML_REPORT.stat().st_mtime_ns) == before


def test_header_only_file_is_named(params: Params, store: str) -> None:
    traffic(params, "rows.csv", drift=False, seed=7).head(0).to_csv("header.csv", index=False)
    with pytest.raises(ProjectError, match=r"^header\.csv: no rows"):
        run_drift(params, current=Path("header.csv"), window=ROWS)
