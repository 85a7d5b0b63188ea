"""The champion as a file under models/: what evaluation and serving load with no tracking service reachable."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..model import Champion, load_model
from .base import ModelRef

CHAMPION_FILE = Path("models/champion.skops")
CHAMPION_REF_FILE = Path("models/champion.json")


def read_champion() -> Champion | None:
    if not CHAMPION_REF_FILE.is_file():
        return None
    return Champion(load_model(CHAMPION_FILE), ModelRef.read(CHAMPION_REF_FILE).version)


def write_champion(ref: ModelRef, model_file: Path, uri: str) -> None:
    CHAMPION_FILE.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_file, CHAMPION_FILE)
    ModelRef(version=ref.version, run_id=ref.run_id, uri=uri).write(CHAMPION_REF_FILE)
