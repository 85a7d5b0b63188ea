"""What every tracking backend offers: record a training run, load and promote the champion."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from sklearn.pipeline import Pipeline

CHAMPION_ALIAS = "champion"
{%- if cookiecutter.tracking in ["wandb", "none"] %}
# The champion as a file: what evaluation and serving load, with no tracking service needed.
CHAMPION_FILE = Path("models/champion.skops")
CHAMPION_REF_FILE = Path("models/champion.json")
{%- endif %}


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

    def log_evaluation(self, ref: ModelRef, metrics: dict[str, float], promoted: bool) -> None:
        """Attach holdout metrics and the gate's decision to the run that trained `ref`."""
        ...

    def load_champion(self) -> Pipeline | None:
        """The model serving in production now, or None before the first promotion."""
        ...

    def champion_version(self) -> str | None:
        """The champion's version label, or None before the first promotion."""
        ...

    def promote(self, ref: ModelRef, model_file: Path) -> None:
        """Make `ref` the champion."""
        ...
