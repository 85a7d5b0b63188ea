"""No tracking service: DVC keeps the metrics, and the champion is a skops file under models/."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from ..gate import Decision
from ..model import Champion
from .base import ModelRef
from .champion_file import CHAMPION_FILE, CHAMPION_REF_FILE, read_champion, write_champion


class LocalTracker:
    def __init__(self, model_name: str) -> None:
        self.model_name = model_name
        self.location = str(CHAMPION_REF_FILE)

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

    def log_evaluation(self, ref: ModelRef, metrics: dict[str, float], decision: Decision) -> None:
        """Nothing to do: the evaluate stage's DVC metrics file and reports/promotion.json are the record."""

    def champion(self) -> Champion | None:
        return read_champion()

    def promote(self, ref: ModelRef, model_file: Path) -> None:
        write_champion(ref, model_file, uri=str(CHAMPION_FILE))
