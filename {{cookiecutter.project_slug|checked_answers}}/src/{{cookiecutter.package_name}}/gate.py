"""The champion/challenger gate: promote only a challenger that beats the champion by a margin, or one whose
schema (features, target, classes) the champion does not share."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .config import LOWER_IS_BETTER
from .errors import ModelNotFoundError

PROMOTION_FILE = Path("reports/promotion.json")


@dataclass(frozen=True)
class Decision:
    promoted: bool
    metric: str
    challenger: float
    champion: float | None
    min_improvement: float
    reason: str

    def write(self, path: Path = PROMOTION_FILE) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, path: Path = PROMOTION_FILE) -> Decision:
        if not path.is_file():
            raise ModelNotFoundError(f"{path}: no gate decision yet (run `dvc repro`)")
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def decide_on_new_schema(metric: str, challenger: float, min_improvement: float, changes: list[str]) -> Decision:
    """A champion of another schema cannot score this data or serve params.yaml's requests: the challenger is
    promoted without a comparison, and the reason says what changed (it is recorded in the tracker too)."""
    reason = f"schema changed ({'; '.join(changes)}): promoted without comparison, the champion cannot score this data"
    return Decision(True, metric, challenger, None, min_improvement, reason)


def decide(metric: str, challenger: float, champion: float | None, min_improvement: float) -> Decision:
    """Higher is better, except for errors (rmse, mae: lower is). With no champion yet the challenger wins; an
    equal or worse one never does."""
    if champion is None:
        return Decision(True, metric, challenger, None, min_improvement, "no champion yet")
    lower = metric in LOWER_IS_BETTER
    gain = champion - challenger if lower else challenger - champion
    promoted = gain > 0 and gain >= min_improvement
    verdict = "beats" if promoted else "does not beat"
    direction = "lower" if lower else "higher"
    reason = (
        f"challenger {metric}={challenger:.4f} {verdict} champion {champion:.4f} by >= {min_improvement}"
        f" ({direction} is better)"
    )
    return Decision(promoted, metric, challenger, champion, min_improvement, reason)
