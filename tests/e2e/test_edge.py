"""Edge serving, for every tracking backend: `dvc repro` exports a parity-checked ONNX model, and the runtime
scores like the scikit-learn champion both through the CLI and standalone on a "device": a separate virtual
environment holding only onnxruntime and numpy (created once per session, from the project's own pins).
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import pair_params
from .projects import TRACKINGS, UV, Project

PAIRS = [("edge", tracking) for tracking in TRACKINGS]
DEVICE_PACKAGES = ("numpy", "onnxruntime")
OUTPUT_COLUMNS = ["prediction_id", "label", "probability", "model_version"]
TEST_FILE = "data/prepared/test.csv"

CHAMPION_SCRIPT = """
import json
from {package}.champion import load_champion
from {package}.config import load_params
from {package}.data import TEST_FILE, load_split

params = load_params()
features, _ = load_split(TEST_FILE, params.data)
champion = load_champion()
positive = champion.model.classes_.tolist().index(params.data.positive_label)
print(json.dumps({{
    "version": champion.version,
    "labels": champion.model.predict(features).tolist(),
    "probabilities": champion.model.predict_proba(features)[:, positive].tolist(),
}}))
"""


def run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="session")
def device(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Project], Path]:
    """The python of a venv with only onnxruntime and numpy, pinned as the project pins them; built once."""
    built: list[Path] = []

    def get(project: Project) -> Path:
        if built:
            return built[0]
        root = tmp_path_factory.mktemp("device")
        python = root / ".venv" / "bin" / "python"
        dependencies = tomllib.loads((project.root / "pyproject.toml").read_text())["project"]["dependencies"]
        pins = [spec for spec in dependencies if spec.split(">")[0].split("=")[0].strip() in DEVICE_PACKAGES]
        assert len(pins) == len(DEVICE_PACKAGES), dependencies
        for command in (
            [UV, "venv", "--quiet", "--python", project.python, ".venv"],
            [UV, "pip", "install", "--quiet", "--python", python, *pins],
        ):
            result = run(command, cwd=root)
            assert result.returncode == 0, result.stderr
        for absent in ("pandas", "sklearn", "pydantic", project.package):
            result = run([python, "-c", f"import {absent}"], cwd=root)
            assert result.returncode == 1
            assert f"No module named '{absent}'" in result.stderr
        built.append(python)
        return python

    return get


def device_env() -> dict[str, str]:
    """Nothing from the project's environment: no venv on PATH, no PYTHONPATH."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def install_on_device(p: Project, target: Path) -> Path:
    """Copy what a device receives: the runtime file, the model and its metadata."""
    (target / "models").mkdir(parents=True)
    shutil.copy2(p.root / "src" / p.package / "serving" / "edge_runtime.py", target / "edge_runtime.py")
    for name in ("model.onnx", "model.json"):
        shutil.copy2(p.root / "models" / name, target / "models" / name)
    return target


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_pipeline_exports_a_parity_checked_model(project, serving, tracking) -> None:
    p = project(serving, tracking)
    assert "export" in p.run(p.python, "-m", "dvc", "stage", "list").stdout
    onnx_file, meta = p.root / "models" / "model.onnx", read_json(p.root / "models" / "model.json")
    assert meta["onnx"]["sha256"] == hashlib.sha256(onnx_file.read_bytes()).hexdigest()
    assert meta["onnx"]["opset"] == 17
    assert meta["onnx"]["opsets"] == {"": 17, "ai.onnx.ml": 3}
    assert meta["classes"] == [0, 1]
    assert meta["positive_label"] == 1
    assert meta["missing_category"] == "missing"
    assert [f["kind"] for f in meta["features"]] == ["number"] * 5 + ["category"] * 4
    champion = json.loads(p.run(p.python, "-c", CHAMPION_SCRIPT.format(package=p.package)).stdout.splitlines()[-1])
    assert meta["model_version"] == champion["version"]

    parity = read_json(p.root / "reports" / "onnx_parity.json")
    assert parity["ok"] is True
    assert parity["probability_tolerance"] == meta["probability_tolerance"] == 1e-4
    assert parity["holdout"]["rows"] == len(champion["labels"])
    assert parity["holdout"]["labels_identical"] is True
    assert parity["holdout"]["max_probability_difference"] <= parity["probability_tolerance"]
    assert "onnx_parity.json" in p.run(p.python, "-m", "dvc", "metrics", "show").stdout
    status = p.run(p.python, "-m", "dvc", "status", "export").stdout
    assert "up to date" in status, status


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_cli_and_device_score_like_the_champion(project, device, serving, tracking, tmp_path) -> None:
    p = project(serving, tracking)
    python = device(p)
    champion = json.loads(p.run(p.python, "-c", CHAMPION_SCRIPT.format(package=p.package)).stdout.splitlines()[-1])
    tolerance = read_json(p.root / "reports" / "onnx_parity.json")["probability_tolerance"]
    inputs = read_rows(p.root / TEST_FILE)

    made = p.run("make", "predict")
    assert "KB" in made.stdout
    assert "p99" in made.stdout
    on_device = install_on_device(p, tmp_path / "device")
    command = [python, "edge_runtime.py", "--model", "models/model.onnx"]
    standalone = run([*command, "--input", p.root / TEST_FILE, "--output", "out.csv"], on_device, device_env())
    assert standalone.returncode == 0, standalone.stderr
    print(f"{tracking}: make predict: {made.stdout.strip().splitlines()[-1]}\n  device: {standalone.stdout.strip()}")

    for output in (p.root / "reports" / "predictions.csv", on_device / "out.csv"):
        scored = read_rows(output)
        assert list(scored[0]) == [*inputs[0], *OUTPUT_COLUMNS, "probability_0", "probability_1"]  # churn's classes
        assert [row["label"] for row in scored] == [str(label) for label in champion["labels"]]
        probabilities = [float(row["probability"]) for row in scored]
        differences = [abs(a - b) for a, b in zip(probabilities, champion["probabilities"], strict=True)]
        assert max(differences) <= tolerance + 1e-6  # the CSV keeps 6 decimals
        assert {row["model_version"] for row in scored} == {champion["version"]}
        assert len({row["prediction_id"] for row in scored}) == len(scored)
        assert [{k: row[k] for k in inputs[0]} for row in scored] == inputs  # passthrough untouched


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_bad_input_and_tampered_model_are_refused(project, device, serving, tracking, tmp_path) -> None:
    p = project(serving, tracking)
    python = device(p)
    on_device = install_on_device(p, tmp_path / "device")
    rows = read_rows(p.root / TEST_FILE)[:5]
    rows[3]["monthly_charges"] = "lots"
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    expected = f"error: {bad}: row 4 (line 5): column 'monthly_charges' must be numeric; found 'lots'"

    command = [python, "edge_runtime.py", "--model", "models/model.onnx", "--output", "out.csv"]
    assert one_error_line(run([*command, "--input", bad], on_device, device_env())) == expected
    assert not (on_device / "out.csv").exists()
    assert one_error_line(p.cli("predict", "--input", bad, "--output", tmp_path / "cli.csv", check=False)) == expected
    assert not (tmp_path / "cli.csv").exists()

    header_only = tmp_path / "columns.csv"
    header_only.write_text("tenure_months,age\n1,2\n", encoding="utf-8")
    error = one_error_line(run([*command, "--input", header_only], on_device, device_env()))
    assert "missing column(s) monthly_charges" in error

    model = on_device / "models" / "model.onnx"
    content = bytearray(model.read_bytes())
    content[len(content) // 3] ^= 0x01  # one bit: still a loadable graph, no longer the exported one
    model.write_bytes(bytes(content))
    error = one_error_line(run([*command, "--input", p.root / TEST_FILE], on_device, device_env()))
    assert "refusing a tampered or mismatched model" in error
    assert not (on_device / "out.csv").exists()
