"""Static checks of a rendered tree: no leftover Jinja, every file parses, ruff is content.

Each check returns a list of human-readable problems (empty when all is well), so a test can show every problem at
once. Shared by the fast tier and the end-to-end tier.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.render import text_of

JINJA_MARKERS = ("{{", "{%", "{#")
# The one legitimate look-alike: GitHub Actions expressions, `${{ github.ref }}`, in workflow and action files.
GITHUB_EXPRESSION = re.compile(r"\$\{\{[^{}]*\}\}")


def _is_github_yaml(path: str) -> bool:
    return path.startswith(".github/") and path.endswith((".yml", ".yaml"))


def leftover_jinja(files: dict[str, bytes]) -> list[str]:
    """Text files still holding a Jinja marker, with the first offending line (GitHub `${{ }}` expressions aside)."""
    problems = []
    for path, content in sorted(files.items()):
        text = text_of(content)
        if text is None:
            continue
        if _is_github_yaml(path):
            text = GITHUB_EXPRESSION.sub("", text)
        for number, line in enumerate(text.splitlines(), start=1):
            if any(marker in line for marker in JINJA_MARKERS):
                problems.append(f"{path}:{number}: {line.strip()[:160]}")
                break
    return problems


def python_syntax_errors(files: dict[str, bytes]) -> list[str]:
    """`.py` files that do not compile."""
    problems = []
    for path, content in sorted(files.items()):
        if path.endswith(".py"):
            try:
                compile(content, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as error:
                problems.append(f"{path}: {error!r}")
    return problems


def data_file_errors(files: dict[str, bytes]) -> list[str]:
    """`.yaml`, `.yml`, `.toml` and `.json` files that do not parse."""
    problems = []
    for path, content in sorted(files.items()):
        try:
            if path.endswith((".yaml", ".yml")):
                list(yaml.safe_load_all(content.decode("utf-8")))
            elif path.endswith(".toml"):
                tomllib.loads(content.decode("utf-8"))
            elif path.endswith(".json"):
                json.loads(content.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
            problems.append(f"{path}: {type(error).__name__}: {error}")
    return problems


@dataclass(frozen=True)
class RuffReport:
    """Output of one `ruff check` and one `ruff format --check` over a directory of rendered trees."""

    check_returncode: int
    check_output: str
    format_returncode: int
    format_output: str

    def problems_under(self, prefix: str) -> list[str]:
        """Lines of either report about files whose path (relative to the ruff run's cwd) starts with `prefix`."""
        lines = (self.check_output + "\n" + self.format_output).splitlines()
        return [line for line in lines if prefix in line]

    def crashed(self) -> list[str]:
        """Reasons ruff itself failed (exit status 2: bad configuration, internal error), as opposed to findings."""
        reasons = []
        if self.check_returncode not in (0, 1):
            reasons.append(f"ruff check exited {self.check_returncode}:\n{self.check_output}")
        if self.format_returncode not in (0, 1):
            reasons.append(f"ruff format --check exited {self.format_returncode}:\n{self.format_output}")
        return reasons


def run_ruff(cwd: Path, paths: Iterable[str] = (".",)) -> RuffReport:
    """Run ruff once over `paths` (relative to `cwd`). Each file is judged by its nearest pyproject.toml, so a
    directory holding several rendered projects is checked against each project's own ruff configuration."""
    ruff = [sys.executable, "-m", "ruff"]
    common = {"cwd": cwd, "capture_output": True, "text": True, "check": False}
    check = subprocess.run([*ruff, "check", "--no-cache", "--output-format", "concise", "--no-fix", *paths], **common)
    form = subprocess.run([*ruff, "format", "--no-cache", "--check", *paths], **common)
    return RuffReport(check.returncode, check.stdout + check.stderr, form.returncode, form.stdout + form.stderr)
