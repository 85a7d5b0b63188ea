"""Template evolution, end to end: a template repository with three releases, projects that their owners edit, and
`copier update` carrying the releases into them.

The template repository is a copy of this working tree (uncommitted work included) with three tags:
- 1.0.0: the template as it is;
- 1.1.0: a changed file (.gitignore gains a rule), a file changed elsewhere than the owner's edit (params.yaml gains a
  first line) and a new file (CONTRIBUTING.md);
- 1.2.0: a renamed file (tests/test_data.py -> tests/test_dataset.py), declared in `_renamed_files`, so copier.yml
  carries a migration and updates that cross 1.2.0 need `--trust`.
Each release also bumps `_template_version`, which generated projects record in pyproject.toml.

Owners edit their projects the way people do: a changed parameter, a new file, a new test, a line added where the
template adds one too. After the update their edits must be there, the template's changes too, a clash must show as
conflict markers (never as a silent loss), and the project's own tests must pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update
from copier.errors import UnsafeTemplateError

from tests.render import (
    TEMPLATE_DIR_NAME,
    copier_cli,
    isolation_dir,
    pattern_matches,
    template_snapshot,
    tool_env,
    tree_files,
)
from tools.template_rules import lost_on_switch

from .projects import UV

pytestmark = pytest.mark.xdist_group("update")  # one worker builds the template repository and the venv once

PAIR = {"serving": "fastapi", "tracking": "none"}  # the update machinery does not depend on the pair
OWNER_TEST = '''

def test_added_by_the_owner() -> None:
    """An owner's own test: it must survive every update and keep passing."""
    assert sorted([3, 1, 2]) == [1, 2, 3]
