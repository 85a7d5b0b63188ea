"""copier.yml says exactly what cookiecutter.json says: same questions, order, defaults, choices and help."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.render import COMPUTED_NAMESPACE, TEMPLATE_DIR_NAME, TEMPLATE_ROOT, load_cookiecutter_json, question_names


@pytest.fixture(scope="module")
def copier_yml() -> dict[str, Any]:
    return yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_cookiecutter_json()


def copier_questions(copier_yml: dict[str, Any]) -> list[str]:
    return [key for key in copier_yml if not key.startswith("_") and key != COMPUTED_NAMESPACE]


def choice_values(choices: dict[str, Any]) -> dict[str, str]:
    """label -> value; a choice with a validator (the option-switch guard) is `{value: ..., validator: ...}`."""
    return {label: value["value"] if isinstance(value, dict) else value for label, value in choices.items()}


def test_copier_yml_is_up_to_date() -> None:
    """`python tools/sync_copier.py --check`: copier.yml is what cookiecutter.json generates today."""
    result = subprocess.run(
        [sys.executable, "tools/sync_copier.py", "--check"], cwd=TEMPLATE_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_same_questions_in_same_order(copier_yml: dict[str, Any], source: dict[str, Any]) -> None:
    assert copier_questions(copier_yml) == question_names(source)


def test_same_defaults_and_choices(copier_yml: dict[str, Any], source: dict[str, Any]) -> None:
    for name in question_names(source):
        question, default = copier_yml[name], source[name]
        if isinstance(default, list):
            assert question["default"] == default[0], name
            choices = question["choices"]
            values = list(choice_values(choices).values()) if isinstance(choices, dict) else choices
            assert values == default, name
        else:
            assert question["default"] == re.sub(r"\bcookiecutter\.", "", default), name
        assert question.get("type", "str") == "str", name


def test_every_question_has_help(copier_yml: dict[str, Any], source: dict[str, Any]) -> None:
    for name in question_names(source):
        help_text = copier_yml[name].get("help")
        assert isinstance(help_text, str) and help_text.strip(), f"{name} has no help"


def test_every_question_has_a_cookiecutter_prompt(source: dict[str, Any]) -> None:
    """Cookiecutter's `__prompts__`: one per question; for a choice question a `__prompt__` and a label per value."""
    prompts = source["__prompts__"]
    assert set(prompts) == set(question_names(source))
    for name in question_names(source):
        prompt = prompts[name]
        if isinstance(source[name], list):
            assert isinstance(prompt, dict), name
            assert set(prompt) == {"__prompt__", *source[name]}, name
            assert all(isinstance(label, str) and label.strip() for label in prompt.values()), name
            assert len(set(prompt.values()) - {prompt["__prompt__"]}) == len(source[name]), f"{name}: labels clash"
        else:
            assert isinstance(prompt, str) and prompt.strip(), name


def test_help_matches_prompts(copier_yml: dict[str, Any], source: dict[str, Any]) -> None:
    """Both tools ask the same question in the same words, and label choices the same way."""
    for name in question_names(source):
        prompt = source["__prompts__"][name]
        if isinstance(prompt, dict):
            assert copier_yml[name]["help"] == prompt["__prompt__"], name
            assert choice_values(copier_yml[name]["choices"]) == {prompt[value]: value for value in source[name]}, name
        else:
            assert copier_yml[name]["help"] == prompt, name


def test_rules_become_validators(copier_yml: dict[str, Any], source: dict[str, Any]) -> None:
    for name, spec in source["_rules"].items():
        assert name in question_names(source), f"_rules.{name} names no question"
        validator = copier_yml[name].get("validator", "")
        assert spec["rule"] in validator, f"{name}: copier's validator does not state the rule"


def test_copier_settings(copier_yml: dict[str, Any]) -> None:
    assert copier_yml["_subdirectory"] == "{% raw %}" + TEMPLATE_DIR_NAME + "{% endraw %}"
    assert copier_yml["_templates_suffix"] == ""
    assert copier_yml["_envops"]["undefined"] == "jinja2.StrictUndefined"
    assert copier_yml.get("_answers_file", ".copier-answers.yml") == ".copier-answers.yml"


def test_computed_namespace_is_never_asked(copier_yml: dict[str, Any], source: dict[str, Any]) -> None:
    computed = copier_yml[COMPUTED_NAMESPACE]
    assert computed["when"] is False
    assert computed["type"] == "json"
    for name in question_names(source):
        assert f"{name}={name}" in computed["default"], f"`{COMPUTED_NAMESPACE}.{name}` would be undefined under copier"


def runs(python: str) -> bool:
    """Whether this interpreter starts (a pyenv shim of an inactive version is on PATH but exits 127)."""
    return subprocess.run([python, "-c", "pass"], capture_output=True).returncode == 0


def other_pythons() -> list[str]:
    """One working interpreter per supported minor (3.11-3.13) besides the running one: from PATH, else pyenv's."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for minor in (11, 12, 13):
        if (3, minor) == sys.version_info[:2]:
            continue
        candidates = [shutil.which(f"python3.{minor}"), *map(str, sorted(pyenv.glob(f"3.{minor}.*/bin/python3")))]
        found += [next((c for c in candidates if c is not None and runs(c)), None)]
    return [python for python in found if python is not None]


@pytest.mark.parametrize("python", [sys.executable, *other_pythons()])
def test_frozen_reserved_names_cover_each_python(source: dict[str, Any], python: str) -> None:
    """`_reserved_python_names` holds every name this interpreter forbids, so the hook and copier.yml (both read the
    frozen list) refuse the same package names whichever Python renders or regenerates copier.yml."""
    listing = subprocess.run(
        [python, "-c", "import json, tools.template_rules as r; print(json.dumps(sorted(r.python_reserved_names())))"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    missing = set(json.loads(listing.stdout)) - set(source["_reserved_python_names"])
    assert not missing, f"add to cookiecutter.json's _reserved_python_names ({python} forbids them): {sorted(missing)}"
