"""The feedback loop's steps as the project's own CLI runs them: check drift and performance, retrain stage by
stage, ask the gate, export the champion. The {{ cookiecutter.orchestrator }} {{ "flow" if cookiecutter.orchestrator == "prefect" else "DAG" }} only orders these.

Standard library only, because the orchestrator lives in an environment of its own (`make orchestrator`):
{{ "Prefect 3.9" if cookiecutter.orchestrator == "prefect" else "Airflow 3.3" }} pins a FastAPI older than the one the service is tested with, and its own dependencies
stay out of the model's runtime. Every step runs in the project's environment (PROJECT_PYTHON, by default
.venv's interpreter), in the project directory (PROJECT_DIR), exactly as a person or CI would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

PACKAGE = "{{ cookiecutter.package_name }}"
PROJECT_DIR = Path(os.environ.get("PROJECT_DIR") or Path(__file__).resolve().parents[1])
LOOP_REPORT = Path("reports") / "loop.json"
CHECKS = ("drift", "performance")
STAGES = ("prepare", "train", "evaluate")
"""dvc.yaml's stages in pipeline order: one orchestrator task each, so a failure names its stage."""


class StepFailed(RuntimeError):
    """A step could not do its job (not a verdict): the orchestrator marks the task failed and stops there."""


class Verdict(StrEnum):
    """A check's answer, from the CLI's exit code: 0 fine, 1 alert (retrain), anything else cannot judge."""

    OK = "ok"
    ALERT = "alert"
    CANNOT_JUDGE = "cannot judge"

    @classmethod
    def from_exit_code(cls, code: int) -> Verdict:
        return {0: cls.OK, 1: cls.ALERT}.get(code, cls.CANNOT_JUDGE)


def project_python() -> str:
    """PROJECT_PYTHON, else the project's .venv interpreter, else `python` from PATH (an activated environment)."""
    configured = os.environ.get("PROJECT_PYTHON")
    if configured:
        return configured
    venv = PROJECT_DIR / ".venv" / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    return str(venv) if venv.exists() else "python"


def run(*args: str) -> int:
    """`<project python> args...` in the project directory; its output is printed, so the orchestrator logs it."""
    command = [project_python(), *args]
    env = os.environ | {"DVC_NO_ANALYTICS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    print("$ " + " ".join(command), flush=True)
    try:
        completed = subprocess.run(  # noqa: S603  (the project's interpreter and fixed arguments)
            command, cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False
        )
    except OSError as error:  # no such interpreter: the project's environment is not installed
        raise StepFailed(f"cannot run {command[0]}: {error.strerror}; run `make setup` or set PROJECT_PYTHON") from None
    for stream in (completed.stdout, completed.stderr):
        if stream.strip():
            print(stream.rstrip(), flush=True)
    return completed.returncode


def check(name: str) -> Verdict:
    """Run one monitor (`drift` or `performance`) on the prediction store; its reports land in reports/."""
    if name not in CHECKS:
        raise ValueError(f"unknown check {name!r}: one of {', '.join(CHECKS)}")
    return Verdict.from_exit_code(run("-m", PACKAGE, name))


def retrain(stage: str) -> None:
    """Re-run one pipeline stage even when its inputs did not change: an alert asks for a challenger trained now,
    and `dvc repro` alone skips a stage whose data and parameters are the same (put a data refresh, e.g.
    `dvc pull` or your warehouse export, before `prepare` to train on new outcomes)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
    code = run("-m", "dvc", "repro", "--force", "--single-item", stage)
    if code != 0:
        raise StepFailed(f"dvc repro {stage} exited {code}")


def promoted() -> bool:
    """The gate's decision of the last evaluation: True if the challenger became the champion."""
    code = run("-m", PACKAGE, "promoted")
    if code not in (0, 1):
        raise StepFailed(f"the gate's decision cannot be read (exit {code}); see the log above")
    return code == 0


def export_champion(output: str = "models/serving") -> None:
    """Copy the new champion to where `make docker-build` and the image expect it."""
    code = run("-m", PACKAGE, "export-champion", "--output", output)
    if code != 0:
        raise StepFailed(f"export-champion exited {code}")


@dataclass
class LoopRun:
    """What one pass of the loop found and did; written to reports/loop.json for whoever looks next."""

    verdicts: dict[str, str] = field(default_factory=dict)
    retrained: bool = False
    promoted: bool | None = None
    finished_at: str = ""

    @property
    def alert(self) -> bool:
        return Verdict.ALERT.value in self.verdicts.values()

    @property
    def unjudged(self) -> list[str]:
        return [name for name, verdict in self.verdicts.items() if verdict == Verdict.CANNOT_JUDGE.value]

    def write(self) -> Path:
        path = PROJECT_DIR / LOOP_REPORT
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        return path

    def finish(self) -> None:
        """Write the report; then fail if a check could not judge (as a failed CI job would): an alert from the other
        check has already retrained by then, but nobody should read silence as health."""
        self.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
        print(f"loop: {json.dumps(asdict(self))} -> {self.write()}", flush=True)
        if self.unjudged:
            raise StepFailed(f"{' and '.join(self.unjudged)} could not judge; see the task log (reports/ kept)")
