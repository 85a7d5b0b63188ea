"""MLflow runs, the model registry and its `champion` alias.
{%- if cookiecutter.tracking == "mlflow" %}

Embedded by default: a SQLite store (mlflow.db) and artifacts (mlruns/) inside the project, no server.
Point MLFLOW_TRACKING_URI at a tracking server to share runs.
{%- else %}

Talks to the tracking server named by MLFLOW_TRACKING_URI (docker-compose.yml runs one on port 5000).
{%- endif %}
"""

from __future__ import annotations

import os
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# MLflow's INFO lines (creating tables, experiments, "Detected uv project") would bury the progress bar.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
# Downloads print a progress bar on stderr; commands keep stderr for their one-line errors.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
{%- if cookiecutter.tracking == "mlflow" %}
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
{%- else %}
os.environ.setdefault("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
# Fail in seconds, not minutes, when the server is down.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
{%- endif %}

# Imported after the settings above, which MLflow reads at import time.
import logging

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from ..errors import ModelNotFoundError, TrackingUnavailableError
from ..gate import Decision
from ..model import Champion, load_model, trusted_types
from ..redaction import first_line, redact
from .base import CHAMPION_ALIAS, ModelRef

# A uv environment has no pip, so MLflow warns that it cannot pin pip in the model's conda.yaml; the requirements
# that matter are listed below, and a warning on every training run would teach people to ignore warnings.
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)

# Listing requirements ourselves saves MLflow ~6 s of inference per logged model.
MODEL_REQUIREMENTS = [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "numpy", "pandas")]


class MlflowTracker:
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.client = mlflow.MlflowClient()
        self.location = f"the MLflow registry at {redact(mlflow.get_tracking_uri())} (model {model_name})"

    def _unavailable(self, exc: Exception) -> TrackingUnavailableError:
        return TrackingUnavailableError(f"{self.location} cannot be used: {first_line(exc)}")

    def log_training(
        self,
        *,
        params: dict[str, Any],
        metrics: dict[str, float],
        model: Pipeline,
        example: pd.DataFrame,
        tags: dict[str, str],
        model_file: Path,
    ) -> ModelRef:
        try:
            mlflow.set_experiment(self.model_name)
        except MlflowException as exc:
            raise self._unavailable(exc) from None
        with mlflow.start_run(tags=tags) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=self.model_name,
                signature=infer_signature(example, model.predict(example)),
                input_example=example,
                pip_requirements=MODEL_REQUIREMENTS,
                skops_trusted_types=trusted_types(model_file),
            )
        model_version = str(info.registered_model_version)
        for key, value in tags.items():
            self.client.set_model_version_tag(self.model_name, model_version, key, value)
        return ModelRef(
            version=model_version,
            run_id=run.info.run_id,
            uri=f"models:/{self.model_name}/{model_version}",
        )

    def log_evaluation(self, ref: ModelRef, metrics: dict[str, float], decision: Decision) -> None:
        for key, value in metrics.items():
            self.client.log_metric(ref.run_id, f"test_{key}", value)
        self.client.set_tag(ref.run_id, "promoted", str(decision.promoted).lower())
        self.client.set_tag(ref.run_id, "gate_reason", decision.reason)

    def champion(self) -> Champion | None:
        """The aliased version's skops file, downloaded and loaded through the allowlist (never MLflow's loader,
        which would trust whatever types the MLmodel file lists)."""
        version = self._champion_version()
        if version is None:
            return None
        try:
            with tempfile.TemporaryDirectory(prefix="champion-") as scratch:
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=f"models:/{self.model_name}/{version}", dst_path=scratch
                )
                files = sorted(Path(local).rglob("*.skops"))
                if not files:
                    raise ModelNotFoundError(f"{self.location}: version {version} holds no skops model file")
                return Champion(load_model(files[0]), version)
        except (MlflowException, OSError) as exc:
            raise self._unavailable(exc) from None

    def _champion_version(self) -> str | None:
        try:
            aliases = self.client.get_registered_model(self.model_name).aliases
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":  # nothing registered yet
                return None
            raise self._unavailable(exc) from None
        except OSError as exc:  # connection errors that MLflow does not wrap
            raise self._unavailable(exc) from None
        return str(aliases[CHAMPION_ALIAS]) if CHAMPION_ALIAS in aliases else None

    def promote(self, ref: ModelRef, model_file: Path) -> None:
        self.client.set_registered_model_alias(self.model_name, CHAMPION_ALIAS, ref.version)
