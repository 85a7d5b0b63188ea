"""Where serving finds the champion model: {% if cookiecutter.tracking in ['mlflow', 'mlflow-server'] %}the MLflow registry's `champion` alias{% elif cookiecutter.tracking == 'wandb' %}the local mirror of the W&B `champion` artifact{% else %}the champion file under models/{% endif %}."""

from __future__ import annotations

from dataclasses import dataclass
{%- if cookiecutter.tracking in ["mlflow", "mlflow-server"] %}

from sklearn.pipeline import Pipeline

from .errors import ModelNotFoundError
from .tracking import MODEL_NAME
from .tracking.base import CHAMPION_ALIAS
from .tracking.mlflow_backend import MlflowException, mlflow
{%- else %}

from sklearn.pipeline import Pipeline

from .errors import ModelNotFoundError
from .model import load_model
from .tracking.base import CHAMPION_FILE, CHAMPION_REF_FILE, ModelRef
{%- endif %}


@dataclass(frozen=True)
class Champion:
    model: Pipeline
    version: str


def load_champion() -> Champion:
{%- if cookiecutter.tracking in ["mlflow", "mlflow-server"] %}
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS).version
    except MlflowException:
        uri = mlflow.get_tracking_uri()
        raise ModelNotFoundError(f"no {CHAMPION_ALIAS} model {MODEL_NAME} in {uri} (run `dvc repro` first)") from None
    return Champion(mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}"), str(version))
{%- else %}
    if not CHAMPION_REF_FILE.is_file():
        raise ModelNotFoundError(f"{CHAMPION_REF_FILE}: no champion yet (run `dvc repro` first)")
    return Champion(load_model(CHAMPION_FILE), ModelRef.read(CHAMPION_REF_FILE).version)
{%- endif %}
