"""Baked, installed and trained projects for the end-to-end tier, built once per (serving, tracking) pair.

Each project gets its own virtual environment from its own pyproject.toml, so a missing dependency fails here exactly
as it would for a user. A uv project is installed the way its README says, `make setup`: that writes uv.lock (the
generated `[tool.uv] exclude-newer` date makes it the same lock on every machine), syncs `.venv` from it with
`--frozen`, and the lock is then checked against pyproject.toml (`uv lock --check`). A conda project is installed
with `uv pip install -e .[dev]` into a venv, since no conda channel is reachable here; uv's cache makes every install
after the first cheap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cookiecutter.main import cookiecutter

from tests.render import env_manager_for

from .processes import free_port, port_open, running

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
SERVINGS = ("fastapi", "grpc", "batch", "edge")
TRACKINGS = ("mlflow", "mlflow-server", "wandb", "none")
PAIRS = [(serving, tracking) for serving in SERVINGS for tracking in TRACKINGS]
UV = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"


@dataclass
class Project:
    serving: str
    tracking: str
    root: Path
    package: str
    env: dict[str, str] = field(default_factory=dict)
    env_manager: str = "uv"

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    def run(
        self,
        *command: str | Path,
        check: bool = True,
        timeout: float = 600,
        env: dict[str, str] | None = None,
        **kwargs,
    ) -> subprocess.CompletedProcess:
        """Run a command in the project root with the project's environment (or `env`); show its output if it fails."""
        result = subprocess.run(
            [str(part) for part in command],
            cwd=self.root,
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, command))} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result

    def cli(self, *args: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
        """`python -m <package> ...` inside the project."""
        return self.run(self.python, "-m", self.package, *args, check=check, **kwargs)


def project_env(root: Path) -> dict[str, str]:
    venv_bin = root / ".venv" / "bin"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHON", "MLFLOW_"))}
    env.update(
        PATH=f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def bake(serving: str, tracking: str, output_dir: Path, **answers: str) -> Project:
    """Bake the pair with the environment manager the render matrix gives it; `answers` adds or overrides others."""
    name = f"E2E {serving} {tracking}"
    root = Path(
        cookiecutter(
            str(TEMPLATE_ROOT),
            no_input=True,
            output_dir=str(output_dir),
            extra_context={
                "project_name": name,
                "serving": serving,
                "tracking": tracking,
                "env_manager": env_manager_for(serving, tracking),
            }
            | answers,
        )
    )
    package = root.name.replace("-", "_")
    manager = answers.get("env_manager", env_manager_for(serving, tracking))
    return Project(serving, tracking, root, package, project_env(root), manager)


def install(project: Project) -> None:
    """Install the project the way its README says (uv) or the nearest thing conda-less (conda)."""
    if project.env_manager == "uv":
        uv_env = project.env | {"UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
        project.run("make", "setup", f"UV={UV}", env=uv_env, timeout=1200)
        assert (project.root / "uv.lock").is_file(), "make setup did not write uv.lock"
        project.run(UV, "lock", "--check", env=uv_env)
        return
    project.run(UV, "venv", "--quiet", "--python", sys.executable, ".venv")
    project.run(UV, "pip", "install", "--quiet", "--python", project.python, "-e", ".[dev]", timeout=1200)


def git_commit_all(project: Project, message: str) -> None:
    if not (project.root / ".git").exists():
        project.run("git", "init", "--quiet")
    project.run("git", "config", "user.email", "e2e@example.com")
    project.run("git", "config", "user.name", "E2E")
    project.run("git", "add", "-A")
    project.run("git", "commit", "--quiet", "--allow-empty", "-m", message)


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend and a local artifact store."""

    def __init__(self, workdir: Path, python: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        command = [
            str(python), "-m", "mlflow", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
            "--artifacts-destination", str(workdir / "artifacts"),
        ]  # fmt: skip
        server_env = env | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        self._context = running(
            command,
            cwd=workdir,
            env=server_env,
            ready=lambda: port_open(self.port),
            timeout=120,
            log=workdir / "server.log",
        )

    def __enter__(self) -> MlflowServer:
        self.process = self._context.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._context.__exit__(*exc_info)
