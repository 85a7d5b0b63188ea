"""The template's own code is ruff clean: the same two commands as `make lint`, in the fast tier."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.render import TEMPLATE_ROOT


def lint_paths() -> list[str]:
    """The Makefile's LINT_PATHS, so `make lint` and this test cannot drift apart."""
    makefile = (TEMPLATE_ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^LINT_PATHS := (.+)$", makefile, re.MULTILINE)
    assert found, "Makefile defines no LINT_PATHS"
    return found.group(1).split()


@pytest.mark.parametrize("command", [("check",), ("format", "--check")], ids=["check", "format"])
def test_template_code_is_ruff_clean(command: tuple[str, ...]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "--force-exclude", "--no-cache", *lint_paths()],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
