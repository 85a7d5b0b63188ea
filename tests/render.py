"""Render the template with both tools, and say what a rendering must contain.

Shared by the fast tier and the end-to-end tier. Everything that predicts a rendering (answers, file set, pruning)
is computed here from cookiecutter.json and tools/template_rules.py alone, independently of hooks/ and copier.yml,
so the tests check each tool's output against the template's declared rules rather than against its own machinery
(copier's exclusion is a Jinja translation of the same rule, and is checked against it here).

Both tools are isolated from the user's machine: cookiecutter gets a throw-away config (no ~/.cookiecutterrc, replay
files kept out of $HOME) and copier an empty settings file (no user defaults). Copier is always asked for
`vcs_ref="HEAD"`: without it copier would copy the newest PEP 440 tag of this repository instead of the working tree,
and only a local HEAD checkout includes uncommitted changes (copier commits them in its temporary clone and warns
with `DirtyLocalWarning`, silenced here).
"""

from __future__ import annotations

import atexit
import fnmatch
import itertools
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Literal

import jinja2

from tools.template_rules import pruned_patterns

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR_NAME = "{{cookiecutter.project_slug|checked_answers}}"
TEMPLATE_DIR = TEMPLATE_ROOT / TEMPLATE_DIR_NAME
ANSWERS_FILE = ".copier-answers.yml"
COMPUTED_NAMESPACE = "cookiecutter"  # copier's computed question that mirrors cookiecutter's namespace

Tool = Literal["cookiecutter", "copier"]
TOOLS: tuple[Tool, ...] = ("cookiecutter", "copier")


# --------------------------------------------------------------------------------------------------------------------
# cookiecutter.json: the one source of truth


def load_cookiecutter_json() -> dict[str, Any]:
    """The template's questions, prompts, rules and prune map, in file order."""
    return json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))


def question_names(source: dict[str, Any] | None = None) -> list[str]:
    """The asked questions, in order: every key of cookiecutter.json not starting with '_'."""
    source = load_cookiecutter_json() if source is None else source
    return [key for key in source if not key.startswith("_")]


