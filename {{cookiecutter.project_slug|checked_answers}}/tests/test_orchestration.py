"""The feedback loop's steps (orchestration/loop_steps.py), run against this project's real CLI.

The {{ "Prefect flow" if cookiecutter.orchestrator == "prefect" else "Airflow DAG" }} itself needs its own environment (`make orchestrator`) and runs with `make flow`; these tests
cover what it orders: how a CLI exit code becomes a verdict, how a failed step stops the loop, what the loop records.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ORCHESTRATION = Path(__file__).resolve().parents[1] / "orchestration"
sys.path.insert(0, str(ORCHESTRATION))

import loop_steps  # noqa: E402  (a standalone module beside the {{ "flow" if cookiecutter.orchestrator == "prefect" else "DAG" }}, not part of the package)
from loop_steps import LoopRun, StepFailed, Verdict  # noqa: E402


@pytest.fixture
def empty_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory without params.yaml or data: every CLI step there fails the way a broken setup does."""
    monkeypatch.setattr(loop_steps, "PROJECT_DIR", tmp_path)
    monkeypatch.setenv("PROJECT_PYTHON", sys.executable)
    return tmp_path


@pytest.mark.parametrize(("code", "verdict"), [(0, Verdict.OK), (1, Verdict.ALERT), (2, Verdict.CANNOT_JUDGE)])
def test_exit_codes_become_verdicts(code: int, verdict: Verdict) -> None:
    assert Verdict.from_exit_code(code) is verdict


def test_a_check_that_cannot_run_is_not_read_as_an_alert(empty_project: Path) -> None:
    assert loop_steps.check("drift") is Verdict.CANNOT_JUDGE  # exit 2: no params.yaml, never 1


def test_a_failed_stage_stops_the_loop_with_its_name(empty_project: Path) -> None:
    with pytest.raises(StepFailed, match=r"^dvc repro train exited [1-9]"):
        loop_steps.retrain("train")


def test_the_gate_cannot_be_read_without_an_evaluation(empty_project: Path) -> None:
    with pytest.raises(StepFailed, match="the gate's decision cannot be read"):
        loop_steps.promoted()


def test_a_missing_environment_is_one_clear_line(empty_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROJECT_PYTHON", str(empty_project / "no-such-python"))
    with pytest.raises(StepFailed, match=r"cannot run .*no-such-python.*make setup"):
        loop_steps.check("performance")


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown check"):
        loop_steps.check("accuracy")
    with pytest.raises(ValueError, match="unknown stage"):
        loop_steps.retrain("deploy")


def test_the_stages_are_the_pipelines_own() -> None:
    stages = [line.strip().rstrip(":") for line in Path("dvc.yaml").read_text(encoding="utf-8").splitlines()]
    assert [stage for stage in loop_steps.STAGES if stage in stages] == list(loop_steps.STAGES)


def test_the_loop_records_what_it_did_and_fails_on_silence(empty_project: Path) -> None:
    run = LoopRun(verdicts={"drift": "alert", "performance": "cannot judge"}, retrained=True, promoted=False)
    assert run.alert
    with pytest.raises(StepFailed, match=r"^performance could not judge"):
        run.finish()
    written = json.loads((empty_project / loop_steps.LOOP_REPORT).read_text(encoding="utf-8"))
    assert written["verdicts"] == {"drift": "alert", "performance": "cannot judge"}
    assert (written["retrained"], written["promoted"]) == (True, False)
    assert written["finished_at"]


def test_a_quiet_loop_finishes_without_retraining(empty_project: Path) -> None:
    run = LoopRun(verdicts={"drift": "ok", "performance": "ok"})
    assert not run.alert
    run.finish()
    assert json.loads((empty_project / loop_steps.LOOP_REPORT).read_text(encoding="utf-8"))["retrained"] is False