'''
TEMPLATE_IGNORE = "\n# Profiler output (template 1.1.0)\n*.prof\n"
OWNER_IGNORE = "\n# Owner's scratch space\n/scratch/\n"
# The owner's edit: a stricter gate, a line no template release since 0.1.0 touched (0.2.0 rewrote `train`, so an
# edited tree count conflicts there by design, as CHANGELOG says).
OWNER_GATE = r"(min_improvement: )0\.001"
OWNER_GATE_LINE = "min_improvement: 0.002"
TEMPLATE_PARAMS_LINE = "# Template 1.1.0: every knob of the pipeline is in this file.\n"
CONFLICT_MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "E2E",
    "GIT_AUTHOR_EMAIL": "e2e@example.com",
    "GIT_COMMITTER_NAME": "E2E",
    "GIT_COMMITTER_EMAIL": "e2e@example.com",
}


# --------------------------------------------------------------------------------------------------------------------
# The template repository and its releases


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"git {' '.join(args)} in {cwd}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def release(repo: Path, version: str) -> None:
    """Bump `_template_version`, regenerate copier.yml the way maintainers do, commit and tag."""
    source_path = repo / "cookiecutter.json"
    source = json.loads(source_path.read_text(encoding="utf-8"))
    source["_template_version"] = version
    source_path.write_text(json.dumps(source, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "tools/sync_copier.py"], cwd=repo, check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", f"Release {version}")
    git(repo, "tag", version)


@pytest.fixture(scope="module")
def git_identity() -> Iterator[None]:
    """Copier commits in scratch repositories: give git an identity without touching the user's configuration."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in GIT_IDENTITY.items():
            patch.setenv(key, value)
        patch.setenv("COPIER_SETTINGS_PATH", str(isolation_dir() / "copier-settings.yml"))
        yield


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory: pytest.TempPathFactory, git_identity: None) -> Path:
    repo = template_snapshot(tmp_path_factory.mktemp("template-repo"))
    git(repo, "init", "--quiet")
    release(repo, "1.0.0")

    subdir = repo / TEMPLATE_DIR_NAME
    with (subdir / ".gitignore").open("a", encoding="utf-8") as ignore:
        ignore.write(TEMPLATE_IGNORE)
    params = subdir / "params.yaml"
    params.write_text(TEMPLATE_PARAMS_LINE + params.read_text(encoding="utf-8"), encoding="utf-8")
    (subdir / "CONTRIBUTING.md").write_text(
        "# Contributing to {{ cookiecutter.project_name }}\n\nRun `make lint test` before you push.\n", encoding="utf-8"
    )
    release(repo, "1.1.0")

    git(
        repo,
        "mv",
        f"{TEMPLATE_DIR_NAME}/tests/test_data.py",
        f"{TEMPLATE_DIR_NAME}/tests/test_dataset.py",
    )
    source = json.loads((repo / "cookiecutter.json").read_text(encoding="utf-8"))
    source["_renamed_files"] = {"1.2.0": {"tests/test_data.py": "tests/test_dataset.py"}}
    (repo / "cookiecutter.json").write_text(json.dumps(source, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    release(repo, "1.2.0")
    return repo


# --------------------------------------------------------------------------------------------------------------------
# Projects


def copy_project(template_repo: Path, dest: Path, ref: str, **answers: str) -> Path:
    """`copier copy` from the template repository (an absolute path, as updates need) at `ref`, then commit."""
    run_copy(str(template_repo), dest, data={**PAIR, **answers}, vcs_ref=ref, defaults=True, quiet=True)
    commit_all(dest, "Generated from the template", init=True)
    return dest


def commit_all(project: Path, message: str, init: bool = False) -> None:
    if init:
        git(project, "init", "--quiet")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", message)


def edit_like_an_owner(project: Path, clash: bool = True, test_file: str = "tests/test_data.py") -> None:
    """A changed parameter, a new file, a new test appended to `test_file`, and (with `clash`) a line added where
    template 1.1.0 adds one too."""
    params = project / "params.yaml"
    text, count = re.subn(OWNER_GATE, r"\g<1>0.002", params.read_text(encoding="utf-8"))
    assert count == 1, "params.yaml has no evaluate.min_improvement of 0.001 to edit"
    params.write_text(text, encoding="utf-8")
    (project / "notes").mkdir()
    (project / "notes" / "owner.md").write_text("Decisions we made.\n", encoding="utf-8")
    with (project / test_file).open("a", encoding="utf-8") as tests:
        tests.write(OWNER_TEST)
    if clash:
        with (project / ".gitignore").open("a", encoding="utf-8") as ignore:
            ignore.write(OWNER_IGNORE)
    commit_all(project, "Owner's edits")


def update(project: Path, ref: str, **options: object) -> None:
    options = {"defaults": True, "overwrite": True, "conflict": "inline", "quiet": True, **options}
    run_update(project, vcs_ref=ref, **options)  # type: ignore[arg-type]


def recorded_version(project: Path) -> str:
    return tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mlops-template"]["version"]


def unresolved(project: Path) -> set[str]:
    """Files git lists as unmerged after the update."""
    return set(filter(None, git(project, "diff", "--name-only", "--diff-filter=U").splitlines()))


def project_files(root: Path) -> dict[str, bytes]:
    """The project's files (its .git excluded): relative path -> content."""
    return {name: text for name, text in tree_files(root).items() if name.split("/")[0] != ".git"}


def left_for_review(files: dict[str, bytes]) -> list[str]:
    """Files an update left for the owner to review: rejected hunks (.rej) or conflict markers."""
    markers = [marker.encode() for marker in CONFLICT_MARKERS]
    return [name for name, text in files.items() if name.endswith(".rej") or any(m in text for m in markers)]


def keep_both_sides(path: Path) -> None:
    """Resolve conflicts the way an owner would here: both sides' lines are wanted."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith(("<<<<<<< ", "=======", ">>>>>>> "))))


@pytest.fixture(scope="module")
def test_venv(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    """One virtual environment with the generated project's `.[dev]` dependencies (installed with uv, as users
    would), shared by the projects below: they differ in their edits, not in their dependencies."""
    root = tmp_path_factory.mktemp("venv")
    reference = root / "reference"
    run_copy(str(template_repo), reference, data=PAIR, vcs_ref="1.0.0", defaults=True, quiet=True)
    venv = root / ".venv"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [UV, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), f"{reference}[dev]"],
        check=True,
        timeout=1200,
    )
    return venv / "bin" / "python"


def run_project_tests(python: Path, project: Path, *test_files: str) -> str:
    """The project's own tests, with the project importable from its src/ (editable install, no dependencies)."""
    subprocess.run(
        [UV, "pip", "install", "--quiet", "--no-deps", "--python", str(python), "-e", str(project)], check=True
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "MLFLOW_"))}
    env.update(DVC_NO_ANALYTICS="1", MLFLOW_DISABLE_TELEMETRY="true", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *test_files],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"the project's tests failed after the update:\n{result.stdout[-4000:]}"
    return result.stdout


# --------------------------------------------------------------------------------------------------------------------
# Plain updates: no --trust


def test_update_keeps_edits_and_brings_changes(template_repo: Path, test_venv: Path, tmp_path: Path) -> None:
    project = copy_project(template_repo, tmp_path / "churn", "1.0.0")
    assert recorded_version(project) == "1.0.0"
    edit_like_an_owner(project)

    update(project, "1.1.0")  # 1.0.0 -> 1.1.0 has no migration: no --trust

    # the owner's edits
    assert OWNER_GATE_LINE in (project / "params.yaml").read_text(encoding="utf-8")
    assert (project / "notes" / "owner.md").read_text(encoding="utf-8") == "Decisions we made.\n"
    assert "def test_added_by_the_owner" in (project / "tests" / "test_data.py").read_text(encoding="utf-8")
    # the template's changes: a changed file (merged with the owner's edit elsewhere in it) and a new file
    assert (project / "params.yaml").read_text(encoding="utf-8").startswith(TEMPLATE_PARAMS_LINE)
    assert (project / "CONTRIBUTING.md").read_text(encoding="utf-8").startswith("# Contributing to Churn Model\n")
    assert recorded_version(project) == "1.1.0"
    assert yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))["_commit"] == "1.1.0"
    # the clash: both lines, between conflict markers, and git knows the file is unmerged
    ignore = (project / ".gitignore").read_text(encoding="utf-8")
    assert all(marker in ignore for marker in CONFLICT_MARKERS), ignore
    assert "/scratch/" in ignore and "*.prof" in ignore
    assert unresolved(project) == {".gitignore"}

    keep_both_sides(project / ".gitignore")
    output = run_project_tests(test_venv, project, "tests/test_import.py", "tests/test_gate.py", "tests/test_data.py")
    assert "passed" in output


def test_update_needs_a_clean_repository(template_repo: Path, tmp_path: Path) -> None:
    """Copier refuses to update over uncommitted work (which it could not give back)."""
    project = copy_project(template_repo, tmp_path / "dirty", "1.0.0")
    (project / "params.yaml").write_text("edited but not committed\n", encoding="utf-8")
    with pytest.raises(Exception, match="dirty"):
        update(project, "1.1.0")
    assert (project / "params.yaml").read_text(encoding="utf-8") == "edited but not committed\n"


# --------------------------------------------------------------------------------------------------------------------
# A renamed file: a migration, hence --trust


def test_rename_needs_trust_and_moves_the_owners_file(template_repo: Path, test_venv: Path, tmp_path: Path) -> None:
    project = copy_project(template_repo, tmp_path / "churn", "1.0.0")
    edit_like_an_owner(project)
    head = git(project, "rev-parse", "HEAD")

    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update(project, "1.2.0")  # crosses 1.2.0, whose migration runs a script: copier asks for --trust
    assert git(project, "rev-parse", "HEAD") == head
    assert not git(project, "status", "--porcelain").strip(), "a refused update must leave the project untouched"

    update(project, "1.2.0", unsafe=True)

    assert not (project / "tests" / "test_data.py").exists()
    moved = (project / "tests" / "test_dataset.py").read_text(encoding="utf-8")
    assert "def test_added_by_the_owner" in moved, "the owner's edit must follow the file to its new name"
    assert "def test_missing_column_is_named" in moved
    assert recorded_version(project) == "1.2.0"
    # copier has no common ancestor for the new name: what differs from the template's text is marked for review
    assert unresolved(project) <= {".gitignore", "tests/test_dataset.py"}
    for path in unresolved(project):
        keep_both_sides(project / path)
    run_project_tests(test_venv, project, "tests/test_import.py", "tests/test_gate.py", "tests/test_dataset.py")


def test_unedited_renamed_file_updates_cleanly(template_repo: Path, tmp_path: Path) -> None:
    """A rename the owner never touched arrives without a conflict."""
    project = copy_project(template_repo, tmp_path / "churn", "1.1.0")
    update(project, "1.2.0", unsafe=True)
    assert not (project / "tests" / "test_data.py").exists()
    assert (project / "tests" / "test_dataset.py").is_file()
    assert not unresolved(project)
    assert not left_for_review(project_files(project))


# --------------------------------------------------------------------------------------------------------------------
# Switching an option during an update


def option_files(project: Path, question: str, old: str, new: str) -> list[str]:
    """The project's files that belong to `old` and not to `new` (what copier would delete), per `_prune`."""
    prune = json.loads((Path(__file__).parents[2] / "cookiecutter.json").read_text(encoding="utf-8"))["_prune"]
    lost = lost_on_switch(prune[question], old, new)
    files = [p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file() and ".git" not in p.parts]
    return sorted(f for f in files if any(pattern_matches(pattern, f) for pattern in lost))


SWITCHES = [
    ("serving", "fastapi", "grpc"),
    ("tracking", "wandb", "mlflow"),
    ("orchestrator", "github-actions", "prefect"),
]


@pytest.mark.parametrize(("question", "old", "new"), SWITCHES, ids=[f"{q}-{o}-to-{n}" for q, o, n in SWITCHES])
def test_switching_an_option_is_refused(template_repo: Path, tmp_path: Path, question: str, old: str, new: str) -> None:
    project = copy_project(template_repo, tmp_path / "churn", "1.1.0", **{question: old})
    owned = option_files(project, question, old, new)
    assert owned, f"the project has no file of {question}={old} to protect"
    edited = project / owned[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "# the owner's change\n", encoding="utf-8")
    commit_all(project, "Owner's edit of an option file")
    head = git(project, "rev-parse", "HEAD")

    with pytest.raises(ValueError, match=rf"{question}: changing \"{old}\" to \"{new}\" in `copier update` deletes"):
        update(project, "1.1.0", data={question: new})
    assert git(project, "rev-parse", "HEAD") == head
    assert not git(project, "status", "--porcelain").strip()
    assert edited.read_text(encoding="utf-8").endswith("# the owner's change\n")

    # the command line says it in one line, naming the files and the procedure, and exits non-zero
    result = subprocess.run(
        copier_cli("update", "--defaults", "--vcs-ref", "1.1.0", "-d", f"{question}={new}"),
        cwd=project,
        env=tool_env(**GIT_IDENTITY),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert f'changing "{old}" to "{new}"' in last_line and "docs/updating.md" in last_line, result.stderr[-2000:]
    assert "_allow_option_switch=true" in last_line
    assert not git(project, "status", "--porcelain").strip()


def test_interactive_update_shows_the_switch_disabled(template_repo: Path, tmp_path: Path) -> None:
    """In the interactive menu, values that would delete files are disabled, with the reason beside them."""
    import pexpect

    project = copy_project(template_repo, tmp_path / "churn", "1.1.0", tracking="wandb")
    source = json.loads((template_repo / "cookiecutter.json").read_text(encoding="utf-8"))
    names = [name for name in source if not name.startswith("_")]
    prompts = source["__prompts__"]
    child = pexpect.spawn(
        copier_cli()[0],
        [*copier_cli("update", "--vcs-ref", "1.1.0")[1:]],
        cwd=str(project),
        env=tool_env(**GIT_IDENTITY),
        encoding="utf-8",
        timeout=60,
        dimensions=(50, 400),
    )
    try:
        for name in names[: names.index("tracking")]:
            prompt = prompts[name]["__prompt__"] if isinstance(prompts[name], dict) else prompts[name]
            child.expect_exact(prompt)
            time.sleep(0.5)  # let the prompt start reading keys
            child.send("\r")
        child.expect_exact(prompts["tracking"]["__prompt__"])
        child.expect_exact(prompts["tracking"]["none"])  # the menu is drawn down to its last value
        menu = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", child.before + child.after)
    finally:
        child.sendcontrol("c")
        child.close(force=True)
    assert f'{prompts["tracking"]["mlflow"]} (tracking: changing "wandb" to "mlflow" in `copier update`' in menu, menu
    assert f"{prompts['tracking']['wandb']} (" not in menu  # the recorded value stays selectable
    assert not git(project, "status", "--porcelain").strip()


def test_switch_that_deletes_nothing_is_allowed(template_repo: Path, tmp_path: Path) -> None:
    """mlflow -> mlflow-server keeps every mlflow file: no reason to refuse."""
    project = copy_project(template_repo, tmp_path / "churn", "1.1.0", tracking="mlflow")
    update(project, "1.1.0", data={"tracking": "mlflow-server"})
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["tracking"] == "mlflow-server"


def test_deliberate_switch_after_commit(template_repo: Path, tmp_path: Path) -> None:
    """The documented procedure: commit, update with -d _allow_option_switch=true, then recover what you need from
    the last commit (`git show HEAD:<path>`); nothing is lost because copier only updates clean repositories."""
    project = copy_project(template_repo, tmp_path / "churn", "1.1.0", tracking="wandb")
    owned = option_files(project, "tracking", "wandb", "mlflow")
    edited = project / owned[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "# the owner's change\n", encoding="utf-8")
    commit_all(project, "Owner's edit of an option file")

    update(project, "1.1.0", data={"tracking": "mlflow", "_allow_option_switch": "true"})

    assert not edited.exists(), "copier deletes the old option's files: this is why the guard exists"
    status = git(project, "status", "--porcelain")
    assert f" D {owned[0]}" in status.splitlines(), status
    assert git(project, "show", f"HEAD:{owned[0]}").endswith("# the owner's change\n")
    assert yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))["tracking"] == "mlflow"


# --------------------------------------------------------------------------------------------------------------------
# Projects generated with cookiecutter: adopt copier once, then update


def test_cookiecutter_project_adopts_copier_then_updates(
    template_repo: Path, test_venv: Path, tmp_path: Path, git_identity: None
) -> None:
    from cookiecutter.main import cookiecutter

    project = Path(
        cookiecutter(
            f"git+file://{template_repo}",
            checkout="1.0.0",
            no_input=True,
            extra_context={**PAIR, "project_name": "Legacy Churn"},
            output_dir=str(tmp_path),
            config_file=str(isolation_dir() / "cookiecutterrc.yaml"),
        )
    )
    assert recorded_version(project) == "1.0.0"
    assert not (project / ".copier-answers.yml").exists()
    commit_all(project, "Generated with cookiecutter", init=True)
    edit_like_an_owner(project)

    adopt = [sys.executable, str(template_repo / "tools" / "adopt_copier.py"), str(project)]
    (project / "uncommitted.txt").write_text("work in progress\n", encoding="utf-8")
    refused = subprocess.run(
        [*adopt, "--template", str(template_repo)], capture_output=True, text=True, check=False, timeout=120
    )
    assert refused.returncode == 2 and refused.stderr.startswith("error: ") and "commit" in refused.stderr
    (project / "uncommitted.txt").unlink()

    adopted = subprocess.run(
        [*adopt, "--template", str(template_repo)], capture_output=True, text=True, check=False, timeout=120
    )
    assert adopted.returncode == 0, adopted.stderr
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_commit"] == "1.0.0" and answers["_src_path"] == str(template_repo)
    assert answers["project_name"] == "Legacy Churn" and answers["serving"] == PAIR["serving"]
    commit_all(project, "Track the template with copier")

    update(project, "1.1.0")

    assert OWNER_GATE_LINE in (project / "params.yaml").read_text(encoding="utf-8")
    assert (project / "notes" / "owner.md").is_file()
    assert (project / "CONTRIBUTING.md").read_text(encoding="utf-8").startswith("# Contributing to Legacy Churn\n")
    assert recorded_version(project) == "1.1.0"
    # the first update starts from exactly what cookiecutter generated: only the owner's own clash conflicts
    assert unresolved(project) == {".gitignore"}
    keep_both_sides(project / ".gitignore")
    run_project_tests(test_venv, project, "tests/test_import.py", "tests/test_gate.py", "tests/test_data.py")


# --------------------------------------------------------------------------------------------------------------------
# From the previous template state to this one: the redesign moved serving modules under serving/

PREVIOUS_STATE = "810e7fe862beb3a92769972adfb662c7ea35e40d"  # the template before 0.2.0's redesign (its 0.1.0)
TEMPLATE_ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def redesign_repo(tmp_path_factory: pytest.TempPathFactory, git_identity: None) -> Path:
    """A template repository with two releases: 0.1.0 is the template at PREVIOUS_STATE, 0.2.0 this working tree
    (whose `_renamed_files` carries 0.2.0's moves). A checkout without that commit fails here, never skips."""
    found = subprocess.run(["git", "cat-file", "-e", f"{PREVIOUS_STATE}^{{commit}}"], cwd=TEMPLATE_ROOT, check=False)
    assert found.returncode == 0, f"commit {PREVIOUS_STATE} is not in this checkout: clone with full history"
    repo = tmp_path_factory.mktemp("redesign-repo")
    archive = subprocess.run(["git", "archive", PREVIOUS_STATE], cwd=TEMPLATE_ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive.stdout, check=True)
    git(repo, "init", "--quiet")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "Release 0.1.0")
    git(repo, "tag", "0.1.0")
    git(repo, "rm", "-r", "--quiet", ".")
    template_snapshot(repo)
    release(repo, "0.2.0")
    return repo


REDESIGN_PAIRS = [("fastapi", "mlflow"), ("batch", "none")]
UNTOUCHED_TESTS = "tests/test_gate.py"  # unchanged since 0.1.0, so the owner's test appended there merges cleanly


@pytest.mark.parametrize(("serving", "tracking"), REDESIGN_PAIRS, ids=[f"{s}-{t}" for s, t in REDESIGN_PAIRS])
def test_update_from_the_previous_state_is_clean(
    redesign_repo: Path, tmp_path: Path, serving: str, tracking: str
) -> None:
    """An owner's project from 0.1.0, with edits the redesign did not touch, updates to 0.2.0 with no conflict: the
    result is a fresh 0.2.0 project plus exactly the owner's edits. Moved modules the owner never edited (batch's
    batch.py and spark.py) arrive at their new names as the new text."""
    pair = {"serving": serving, "tracking": tracking}
    project = copy_project(redesign_repo, tmp_path / "churn", "0.1.0", **pair)
    edit_like_an_owner(project, clash=False, test_file=UNTOUCHED_TESTS)

    with pytest.raises(UnsafeTemplateError, match="migrations"):
        update(project, "0.2.0")  # 0.2.0 renames files: its migration needs --trust
    update(project, "0.2.0", unsafe=True)

    fresh = tmp_path / "fresh"
    run_copy(str(redesign_repo), fresh, data={**PAIR, **pair}, vcs_ref="0.2.0", defaults=True, quiet=True)
    expected = project_files(fresh)
    expected["params.yaml"] = re.sub(OWNER_GATE.encode(), rb"\g<1>0.002", expected["params.yaml"])
    expected[UNTOUCHED_TESTS] += OWNER_TEST.encode()
    expected["notes/owner.md"] = b"Decisions we made.\n"
    updated = project_files(project)

    assert not unresolved(project)
    assert not left_for_review(updated)
    assert sorted(updated) == sorted(expected)
    assert [name for name in expected if updated[name] != expected[name]] == []
    assert recorded_version(project) == "0.2.0"


def test_an_edited_moved_module_keeps_the_owners_lines(redesign_repo: Path, tmp_path: Path) -> None:
    """batch.py edited by its owner moves to serving/batch.py with the edit; where it differs from the new text is
    marked for review (copier has no common ancestor for the new name), and nothing else conflicts."""
    project = copy_project(redesign_repo, tmp_path / "churn", "0.1.0", serving="batch", tracking="none")
    package = project / "src" / "churn_model"
    with (package / "batch.py").open("a", encoding="utf-8") as module:
        module.write("\n# The owner's note: chunks of 10k rows suit our warehouse.\n")
    commit_all(project, "Owner's edit of batch.py")

    update(project, "0.2.0", unsafe=True)

    assert not (package / "batch.py").exists()
    moved = (package / "serving" / "batch.py").read_text(encoding="utf-8")
    assert "# The owner's note: chunks of 10k rows suit our warehouse." in moved
    assert unresolved(project) <= {"src/churn_model/serving/batch.py"}
    assert set(left_for_review(project_files(project))) <= {"src/churn_model/serving/batch.py"}
    assert (package / "serving" / "spark.py").is_file() and not (package / "spark.py").exists()


def test_an_edited_tree_count_conflicts_in_the_nested_train_section(redesign_repo: Path, tmp_path: Path) -> None:
    """0.2.0 nests `train` per model family; an owner's edited `train.n_estimators` from 0.1.0 is never dropped in
    silence: params.yaml is left in conflict with the owner's value on one side, as CHANGELOG promises."""
    project = copy_project(redesign_repo, tmp_path / "churn", "0.1.0", serving="batch", tracking="none")
    params = project / "params.yaml"
    text, count = re.subn(r"(?m)^(  n_estimators: )200$", r"\g<1>250", params.read_text(encoding="utf-8"))
    assert count == 1, "0.1.0's params.yaml has no flat train.n_estimators"
    params.write_text(text, encoding="utf-8")
    commit_all(project, "Owner's edit: more trees")

    update(project, "0.2.0", unsafe=True)

    assert unresolved(project) == {"params.yaml"}
    merged = params.read_text(encoding="utf-8")
    assert all(marker in merged for marker in CONFLICT_MARKERS)
    assert "n_estimators: 250" in merged and "random_forest:" in merged
