"""Which code and which data produced a model: tags for every run."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def git_commit() -> str:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip()


def file_md5(path: Path) -> str:
    """The same digest DVC records for a file in dvc.lock, so a run can be matched to its data version."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lineage_tags(data_path: Path) -> dict[str, str]:
    return {"git_commit": git_commit(), "data_path": str(data_path), "data_md5": file_md5(data_path)}
