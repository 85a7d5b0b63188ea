"""Tests run in a scratch copy of the project (params.yaml, the bundled data) so they never touch your state.

Shared here: the workspace, a small trained predictor (once per session), a fresh prediction store, the CLI{% if cookiecutter.serving == "fastapi" %},
and the REST app in process (`serve`, `client`){% endif %}.
Tests marked `classification` are about classes and probabilities and are skipped when params.yaml's task is
regression; test_regression.py covers regression in every project, on params.yaml's data when its task is
regression and otherwise on a regression view of it (one of its numeric features as the target).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable{% if cookiecutter.serving == "fastapi" %}, Iterator{% endif %}
from pathlib import Path

import pandas as pd
import pytest
import skops.io as sio
import yaml
{%- if cookiecutter.serving == "fastapi" %}
from fastapi import FastAPI
from fastapi.testclient import TestClient
{%- endif %}

from {{ cookiecutter.package_name }}.config import Params, TrainParams, load_params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.estimators import FAMILIES
from {{ cookiecutter.package_name }}.model import Champion, build_pipeline
from {{ cookiecutter.package_name }}.predictor import Predictor, ScoredRows
{%- if cookiecutter.serving == "fastapi" %}
from {{ cookiecutter.package_name }}.serving import rest
from {{ cookiecutter.package_name }}.serving.request_models import MAX_BATCH_SIZE_ENV
{%- endif %}
from {{ cookiecutter.package_name }}.serving.service import PredictionService
from {{ cookiecutter.package_name }}.store import STORE_URL_ENV, PredictionStore
from {{ cookiecutter.package_name }}.train import fit_with_progress

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "{{ cookiecutter.package_name }}"
MODEL_VERSION = "7"
QUICK_TREES = 30


def quick_training(train: dict) -> dict:
    """params.yaml's `train` section with fewer trees for every tree family: same code paths, seconds faster."""
    for family in ("random_forest", "gradient_boosting"):
        train.setdefault(family, {})["n_estimators"] = QUICK_TREES
    return train


Cli = Callable[..., subprocess.CompletedProcess[str]]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if load_params(PROJECT_ROOT / "params.yaml").data.regression:
        skip = pytest.mark.skip(reason="params.yaml's task is regression (test_regression.py covers it)")
        for item in items:
            if "classification" in item.keywords:
                item.add_marker(skip)


def regression_view(params: dict) -> dict:
    """params.yaml's content for a regression task: itself when it is one, else the numeric feature the other
    numbers explain best (the strongest correlation: a real regression on the data's own numbers) becomes the target,
    with the regression metric and thresholds."""
    if params["data"].get("task") == "regression":
        return params
    numeric = dict(params["data"]["numeric_features"])
    if len(numeric) < 2:
        pytest.skip("fewer than two numeric features: none to predict from the others")
    correlation = pd.read_csv(PROJECT_ROOT / params["data"]["path"])[list(numeric)].corr().abs()
    target = str((correlation.sum() - 1).idxmax())
    del numeric[target]
    data = {key: value for key, value in params["data"].items() if key != "positive_label"}
    data |= {"target": target, "task": "regression", "numeric_features": numeric}
    data["categorical_features"] = params["data"].get("categorical_features") or {}
    if not numeric and not data["categorical_features"]:
        pytest.skip("no feature left once the numeric one is the regression target")
    kept = {key: params["monitoring"][key] for key in ("drift_share", "max_error_rate", "min_outcomes")}
    monitoring = kept | {"max_rmse": 1e12, "min_r2": -1e12}  # thresholds tests override
    return params | {"data": data, "evaluate": {"metric": "rmse", "min_improvement": 0.001}, "monitoring": monitoring}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary project root with params.yaml (fewer trees, for speed) and the raw data."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["train"] = quick_training(params["train"])
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


@pytest.fixture
def quick_train(params: Params) -> TrainParams:
    """params.yaml's train section with fewer trees."""
    return TrainParams.model_validate(quick_training(params.train.model_dump()))


@pytest.fixture
def numeric_column(params: Params) -> str:
    """The schema's first numeric feature: tests read the schema, never the bundled data's column names."""
    if not params.data.numeric_features:
        pytest.skip("the schema in params.yaml has no numeric feature")
    return next(iter(params.data.numeric_features))


@pytest.fixture
def categorical_column(params: Params) -> str:
    """The schema's first categorical feature; the test is skipped when the data has none."""
    if not params.data.categorical_features:
        pytest.skip("the schema in params.yaml has no categorical feature")
    return next(iter(params.data.categorical_features))


