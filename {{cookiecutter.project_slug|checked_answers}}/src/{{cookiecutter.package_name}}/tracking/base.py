"""What every tracking backend offers: record a training run, and the champion: read it, promote a challenger."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from sklearn.pipeline import Pipeline

from ..gate import Decision
from ..model import Champion

CHAMPION_ALIAS = "champion"


@dataclass(frozen=True)
class ModelRef:
    """Where a backend keeps one trained model; passed from the train stage to evaluate in a JSON file."""

    version: str
    run_id: str
    uri: str

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path) -> ModelRef:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


class Tracker(Protocol):
    location: str
    """Where the champion is kept, safe to print (credentials redacted)."""

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
        """Record a run with its parameters, metrics and model; return where the model now lives."""
        ...

    def log_evaluation(self, ref: ModelRef, metrics: dict[str, float], decision: Decision) -> None:
        """Attach holdout metrics and the gate's decision (promoted, and why) to the run that trained `ref`."""
        ...

    def champion(self) -> Champion | None:
        """The model serving in production now, with its version; None before the first promotion.

        Raises TrackingUnavailableError when the store cannot be asked: that is not the same as "no champion".
        The model is loaded through `model.load_model`, so its file passes the skops allowlist first.
        """
        ...

    def promote(self, ref: ModelRef, model_file: Path) -> None:
        """Make `ref` the champion."""
        ...
