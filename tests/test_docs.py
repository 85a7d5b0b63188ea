"""The documentation cannot drift: generated tables are current, the site builds strictly, versions agree."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.platforms import needs_template_dir
from tests.render import TEMPLATE_DIR, TEMPLATE_ROOT, bake_cookiecutter, load_cookiecutter_json, resolve_answers


def test_options_tables_are_current() -> None:
    """`python tools/options_table.py --check`: docs/options.md and the README show cookiecutter.json as it is."""
    result = subprocess.run(
        [sys.executable, "tools/options_table.py", "--check"], cwd=TEMPLATE_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_options_page_lists_every_question_and_value() -> None:
    page = (TEMPLATE_ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    source = load_cookiecutter_json()
    for name in (key for key in source if not key.startswith("_")):
        assert f"| `{name}` |" in page, f"docs/options.md does not list {name}"
        for value in source[name] if isinstance(source[name], list) else []:
            assert f"| `{name}` | `{value}` |" in page, f"docs/options.md does not list {name}={value}"


@pytest.mark.skipif(
    importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None,
    reason="mkdocs is not installed: pip install -r docs/requirements.txt (.ci/run installs it)",
)
def test_site_builds_strictly(tmp_path: Path) -> None:
    """`mkdocs build --strict`: a broken link, a missing page or a bad anchor fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "site" / "options" / "index.html").is_file()


def test_docs_requirements_are_pinned() -> None:
    lines = (TEMPLATE_ROOT / "docs" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    pins = [line for line in lines if line.strip() and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", pin) for pin in pins), pins


def test_changelog_release_is_the_template_version() -> None:
    """The newest release in CHANGELOG.md is `_template_version`, which generated projects record."""
    changelog = (TEMPLATE_ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[(\d[^\]]*)\] - \d{4}-\d{2}-\d{2}$", changelog, flags=re.MULTILINE)
    assert "## [Unreleased]" in changelog
    assert releases, "CHANGELOG.md has no dated release heading such as `## [0.1.0] - 2026-11-26`"
    assert releases[0] == load_cookiecutter_json()["_template_version"]


@needs_template_dir
def test_generated_project_records_version_and_answers(tmp_path: Path) -> None:
    """Both tools write the same table (the fast tier compares the trees); here its content is checked."""
    answers = {"project_name": "Recorded Answers", "serving": "grpc", "tracking": "wandb"}
    project = bake_cookiecutter(answers, tmp_path)
    table = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mlops-template"]
    assert table["version"] == load_cookiecutter_json()["_template_version"]
    assert table["answers"] == resolve_answers(answers)


@needs_template_dir
def test_renamed_files_become_migrations() -> None:
    """Each `_renamed_files` version (in version order) has its migration in copier.yml, and each new path exists in
    the template (paths may use `{{ cookiecutter.x }}`: rendered back to the template's directory names)."""
    import jinja2
    import yaml

    source = load_cookiecutter_json()
    copier_yml = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text(encoding="utf-8"))
    versions = list(source["_renamed_files"])
    assert [migration["version"] for migration in copier_yml.get("_migrations", [])] == versions
    assert versions == sorted(versions, key=lambda v: tuple(int(part) for part in v.split("."))), versions
    as_template = {name: f"{{{{cookiecutter.{name}}}}}" for name in source if not name.startswith("_")}
    for version, moves in source["_renamed_files"].items():
        for new in moves.values():
            path = jinja2.Template(new).render(cookiecutter=as_template)
            assert (TEMPLATE_DIR / path).exists(), f"_renamed_files[{version}] moves to {new}: not in the template"
