"""Cookiecutter: refuse bad answers before anything is written, the project directory included.

A pre-gen hook runs too late for that: cookiecutter creates the project directory first, so an empty name made it
report "directory already exists", a name longer than the file system allows ended in `OSError: File name too
long`, and a slug holding '/' left its parent directory behind. The project directory's own name is the first
thing cookiecutter renders, so the template directory is named `{{cookiecutter.project_slug|checked_answers}}`:
this extension (listed in `_extensions` in cookiecutter.json, imported from the template checkout) provides the
filter, which checks every answer against `_rules` (tools/template_rules.py) and raises one line naming the field.
Copier never renders that name (it is copier.yml's `_subdirectory`); its validators, generated from the same rules,
refuse the same answers with the same words.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context

from tools.template_rules import first_error

# The template checkout, absolute. Cookiecutter's `_repo_dir` is the path as typed (`.` for `make generate`), and
# hooks run inside the new project, where a relative path no longer points at the template.
TEMPLATE_DIR = Path(__file__).resolve().parents[1]


class BadAnswerError(FailedHookException):
    """A refused answer. A FailedHookException, because cookiecutter's command line prints those as one line and
    exits 1 (and the Python API raises them), as it did when a hook refused the answer."""


@pass_context
def checked_answers(context: Context, slug: str) -> str:
    """Return `slug` unchanged once every answer has passed its rule; raise BadAnswerError with one line if not."""
    answers: Mapping[str, object] = context["cookiecutter"]
    given = context.get("_cookiecutter") or {}
    source = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    error = first_error(answers, given, source)
    if error is not None:
        raise BadAnswerError(f"ERROR: {error}")
    return slug


class AnswerCheck(Extension):
    """Adds the `checked_answers` filter and the `template_dir` the post-gen hook imports its rules from."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["checked_answers"] = checked_answers
        environment.globals["template_dir"] = str(TEMPLATE_DIR)
