"""The generated project is its own git repository wherever it lands.

The README's own path: `make generate` writes build/churn-model inside the template's checkout, where /build/ is
git-ignored. DVC refuses a git-ignored dvc.yaml, so `make setup` (through its `repo` target, run here for real with
git) must make the project a repository of its own there, and leave a project that already is one alone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.platforms import needs_template_dir
from tests.render import TEMPLATE_ROOT, bake_cookiecutter, cookiecutter_cli, tool_env

pytestmark = needs_template_dir


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def make_repo(project: Path) -> None:
    subprocess.run(["make", "--no-print-directory", "repo"], cwd=project, check=True, capture_output=True, text=True)


def test_generate_from_the_template_directory_with_a_relative_path(tmp_path: Path) -> None:
    """The README's `make generate` runs `cookiecutter .` from the checkout: the post-gen hook (run inside the new
    project) must still find the template's rules, which a relative `_repo_dir` used to lose."""
    command = cookiecutter_cli("--no-input", "--output-dir", str(tmp_path), ".")
    result = subprocess.run(command, cwd=TEMPLATE_ROOT, env=tool_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "churn-model" / "dvc.yaml").is_file()
    assert not (tmp_path / "churn-model" / "src" / "churn_model" / "serving" / "grpc_server.py").exists()  # pruned


def test_project_inside_an_ignored_directory_becomes_its_own_repository(tmp_path: Path) -> None:
    checkout = tmp_path / "template-checkout"
    checkout.mkdir()
    git(checkout, "init", "--quiet")
    (checkout / ".gitignore").write_text("/build/\n", encoding="utf-8")
    project = bake_cookiecutter({}, checkout / "build")
    assert git(project, "check-ignore", "--quiet", "dvc.yaml", check=False).returncode == 0  # the trap

    make_repo(project)

    assert Path(git(project, "rev-parse", "--show-toplevel").stdout.strip()) == project.resolve()
    assert git(project, "check-ignore", "--quiet", "dvc.yaml", check=False).returncode == 1


def test_a_project_that_is_a_repository_is_left_alone(tmp_path: Path) -> None:
    project = bake_cookiecutter({}, tmp_path)
    git(project, "init", "--quiet")
    git(project, "add", "-A")
    git(project, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "Generated")
    head = git(project, "rev-parse", "HEAD").stdout

    make_repo(project)

    assert git(project, "rev-parse", "HEAD").stdout == head
    assert not git(project, "status", "--porcelain").stdout
