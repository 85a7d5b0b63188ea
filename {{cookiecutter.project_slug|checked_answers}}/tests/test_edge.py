"""Edge serving: the export stage's parity gate, and the standalone runtime scoring like the champion."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import onnx_model
from {{ cookiecutter.package_name }}.champion import load_champion
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.onnx_model import PROBABILITY_TOLERANCE, VALUE_TOLERANCE, ParityError
from {{ cookiecutter.package_name }}.schema import MISSING_CATEGORY
from {{ cookiecutter.package_name }}.serving import edge_runtime
from {{ cookiecutter.package_name }}.serving.edge_runtime import EdgeError, EdgeModel, score_file
from {{ cookiecutter.package_name }}.serving.onnx_export import METADATA_FILE, ONNX_FILE, PARITY_FILE, export
from {{ cookiecutter.package_name }}.tracking import get_tracker
from {{ cookiecutter.package_name }}.train import train

RUNTIME = Path(edge_runtime.__file__)
# What a device does not have: the runtime must not import any of it.
TRAINING_STACK = {"pandas", "sklearn", "scipy", "skl2onnx", "onnx", "pydantic", "yaml", "typer"}
PACKAGE = "{{ cookiecutter.package_name }}"


@pytest.fixture
def exported(params: Params) -> Params:
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    evaluate(params, get_tracker())
    export(params)
    return params


def run_runtime(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The runtime as a device runs it: the file alone, isolated (-I: no package directory on sys.path)."""
    command = [sys.executable, "-I", "-X", "importtime", str(RUNTIME), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  (fixed arguments)


def errors_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("import time:")]


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def holdout_rows(count: int) -> tuple[list[str], list[list[str]]]:
    with TEST_FILE.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return header, [list(row) for row in rows[:count]]


@pytest.mark.classification
def test_export_writes_a_checked_model_and_what_the_device_needs(exported: Params) -> None:
    meta = json.loads(METADATA_FILE.read_text(encoding="utf-8"))
    assert meta["onnx"]["sha256"] == hashlib.sha256(ONNX_FILE.read_bytes()).hexdigest()
    assert [f["name"] for f in meta["features"]] == exported.data.features
    kinds = {f["name"]: f["kind"] for f in meta["features"]}
    assert {kinds[name] for name in exported.data.numeric_features} == {"number"}
    assert {kinds[name] for name in exported.data.categorical_features} == {"category"}
    assert meta["missing_category"] == MISSING_CATEGORY
    assert meta["positive_label"] == exported.data.positive_label
    champion = load_champion()
    assert meta["classes"] == champion.model.classes_.tolist()
    assert meta["model_version"] == champion.version

    parity = json.loads(PARITY_FILE.read_text(encoding="utf-8"))
    assert parity["ok"] is True
    assert parity["probability_tolerance"] == PROBABILITY_TOLERANCE
    assert parity["holdout"]["rows"] == len(pd.read_csv(TEST_FILE))
    assert parity["holdout"]["labels_identical"] is True
    assert parity["holdout"]["max_probability_difference"] <= PROBABILITY_TOLERANCE


