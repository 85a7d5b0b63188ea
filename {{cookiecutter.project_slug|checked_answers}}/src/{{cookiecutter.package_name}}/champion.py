"""Where serving finds the champion model: an exported copy in $MODEL_DIR when that is set (what the container
image carries, written by `export-champion`), else the tracking backend's champion (`Tracker.champion()`).

The exported copy lets a container serve without the tracking store: no database, server or account at run time,
and the image is tied to exactly one model version. Both paths load through `model.load_model`, whose skops
allowlist refuses a file that could run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import ConfigError, ModelNotFoundError
from .model import Champion, load_model, save_model

MODEL_DIR_ENV = "MODEL_DIR"
EXPORTED_MODEL = "champion.skops"
EXPORTED_VERSION = "champion.json"

__all__ = ["Champion", "export_champion", "load_champion", "load_exported", "load_tracked"]


def load_champion() -> Champion:
    """The exported champion when $MODEL_DIR is set, else the one the tracking backend holds."""
    model_dir = os.environ.get(MODEL_DIR_ENV)
    return load_exported(Path(model_dir)) if model_dir else load_tracked()


def load_tracked() -> Champion:
    """The tracker's champion; "none yet" and "cannot ask" are different errors (see Tracker.champion)."""
    try:  # here, so a container serving from $MODEL_DIR never loads the backend (nor needs it installed)
        from .tracking import get_tracker
    except ImportError as error:
        raise ConfigError(
            f"the tracking backend is not installed ({error.name}): install the project's [train] extra, or set"
            f" {MODEL_DIR_ENV} to a champion `export-champion` wrote"
        ) from None
    tracker = get_tracker()
    champion = tracker.champion()
    if champion is None:
        raise ModelNotFoundError(f"no champion yet in {tracker.location} (run `dvc repro` first)")
    return champion


def export_champion(directory: Path) -> Champion:
    """Copy the tracked champion to `directory` (skops file + version) for a container image to carry."""
    champion = load_tracked()
    save_model(champion.model, directory / EXPORTED_MODEL)
    version = json.dumps({"version": champion.version}, indent=2) + "\n"
    (directory / EXPORTED_VERSION).write_text(version, encoding="utf-8")
    return champion


def load_exported(directory: Path) -> Champion:
    version_file = directory / EXPORTED_VERSION
    if not version_file.is_file():
        raise ModelNotFoundError(
            f"{version_file}: no exported champion (${MODEL_DIR_ENV} is set; run `export-champion` to fill it)"
        )
    try:
        version = json.loads(version_file.read_text(encoding="utf-8"))["version"]
    except (ValueError, KeyError, TypeError):
        raise ModelNotFoundError(f"{version_file}: not an exported champion's version file") from None
    return Champion(load_model(directory / EXPORTED_MODEL), str(version))
