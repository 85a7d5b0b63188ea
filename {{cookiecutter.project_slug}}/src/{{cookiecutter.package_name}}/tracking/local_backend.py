"""No tracking service: DVC keeps the metrics, and the champion is a skops file under models/."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from ..model import load_model
from .base import CHAMPION_FILE, CHAMPION_REF_FILE, ModelRef


class LocalTracker:
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

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
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return ModelRef(version=digest, run_id=run_id, uri=str(model_file))

    def log_evaluation(self, ref: ModelRef, metrics: dict[str, float], promoted: bool) -> None:
        """Nothing to do: the evaluate stage's DVC metrics file is the record."""

    def load_champion(self) -> Pipeline | None:
        return load_model(CHAMPION_FILE) if CHAMPION_FILE.is_file() else None

    def champion_version(self) -> str | None:
        return ModelRef.read(CHAMPION_REF_FILE).version if CHAMPION_REF_FILE.is_file() else None

    def promote(self, ref: ModelRef, model_file: Path) -> None:
        CHAMPION_FILE.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_file, CHAMPION_FILE)
        ModelRef(version=ref.version, run_id=ref.run_id, uri=str(CHAMPION_FILE)).write(CHAMPION_REF_FILE)
