"""Every serving x tracking pair, rendered by cookiecutter and by copier: the same bytes, the exact file set, and files
that parse and pass the generated project's own ruff configuration."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from tests.checks import RuffReport, data_file_errors, leftover_jinja, python_syntax_errors
from tests.conftest import Matrix
from tests.platforms import needs_template_dir
from tests.render import (
    ANSWERS_FILE,
    COMBINATIONS,
    COMPUTED_NAMESPACE,
    TEMPLATE_DIR,
    TEMPLATE_DIR_NAME,
    TEMPLATE_ROOT,
    TOOLS,
    Tool,
    choice_questions,
    combination_id,
    executable_files,
    expected_files,
    expected_kept_patterns,
    load_cookiecutter_json,
    pattern_matches,
    resolve_answers,
    tree_dirs,
    tree_files,
)

pytestmark = needs_template_dir

COMBINATION_IDS = [combination_id(answers) for answers in COMBINATIONS]
by_combination = pytest.mark.parametrize("key", COMBINATION_IDS)


def _diff(label_a: str, a: set[str], label_b: str, b: set[str]) -> str:
    lines = [f"only in {label_a}: {path}" for path in sorted(a - b)]
    lines += [f"only in {label_b}: {path}" for path in sorted(b - a)]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------------
# The matrix itself


def test_combinations_cover_every_value() -> None:
    choices = choice_questions()
    assert len(COMBINATIONS) == len(choices["serving"]) * len(choices["tracking"])
    assert len(set(COMBINATION_IDS)) == len(COMBINATION_IDS)
    for question, values in choices.items():
        assert {answers[question] for answers in COMBINATIONS} == set(values), question


# --------------------------------------------------------------------------------------------------------------------
# One tree, two tools


@by_combination
def test_trees_identical(matrix: Matrix, key: str) -> None:
    """Byte-identical files, the same directories and the same executable bits; only copier has the answers file."""
    cookie, copier = matrix[key].root("cookiecutter"), matrix[key].root("copier")
    cookie_files, copier_files = tree_files(cookie), tree_files(copier)
    assert ANSWERS_FILE in copier_files, f"copier did not write {ANSWERS_FILE}"
    assert ANSWERS_FILE not in cookie_files, f"cookiecutter wrote {ANSWERS_FILE}"
    del copier_files[ANSWERS_FILE]

    assert set(cookie_files) == set(copier_files), _diff("cookiecutter", set(cookie_files), "copier", set(copier_files))
    differing = sorted(path for path in cookie_files if cookie_files[path] != copier_files[path])
    assert not differing, f"content differs between cookiecutter and copier: {differing}"
    assert tree_dirs(cookie) == tree_dirs(copier), _diff("cookiecutter", tree_dirs(cookie), "copier", tree_dirs(copier))
    assert executable_files(cookie) == executable_files(copier), _diff(
        "cookiecutter (executable)", executable_files(cookie), "copier (executable)", executable_files(copier)
    )


@by_combination
def test_copier_answers_file(matrix: Matrix, key: str) -> None:
    """The answers file records every question's final value, where the template came from, and nothing computed."""
    rendering = matrix[key]
    recorded = yaml.safe_load((rendering.root("copier") / ANSWERS_FILE).read_text(encoding="utf-8"))
    assert COMPUTED_NAMESPACE not in recorded, f"the computed `{COMPUTED_NAMESPACE}` question must never be stored"
    answers = {name: value for name, value in recorded.items() if not name.startswith("_")}
    assert answers == resolve_answers(rendering.answers)
    assert recorded["_src_path"] == str(TEMPLATE_ROOT)
    assert set(recorded) - set(answers) == {"_src_path", "_commit"}


# --------------------------------------------------------------------------------------------------------------------
# Exactly the right files


@by_combination
@pytest.mark.parametrize("tool", TOOLS)
def test_exact_file_set(matrix: Matrix, key: str, tool: Tool) -> None:
    """Every template file (path rendered), minus those of unchosen option values, and nothing else."""
    rendering = matrix[key]
    actual = set(tree_files(rendering.root(tool)))
    expected = expected_files(rendering.answers, tool)
    assert actual == expected, _diff("rendering", actual, "expected", expected)


