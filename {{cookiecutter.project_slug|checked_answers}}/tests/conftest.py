"""Tests run in a scratch copy of the project (params.yaml, the bundled data) so they never touch your state.

Shared here: the workspace, a small trained predictor (once per session), a fresh prediction store and the CLI.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
import yaml

from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.model import Champion, build_pipeline
from {{ cookiecutter.package_name }}.predictor import Predictor, ScoredRows
from {{ cookiecutter.package_name }}.serving.service import PredictionService
from {{ cookiecutter.package_name }}.store import STORE_URL_ENV, PredictionStore
from {{ cookiecutter.package_name }}.train import fit_with_progress

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
MODEL_VERSION = "7"

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary project root with params.yaml (small forest, for speed) and the raw data."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["n_estimators"] = 30
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    data_path = Path(params["data"]["path"])
    (tmp_path / data_path).parent.mkdir(parents=True)
    shutil.copyfile(PROJECT_ROOT / data_path, tmp_path / data_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STORE_URL_ENV, raising=False)
{%- if cookiecutter.tracking in ["mlflow", "mlflow-server"] %}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
{%- elif cookiecutter.tracking == "wandb" %}
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
{%- endif %}
    return tmp_path


@pytest.fixture
def params(workspace: Path) -> Params:
    return load_params()


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    """Trained once per session: a 30-tree forest on the bundled data's training split, checked as ONNX."""
    params = load_params(PROJECT_ROOT / "params.yaml")
    data = params.data.model_copy(update={"path": PROJECT_ROOT / params.data.path})
    train = prepare(data).train
    model = build_pipeline(data, params.train.model_copy(update={"n_estimators": 30}))
    fit_with_progress(model, train[data.features], train[data.target])
    return Predictor(Champion(model, MODEL_VERSION), params.data)


@pytest.fixture
def store(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The URL of a fresh prediction store in the workspace, also set as PREDICTION_STORE_URL."""
    url = f"sqlite:///{workspace / 'predictions.db'}"
    monkeypatch.setenv(STORE_URL_ENV, url)
    return url


@pytest.fixture
def cli() -> Cli:
    """Run `python -m {{ cookiecutter.package_name }} ARGS...` as a user would; returns the finished process."""

    def run(*args: str | Path, **options: object) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", PACKAGE, *map(str, args)]
        return subprocess.run(command, capture_output=True, text=True, check=False, **options)  # noqa: S603

    return run


@pytest.fixture
def prepared(params: Params) -> None:
    """The prepared train/test splits the monitors and the export read (`dvc repro`'s first stage)."""
    write_prepared(prepare(params.data))


@pytest.fixture
def log_predictions(predictor: Predictor, params: Params) -> Callable[[pd.DataFrame, str], ScoredRows]:
    """Score rows and log them exactly as a serving adapter does: one request through the PredictionService."""

    def log(rows: pd.DataFrame, url: str) -> ScoredRows:
        with PredictionStore.writer(url) as store:
            return PredictionService(params.data, "test", store, predictor=predictor).predict_frame(rows)

    return log


@pytest.fixture
def crafted_model() -> Callable[[Path, Path], Path]:
    """Write an attacker's skops file: its only node asks skops to call builtins.eval, which writes `marker`."""

    def write(path: Path, marker: Path) -> Path:
        """A skops file that, once loaded, writes `marker` through builtins.eval."""
        code = f"open({str(marker)!r}, 'w').write('code ran')"
        argument = json.loads(zipfile.ZipFile(io.BytesIO(sio.dumps((code,)))).read("schema.json"))
        node = {
            "__class__": "eval",
            "__module__": "builtins",
            "__loader__": "ConstructorFromReduceNode",
            "content": argument,
            "protocol": argument.pop("protocol"),
            "_skops_version": argument.pop("_skops_version"),
        }
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("schema.json", json.dumps(node))
        return path

    return write