@pytest.fixture
def classes(predictor: Predictor) -> list[int | str]:
    """The model's classes as plain Python values (0 and 1 for the bundled data)."""
    return [known.item() if hasattr(known, "item") else known for known in predictor.scorer.classes]


@pytest.fixture
def wrong_class(params: Params, classes: list[int | str]) -> tuple[int | str, str]:
    """An outcome of the target's type that is no class, and the one-line error it must get."""
    wrong: int | str = max(classes) + 7 if isinstance(params.data.positive_label, int) else "no-such-class"
    return wrong, f"actual must be one of the model's classes ({', '.join(map(str, classes))}); got {wrong!r}"


@pytest.fixture(params=sorted(FAMILIES))
def family_params(request: pytest.FixtureRequest, params: Params) -> Params:
    """params.yaml with each model family in turn (quick), for tests every family must pass."""
    train = TrainParams.model_validate(quick_training(params.train.model_dump()) | {"family": request.param})
    return params.model_copy(update={"train": train})


@pytest.fixture(scope="session")
def predictor() -> Predictor:
    """Trained once per session: params.yaml's family, quick, on the training split, checked as ONNX."""
    params = load_params(PROJECT_ROOT / "params.yaml")
    data = params.data.model_copy(update={"path": PROJECT_ROOT / params.data.path})
    train = prepare(data).train
    model = build_pipeline(data, TrainParams.model_validate(quick_training(params.train.model_dump())))
    fit_with_progress(model, train[data.features], train[data.target])
    return Predictor(Champion(model, MODEL_VERSION), params.data)


@pytest.fixture(scope="session")
def regressor() -> Predictor:
    """A regressor of params.yaml's family on the regression view of the data, trained once per session."""
    raw = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params = Params.model_validate(regression_view(raw))
    data = params.data.model_copy(update={"path": PROJECT_ROOT / params.data.path})
    train = prepare(data).train
    model = build_pipeline(data, TrainParams.model_validate(quick_training(params.train.model_dump())))
    fit_with_progress(model, train[data.features], train[data.target])
    return Predictor(Champion(model, MODEL_VERSION), params.data)


@pytest.fixture
def regression_workspace(workspace: Path) -> Params:
    """The workspace with params.yaml rewritten to its regression view."""
    raw = yaml.safe_load((workspace / "params.yaml").read_text(encoding="utf-8"))
    (workspace / "params.yaml").write_text(yaml.safe_dump(regression_view(raw)), encoding="utf-8")
    return load_params()


@pytest.fixture(scope="session")
def boolean_predictor(tmp_path_factory: pytest.TempPathFactory) -> Predictor:
    """A model whose classes are booleans (the target reads "is it the positive label?"), as a CSV of
    true/false values trains it: what comes back and what /feedback takes must be True and False, never 1 and 0."""
    params = load_params(PROJECT_ROOT / "params.yaml")
    frame = pd.read_csv(PROJECT_ROOT / params.data.path)
    frame[params.data.target] = frame[params.data.target].astype(str) == str(params.data.positive_label)
    path = tmp_path_factory.mktemp("boolean") / "boolean.csv"
    frame.to_csv(path, index=False)
    data = params.data.model_copy(update={"path": path, "positive_label": True})
    train = prepare(data).train
    model = build_pipeline(data, TrainParams.model_validate(quick_training(params.train.model_dump())))
    fit_with_progress(model, train[data.features], train[data.target])
    assert model.classes_.tolist() == [False, True]
    return Predictor(Champion(model, MODEL_VERSION), data)


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
{%- if cookiecutter.serving == "fastapi" %}


@pytest.fixture
def serve(params: Params, predictor: Predictor, store: str, monkeypatch: pytest.MonkeyPatch):
    """Build an app on the champion; `with serve(...) as client:` runs its startup and, on exit, its shutdown."""
    monkeypatch.delenv(rest.API_KEY_ENV, raising=False)
    monkeypatch.delenv(MAX_BATCH_SIZE_ENV, raising=False)

    def build(**options: object) -> TestClient:
        served = options.pop("predictor", predictor)
        schema = params.model_copy(update={"data": served.data})  # the served model's schema
        app: FastAPI = rest.create_app(schema, served, prediction_store_url=store, **options)
        return TestClient(app)

    return build


@pytest.fixture
def client(serve) -> Iterator[TestClient]:
    with serve() as client:
        yield client
{%- endif %}
