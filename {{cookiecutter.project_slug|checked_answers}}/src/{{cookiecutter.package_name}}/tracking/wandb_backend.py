"""Weights & Biases: offline by default (no login, no network), online as soon as WANDB_API_KEY is set.

Every training run logs its config, metrics and the model as a `model` artifact aliased `challenger`;
a promotion logs the same file again aliased `champion` (W&B deduplicates the content). The champion is
also mirrored under models/ so evaluation and serving work offline.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("WANDB_MODE", "online" if os.environ.get("WANDB_API_KEY") else "offline")
os.environ.setdefault("WANDB_SILENT", "true")

import pandas as pd
import wandb
from sklearn.pipeline import Pipeline

from ..gate import Decision
from ..model import Champion
from .base import CHAMPION_ALIAS, ModelRef
from .champion_file import CHAMPION_REF_FILE, read_champion, write_champion


class WandbTracker:
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.project = os.environ.get("WANDB_PROJECT", model_name)
        self.location = f"{CHAMPION_REF_FILE} (the local mirror of the W&B {CHAMPION_ALIAS!r} artifact)"

    def _init(self, job_type: str, config: dict[str, Any]) -> wandb.Run:
        """A run whose files land in $WANDB_DIR (default: here), read per call as W&B caches it per process."""
        return wandb.init(project=self.project, job_type=job_type, config=config, dir=os.environ.get("WANDB_DIR", "."))

    def _model_artifact(self, model_file: Path, metadata: dict[str, Any]) -> wandb.Artifact:
        artifact = wandb.Artifact(self.model_name, type="model", metadata=metadata)
        artifact.add_file(str(model_file), name="model.skops")
        return artifact

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
        digest = hashlib.sha256(model_file.read_bytes()).hexdigest()[:12]
        with self._init("train", {**params, **tags}) as run:
            run.summary.update(metrics)
            run.log_artifact(self._model_artifact(model_file, {**tags, "digest": digest}), aliases=["challenger"])
            run_id = run.id
        return ModelRef(version=digest, run_id=run_id, uri=f"{self.project}/{self.model_name}:challenger")

    def log_evaluation(self, ref: ModelRef, metrics: dict[str, float], decision: Decision) -> None:
        with self._init("evaluate", {"challenger": ref.version}) as run:
            run.summary.update({f"test_{name}": value for name, value in metrics.items()})
            run.summary.update({"promoted": decision.promoted, "gate_reason": decision.reason})

    def champion(self) -> Champion | None:
        return read_champion()

    def promote(self, ref: ModelRef, model_file: Path) -> None:
        with self._init("promote", {"champion": ref.version}) as run:
            artifact = self._model_artifact(model_file, {"digest": ref.version, "trained_by_run": ref.run_id})
            run.log_artifact(artifact, aliases=[CHAMPION_ALIAS])
        write_champion(ref, model_file, uri=f"{self.project}/{self.model_name}:{CHAMPION_ALIAS}")
