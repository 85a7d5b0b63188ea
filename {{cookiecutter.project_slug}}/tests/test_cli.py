"""The command line: help for every step, one-line errors instead of tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  (our own module, fixed arguments)
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_every_step() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for step in ("prepare", "train", "evaluate", "promoted"):
        assert step in result.stdout


@pytest.mark.usefixtures("workspace")
def test_broken_params_give_one_line_error() -> None:
    Path("params.yaml").write_text("data: {target: 3}\n", encoding="utf-8")
    result = run_cli("prepare")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: params.yaml: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("workspace")
def test_promoted_without_evaluation_is_a_clear_error() -> None:
    result = run_cli("promoted")
    assert result.returncode == 2
    assert "no gate decision yet" in result.stderr
