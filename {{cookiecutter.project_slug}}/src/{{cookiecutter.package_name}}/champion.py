"""Where serving finds the champion model: an exported copy in $MODEL_DIR when that is set (what the container
image carries, written by `export-champion`), else {% if cookiecutter.tracking in ['mlflow', 'mlflow-server'] %}the MLflow registry's `champion` alias{% elif cookiecutter.tracking == 'wandb' %}the local mirror of the W&B `champion` artifact{% else %}the champion file under models/{% endif %}.

The exported copy lets a container serve without the tracking store: no database, server or account at run time,
and the image is tied to exactly one model version.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from sklearn.pipeline import Pipeline

from .errors import ModelNotFoundError
from .model import load_model, save_model

MODEL_DIR_ENV = "MODEL_DIR"
EXPORTED_MODEL = "champion.skops"
EXPORTED_VERSION = "champion.json"


@dataclass(frozen=True)
class Champion:
    model: Pipeline
    version: str


def load_champion() -> Champion:
    """The exported champion when $MODEL_DIR is set, else the one the tracking backend holds."""
    model_dir = os.environ.get(MODEL_DIR_ENV)
    return load_exported(Path(model_dir)) if model_dir else load_tracked()


def load_tracked() -> Champion:
    # Imported here so a container serving from $MODEL_DIR never loads the tracking backend.
{%- if cookiecutter.tracking in ["mlflow", "mlflow-server"] %}
    from .tracking import MODEL_NAME
    from .tracking.base import CHAMPION_ALIAS
    from .tracking.mlflow_backend import MlflowException, mlflow

    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version
    except MlflowException:
        uri = mlflow.get_tracking_uri()
        raise ModelNotFoundError(f"no {CHAMPION_ALIAS} model {MODEL_NAME} in {uri} (run `dvc repro` first)") from None
    return Champion(mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}"), str(version))
{%- else %}
    from .tracking.base import CHAMPION_FILE, CHAMPION_REF_FILE, ModelRef

    if not CHAMPION_REF_FILE.is_file():
        raise ModelNotFoundError(f"{CHAMPION_REF_FILE}: no champion yet (run `dvc repro` first)")
    return Champion(load_model(CHAMPION_FILE), ModelRef.read(CHAMPION_REF_FILE).version)
{%- endif %}


def export_champion(directory: Path) -> Champion:
    """Copy the tracked champion to `directory` (skops file + version) for a container image to carry."""
    champion = load_tracked()
    save_model(champion.model, directory / EXPORTED_MODEL)
    version = json.dumps({"version": champion.version}, indent=2) + "\n"
    (directory / EXPORTED_VERSION).write_text(version, encoding="utf-8")
    return champion


def load_exported(directory: Path) -> Champion:
    version_file = directory / EXPORTED_VERSION
    if not version_file.is_file():
        raise ModelNotFoundError(
            f"{version_file}: no exported champion (${MODEL_DIR_ENV} is set; run `export-champion` to fill it)"
        )
    version = json.loads(version_file.read_text(encoding="utf-8"))["version"]
    return Champion(load_model(directory / EXPORTED_MODEL), str(version))