@pytest.mark.classification
def test_runtime_scores_the_holdout_like_the_champion(exported: Params, tmp_path: Path) -> None:
    output = tmp_path / "predictions.csv"
    report = score_file(TEST_FILE, output, EdgeModel(), latency_calls=50)
    features, _ = load_split(TEST_FILE, exported.data)
    champion = load_champion()
    scored = pd.read_csv(output)

    assert report.rows == len(features) == len(scored)
    assert scored["label"].tolist() == champion.model.predict(features).tolist()
    positive = champion.model.classes_.tolist().index(exported.data.positive_label)
    expected = champion.model.predict_proba(features)
    assert np.abs(scored["probability"].to_numpy() - expected[:, positive]).max() <= PROBABILITY_TOLERANCE + 1e-6
    distribution = [f"probability_{label}" for label in champion.model.classes_.tolist()]
    assert np.abs(scored[distribution].to_numpy() - expected).max() <= PROBABILITY_TOLERANCE + 1e-6  # 6 decimals
    assert scored["prediction_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert scored["prediction_id"].nunique() == len(scored)
    assert (scored["model_version"].astype(str) == champion.version).all()
    passthrough = list(pd.read_csv(TEST_FILE, nrows=0).columns)
    outputs = ["prediction_id", "label", "probability", "model_version", *distribution]
    assert list(scored.columns) == [*passthrough, *outputs]
    assert 0 < report.p50_ms <= report.p99_ms
    assert report.model_kb == pytest.approx(ONNX_FILE.stat().st_size / 1024)
    for shown in ("KB", "rows/s", "p50", "p99"):
        assert shown in report.line()


def test_empty_cells_are_missing_values(exported: Params, tmp_path: Path) -> None:
    features = exported.data.features
    source = write_rows(tmp_path / "blank.csv", features, [[""] * len(features)])
    score_file(source, tmp_path / "out.csv", EdgeModel(), latency_calls=0)
    blank = {name: np.nan for name in exported.data.numeric_features}
    blank |= {name: MISSING_CATEGORY for name in exported.data.categorical_features}
    expected = load_champion().model.predict(pd.DataFrame([blank]))
    if exported.data.regression:
        assert pd.read_csv(tmp_path / "out.csv")["prediction"].tolist() == pytest.approx(expected.tolist(), rel=1e-4)
    else:
        assert pd.read_csv(tmp_path / "out.csv")["label"].tolist() == expected.tolist()


@pytest.mark.usefixtures("exported")
def test_standalone_runtime_imports_nothing_but_numpy_and_onnxruntime(tmp_path: Path) -> None:
    output = tmp_path / "out.csv"
    result = run_runtime("--model", ONNX_FILE, "--input", TEST_FILE, "--output", output)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert {"numpy", "onnxruntime"} <= imported
    assert not imported & {*TRAINING_STACK, PACKAGE}, sorted(imported & {*TRAINING_STACK, PACKAGE})
    assert "KB" in result.stdout
    assert "p99" in result.stdout
    assert len(pd.read_csv(output)) == len(pd.read_csv(TEST_FILE))


def bad_cell(params: Params, kind: str) -> tuple[str, str | None, str]:
    """(column, value, message) for one kind of bad input, on the schema's own columns."""
    data = params.data
    numeric = next(iter(data.numeric_features), None)
    bounded = next((name for name, bounds in data.numeric_features.items() if bounds.max is not None), None)
    if kind == "text" and numeric:
        return numeric, "forty", f"row 2 (line 3): column {numeric!r} must be numeric; found 'forty'"
    if kind == "out-of-bounds" and bounded:
        too_big = data.numeric_features[bounded].max * 2 + 1  # type: ignore[operator]  (bounded has a max)
        return bounded, f"{too_big:g}", f"row 2 (line 3): column {bounded!r} must lie within"
    if kind == "missing-column":
        last = data.features[-1]
        return last, None, f"missing column(s) {last} in the header (line 1)"
    pytest.skip(f"the schema has no column for a {kind} error")


@pytest.mark.parametrize("kind", ["text", "out-of-bounds", "missing-column"])
def test_bad_input_stops_with_one_line_and_no_output(exported: Params, tmp_path: Path, kind: str) -> None:
    column, value, message = bad_cell(exported, kind)
    header, rows = holdout_rows(3)
    at = header.index(column)
    if value is None:
        header, rows = header[:at] + header[at + 1 :], [row[:at] + row[at + 1 :] for row in rows]
    else:
        rows[1][at] = value
    source = write_rows(tmp_path / "bad.csv", header, rows)
    output = tmp_path / "out.csv"
    result = run_runtime("--model", ONNX_FILE, "--input", source, "--output", output)
    assert result.returncode == 2
    errors = errors_of(result)
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {source}: ")
    assert message in errors[0]
    assert not output.exists()
    assert list(tmp_path.glob("*.partial")) == []


def test_cli_predict_reports_bad_input_as_one_line(exported: Params, tmp_path: Path, numeric_column: str) -> None:
    header, rows = holdout_rows(2)
    rows[0][header.index(numeric_column)] = "n/a"
    source = write_rows(tmp_path / "bad.csv", header, rows)
    command = [sys.executable, "-m", PACKAGE, "predict", "-i", str(source), "-o", str(tmp_path / "o.csv")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  (fixed arguments)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {source}: row 1 (line 2): column {numeric_column!r} must be numeric; found 'n/a'"
    ]


@pytest.mark.usefixtures("exported")
def test_tampered_model_is_refused(tmp_path: Path) -> None:
    content = bytearray(ONNX_FILE.read_bytes())
    content[len(content) // 2] ^= 0xFF
    ONNX_FILE.write_bytes(bytes(content))
    with pytest.raises(EdgeError, match=r"sha256 .* does not match .*refusing a tampered or mismatched model"):
        EdgeModel()
    result = run_runtime("--model", ONNX_FILE, "--input", TEST_FILE, "--output", tmp_path / "out.csv")
    assert result.returncode == 2
    assert len(errors_of(result)) == 1
    assert "refusing a tampered" in errors_of(result)[0]


def test_failing_parity_fails_the_stage_and_leaves_no_model(exported: Params, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ONNX_FILE.is_file()
    monkeypatch.setattr(onnx_model, "PROBABILITY_TOLERANCE", -1.0)  # no graph can pass: proves the gate stops it
    monkeypatch.setattr(onnx_model, "VALUE_TOLERANCE", -1.0)
    with pytest.raises(ParityError, match="refused"):
        export(exported)
    assert not ONNX_FILE.exists()
    assert not METADATA_FILE.exists()
    assert json.loads(PARITY_FILE.read_text(encoding="utf-8"))["ok"] is False


def test_a_regressor_exports_its_values_and_the_runtime_scores_like_it(
    regression_workspace: Params, tmp_path: Path
) -> None:
    params = regression_workspace
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    evaluate(params, get_tracker())
    export(params)
    meta = json.loads(METADATA_FILE.read_text(encoding="utf-8"))
    assert meta["task"] == "regression"
    assert "classes" not in meta
    assert "positive_label" not in meta
    parity = json.loads(PARITY_FILE.read_text(encoding="utf-8"))
    assert parity["ok"] is True
    assert parity["holdout"]["max_relative_difference"] <= parity["value_tolerance"] == VALUE_TOLERANCE

    output = tmp_path / "predictions.csv"
    score_file(TEST_FILE, output, EdgeModel(), latency_calls=0)
    scored = pd.read_csv(output)
    passthrough = list(pd.read_csv(TEST_FILE, nrows=0).columns)
    assert list(scored.columns) == [*passthrough, "prediction_id", "prediction", "model_version"]
    features, _ = load_split(TEST_FILE, params.data)
    expected = load_champion().model.predict(features)
    assert scored["prediction"].to_numpy() == pytest.approx(expected, rel=VALUE_TOLERANCE, abs=1e-5)