def choice_questions(source: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Choice questions and their values; the first value is the default."""
    source = load_cookiecutter_json() if source is None else source
    return {name: list(source[name]) for name in question_names(source) if isinstance(source[name], list)}


def resolve_answers(answers: dict[str, str], source: dict[str, Any] | None = None) -> dict[str, str]:
    """Every question's final value: the given answer, else the default (first choice, or the rendered expression).

    Defaults are rendered in question order with plain Jinja, the way both tools do it, so `project_slug` and
    `package_name` follow `project_name` unless answered.
    """
    source = load_cookiecutter_json() if source is None else source
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    resolved: dict[str, str] = {}
    for name in question_names(source):
        default = source[name]
        if name in answers:
            resolved[name] = answers[name]
        elif isinstance(default, list):
            resolved[name] = default[0]
        else:
            resolved[name] = env.from_string(default).render(cookiecutter=resolved)
    return resolved


# --------------------------------------------------------------------------------------------------------------------
# What a rendering must contain


def template_files() -> list[str]:
    """Every file inside the template directory, as unrendered posix paths relative to it."""
    return sorted(
        path.relative_to(TEMPLATE_DIR).as_posix()
        for path in TEMPLATE_DIR.rglob("*")
        if path.is_file() or path.is_symlink()
    )


_PATH_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined)


def render_path(relpath: str, answers: dict[str, str], tool: Tool) -> str | None:
    """The rendered form of a template path, or None when a component renders empty (both tools skip those).

    Under copier, `_copier_conf` is defined (it names the answers file); under cookiecutter it is not.
    """
    return _render_path(relpath, _path_context(answers, tool))


def _path_context(answers: dict[str, str], tool: Tool) -> dict[str, Any]:
    context: dict[str, Any] = {"cookiecutter": resolve_answers(answers)}
    if tool == "copier":
        context["_copier_conf"] = {"answers_file": ANSWERS_FILE}
    return context


def _render_path(relpath: str, context: dict[str, Any]) -> str | None:
    parts = [_PATH_ENV.from_string(part).render(context) if "{" in part else part for part in relpath.split("/")]
    if not all(parts):
        return None
    return "/".join(parts)


def pattern_matches(pattern: str, relpath: str) -> bool:
    """Whether a `_prune` pattern selects this rendered path, as the post-gen hook's `Path.glob` does.

    The pattern is anchored at the project root; '*' and '?' stay within one path component, '**' spans any number of
    components; a pattern that selects a directory selects everything below it.
    """
    pattern_parts = [part for part in pattern.strip("/").split("/") if part]
    path_parts = relpath.split("/")

    def match(p: int, q: int) -> bool:
        if p == len(pattern_parts):
            return True  # the pattern selected this path or one of its parent directories
        if q == len(path_parts):
            return False
        if pattern_parts[p] == "**":
            return match(p + 1, q) or match(p, q + 1)
        return fnmatch.fnmatchcase(path_parts[q], pattern_parts[p]) and match(p + 1, q + 1)

    return bool(pattern_parts) and match(0, 0)


def expected_pruned(answers: dict[str, str], source: dict[str, Any] | None = None) -> set[str]:
    """Patterns of files that must be absent: those of every unchosen value, unless the chosen value lists them too."""
    source = load_cookiecutter_json() if source is None else source
    return pruned_patterns(source.get("_prune", {}), resolve_answers(answers, source))


def expected_kept_patterns(answers: dict[str, str], source: dict[str, Any] | None = None) -> set[str]:
    """Patterns listed under the chosen values: each must select at least one rendered file."""
    source = load_cookiecutter_json() if source is None else source
    resolved = resolve_answers(answers, source)
    return {
        pattern for question, by_value in source.get("_prune", {}).items() for pattern in by_value[resolved[question]]
    }


def expected_files(answers: dict[str, str], tool: Tool) -> set[str]:
    """The exact set of files a rendering must hold (copier's answers file included for copier)."""
    pruned = expected_pruned(answers)
    context = _path_context(answers, tool)
    rendered = (_render_path(relpath, context) for relpath in template_files())
    return {
        path for path in rendered if path is not None and not any(pattern_matches(pattern, path) for pattern in pruned)
    }


# --------------------------------------------------------------------------------------------------------------------
# Option combinations


def env_manager_for(serving: str, tracking: str) -> str:
    """conda on one diagonal of the serving x tracking square (each serving and each tracking value meets conda
    once), uv everywhere else, so the default pair (fastapi + mlflow) is the default environment manager.

    The end-to-end tier reads the same rule, so a pair is built and run with the manager it is rendered with."""
    choices = choice_questions()
    servings, trackings = choices["serving"], choices["tracking"]
    row, column = servings.index(serving), trackings.index(tracking)
    managers = choices["env_manager"]
    return managers[1] if (row - column) % len(trackings) == 1 else managers[0]


def _combinations() -> list[dict[str, str]]:
    """Every serving x tracking pair; python_version and license cycle across them so that each of their values
    appears, and license forms a Latin square over the pairs (each license meets each serving and tracking value).
    orchestrator steps by (row + 2 x column), so each of its values meets each serving and each tracking value and
    the default pair keeps the default; env_manager follows env_manager_for."""
    choices = choice_questions()
    servings, trackings = choices["serving"], choices["tracking"]
    pythons, licenses = choices["python_version"], choices["license"]
    orchestrators = choices["orchestrator"]
    combos = []
    for i, (serving, tracking) in enumerate(itertools.product(servings, trackings)):
        row, column = divmod(i, len(trackings))
        combos.append(
            {
                "serving": serving,
                "tracking": tracking,
                "python_version": pythons[i % len(pythons)],
                "license": licenses[(row + column) % len(licenses)],
                "orchestrator": orchestrators[(row + 2 * column) % len(orchestrators)],
                "env_manager": env_manager_for(serving, tracking),
            }
        )
    return combos


COMBINATIONS: list[dict[str, str]] = _combinations()


def combination_id(answers: dict[str, str]) -> str:
    """A short, path-safe test id for a member of COMBINATIONS: `fastapi-mlflow-py3.12-MIT-uv-github-actions`."""
    return (
        f"{answers['serving']}-{answers['tracking']}-py{answers['python_version']}-{answers['license']}"
        f"-{answers['env_manager']}-{answers['orchestrator']}"
    )


# --------------------------------------------------------------------------------------------------------------------
# Running the tools


ISOLATION_ENV = "MLOPS_TEMPLATE_TOOLS_HOME"
_isolation_lock = threading.Lock()


def isolation_dir() -> Path:
    """A private directory for the tools' user configuration (cookiecutter's config and replay files, copier's
    settings), created once and removed when the interpreter that created it exits.

    Its path is exported in MLOPS_TEMPLATE_TOOLS_HOME, so that processes started afterwards (process-pool workers,
    which skip atexit handlers) reuse it instead of leaking their own.
    """
    with _isolation_lock:
        if existing := os.environ.get(ISOLATION_ENV):
            directory = Path(existing)
        else:
            directory = Path(tempfile.mkdtemp(prefix="mlops-template-tools-"))
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            os.environ[ISOLATION_ENV] = str(directory)
        config = directory / "cookiecutterrc.yaml"
        if not config.exists():
            directory.mkdir(parents=True, exist_ok=True)
            config.write_text(
                f"cookiecutters_dir: {json.dumps(str(directory / 'cookiecutters'))}\n"
                f"replay_dir: {json.dumps(str(directory / 'replay'))}\n"
                "default_context: {}\n"
                "abbreviations: {}\n",
                encoding="utf-8",
            )
            (directory / "copier-settings.yml").write_text("defaults: {}\ntrust: []\n", encoding="utf-8")
        return directory


def tool_env(**extra: str) -> dict[str, str]:
    """Environment for running either tool's CLI in a subprocess, isolated from the user's configuration."""
    directory = isolation_dir()
    env = dict(os.environ)
    env.update(
        COOKIECUTTER_CONFIG=str(directory / "cookiecutterrc.yaml"),
        COPIER_SETTINGS_PATH=str(directory / "copier-settings.yml"),
        PYTHONWARNINGS="ignore:Dirty template changes included automatically",  # copier's DirtyLocalWarning
        PYTHONDONTWRITEBYTECODE="1",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


def bake_cookiecutter(answers: dict[str, str], output_dir: Path) -> Path:
    """Render with cookiecutter (no prompts) into `output_dir`; return the project directory."""
    from cookiecutter.main import cookiecutter

    output_dir.mkdir(parents=True, exist_ok=True)
    project = cookiecutter(
        str(TEMPLATE_ROOT),
        no_input=True,
        extra_context=dict(answers),
        output_dir=str(output_dir),
        config_file=str(isolation_dir() / "cookiecutterrc.yaml"),
    )
    return Path(project)


def copy_copier(answers: dict[str, str], dest: Path) -> Path:
    """Render with copier (no prompts, defaults for unanswered questions) into `dest`; return `dest`.

    Copies the working tree, uncommitted edits included (see the module docstring).
    """
    from copier import Settings, run_copy
    from copier.errors import DirtyLocalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DirtyLocalWarning)
        run_copy(
            str(TEMPLATE_ROOT),
            dest,
            data=dict(answers),
            vcs_ref="HEAD",
            settings=Settings(),
            defaults=True,
            unsafe=False,
            quiet=True,
        )
    return dest


def render_with(tool: Tool, answers: dict[str, str], destination: Path) -> Path:
    """Render with `tool`: cookiecutter bakes into `destination/<slug>`, copier copies into `destination` itself.

    A plain module-level function, so that it can run in a process pool.
    """
    if tool == "cookiecutter":
        return bake_cookiecutter(answers, destination)
    return copy_copier(answers, destination)


def template_snapshot(destination: Path) -> Path:
    """Copy the template's working tree, as copier would see it, to a directory that is not a git repository.

    The files are those `git add -A` would take (tracked and untracked, minus ignored ones), with their modes. Copier
    uses such a directory directly instead of cloning it: about a quarter of a second less per copier run, worth it
    where many runs only exercise copier.yml (its validators), which is the same file either way.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    for relpath in filter(None, listed.split("\0")):
        source = TEMPLATE_ROOT / relpath
        if source.is_file():  # tracked files deleted in the working tree are listed too
            target = destination / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def cookiecutter_cli(*args: str) -> list[str]:
    """Command line running the cookiecutter CLI of this interpreter."""
    return [sys.executable, "-m", "cookiecutter", *args]


def copier_cli(*args: str) -> list[str]:
    """Command line running the copier CLI of this interpreter."""
    return [sys.executable, "-m", "copier", *args]


# --------------------------------------------------------------------------------------------------------------------
# Looking at a rendered tree


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file below `root` (hidden ones too): relative posix path -> content."""
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def tree_dirs(root: Path) -> set[str]:
    """Every directory below `root`, as relative posix paths (empty ones matter: one tool may leave them)."""
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_dir()}


def executable_files(root: Path) -> set[str]:
    """Files below `root` with an executable bit set."""
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    }


def text_of(content: bytes) -> str | None:
    """The file's text if it is UTF-8 text, else None (binary)."""
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None