@by_combination
def test_chosen_values_own_files(matrix: Matrix, key: str) -> None:
    """Each `_prune` pattern of a chosen value selects at least one rendered file (else the list is stale)."""
    rendering = matrix[key]
    files = set(tree_files(rendering.root("cookiecutter")))
    stale = sorted(
        pattern
        for pattern in expected_kept_patterns(rendering.answers)
        if not any(pattern_matches(pattern, path) for path in files)
    )
    assert not stale, f"`_prune` patterns of the chosen values that select no file: {stale}"


def test_prune_map_is_well_formed() -> None:
    """`_prune` names choice questions and exactly their values; its patterns mean the same to the post-gen hook
    (`Path.glob` from the project root) and to copier's `_exclude` (gitignore-style matching)."""
    source = load_cookiecutter_json()
    choices = choice_questions(source)
    for question, by_value in source["_prune"].items():
        assert question in choices, f"_prune.{question} is not a choice question"
        assert list(by_value) == choices[question], f"_prune.{question} must list exactly {choices[question]}"
        for value, patterns in by_value.items():
            assert isinstance(patterns, list), f"_prune.{question}.{value} must be a list"
            for pattern in patterns:
                where = f"_prune.{question}.{value}: {pattern!r}"
                assert isinstance(pattern, str) and pattern.strip("/"), f"{where} is empty"
                assert "\\" not in pattern and ".." not in pattern.split("/"), f"{where}: no backslash or '..'"
                # Without an inner '/', gitignore matching (copier) finds the name at any depth, Path.glob only at
                # the root: anchor such patterns with a leading '/'.
                assert "/" in pattern.strip("/") or pattern.startswith("/"), f"{where}: anchor it, e.g. '/{pattern}'"


def test_template_tree_is_clean() -> None:
    """Nothing in the template directory that one tool would ship and the other not."""
    empty_dirs = sorted(
        path.relative_to(TEMPLATE_ROOT).as_posix()
        for path in TEMPLATE_DIR.rglob("*")
        if path.is_dir() and not any(path.iterdir())
    )
    assert not empty_dirs, (
        f"empty directories (git cannot hold them; cookiecutter ships them, copier not): {empty_dirs}"
    )
    caches = sorted(
        path.relative_to(TEMPLATE_ROOT).as_posix()
        for path in TEMPLATE_DIR.rglob("*")
        if path.name in {"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"}
        or path.suffix in {".pyc", ".pyo"}
    )
    assert not caches, f"caches inside the template directory (cookiecutter would ship them): {caches}"
    # Copier copies the git working tree through `git add -A`, which skips ignored files, and the template directory
    # holds the generated project's own .gitignore: an ignored, uncommitted template file reaches cookiecutter only.
    ignored = subprocess.run(
        ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--", f":(literal){TEMPLATE_DIR_NAME}"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    ignored = sorted(line for line in ignored if line)
    assert not ignored, f"git-ignored, uncommitted files in the template (copier cannot see them): {ignored}"


# --------------------------------------------------------------------------------------------------------------------
# Files that work


@by_combination
def test_no_leftover_jinja(matrix: Matrix, key: str) -> None:
    problems = leftover_jinja(tree_files(matrix[key].root("copier")))
    assert not problems, "Jinja markers left in rendered files:\n" + "\n".join(problems)


@by_combination
def test_python_compiles(matrix: Matrix, key: str) -> None:
    problems = python_syntax_errors(tree_files(matrix[key].root("cookiecutter")))
    assert not problems, "\n".join(problems)


@by_combination
def test_data_files_parse(matrix: Matrix, key: str) -> None:
    problems = data_file_errors(tree_files(matrix[key].root("copier")))
    assert not problems, "\n".join(problems)


def test_ruff_runs(matrix_ruff: RuffReport) -> None:
    """ruff itself did not fail (e.g. on a broken [tool.ruff] table in the generated pyproject.toml)."""
    assert not matrix_ruff.crashed(), "\n".join(matrix_ruff.crashed())


@by_combination
def test_ruff_clean(matrix: Matrix, matrix_ruff: RuffReport, key: str) -> None:
    """`ruff check` and `ruff format --check` find nothing, under the generated project's own configuration."""
    matrix[key].root("cookiecutter")
    problems = matrix_ruff.problems_under(f"{key}/cookiecutter/")
    assert not problems, "\n".join(problems)
