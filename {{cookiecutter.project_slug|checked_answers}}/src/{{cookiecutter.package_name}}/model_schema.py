"""What a trained model expects and answers (task, target, feature columns, classes), recorded with the model.

A champion trained on other columns or another target cannot score today's holdout, nor serve requests that
params.yaml now describes: the gate compares schemas before metrics, and says in one line what changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd
from sklearn.pipeline import Pipeline

SCHEMA_ATTRIBUTE = "schema_"
"""Where `record_schema` keeps the schema on the fitted pipeline; skops saves it as plain data."""


@dataclass(frozen=True)
class ModelSchema:
    target: str | None
    """None for a model saved before schemas were recorded (its columns and classes still compare)."""
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...]
    classes: tuple[str, ...]
    """Empty for a regressor."""
    task: str = "classification"

    def differences(self, other: ModelSchema) -> list[str]:
        """What changed from `self` to `other`, one phrase each; empty when a metric comparison is fair."""
        changes = []
        if self.task != other.task:
            changes.append(f"task {self.task} -> {other.task}")
        if self.target is not None and other.target is not None and self.target != other.target:
            changes.append(f"target {self.target!r} -> {other.target!r}")
        for kind in ("numeric_features", "categorical_features"):
            before, after = getattr(self, kind), getattr(other, kind)
            added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
            label = kind.replace("_", " ")
            if added:
                changes.append(f"{label} added: {', '.join(added)}")
            if removed:
                changes.append(f"{label} removed: {', '.join(removed)}")
        if self.classes != other.classes:
            changes.append(f"classes {', '.join(self.classes)} -> {', '.join(other.classes)}")
        return changes


def record_schema(model: Pipeline, target: pd.Series) -> None:
    """Attach the schema a just-fitted pipeline was trained with (the target's name comes from the series)."""
    derived = schema_of(model)
    setattr(model, SCHEMA_ATTRIBUTE, asdict(derived) | {"target": str(target.name)})


def schema_of(model: Pipeline) -> ModelSchema:
    """The recorded schema, or the one read from the pipeline's own steps for a model saved without it."""
    recorded = getattr(model, SCHEMA_ATTRIBUTE, None)
    if isinstance(recorded, dict):
        return ModelSchema(
            target=recorded.get("target"),
            numeric_features=tuple(recorded["numeric_features"]),
            categorical_features=tuple(recorded["categorical_features"]),
            classes=tuple(recorded["classes"]),
            task=recorded.get("task", "classification"),  # models saved before regression were classifiers
        )
    columns = {name: tuple(map(str, cols)) for name, _, cols in model.steps[0][1].transformers}
    return ModelSchema(
        target=None,
        numeric_features=columns.get("numeric", ()),
        categorical_features=columns.get("categorical", ()),
        classes=tuple(str(label) for label in getattr(model, "classes_", ())),
        task="classification" if hasattr(model, "classes_") else "regression",
    )
