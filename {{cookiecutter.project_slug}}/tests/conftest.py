"""Tests run in a scratch copy of the project (params.yaml, the bundled data) so they never touch your state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.config import Params, load_params

PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
