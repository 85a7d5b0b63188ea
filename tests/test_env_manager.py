"""The environment manager's files, per rendering: a uv project installs from uv.lock everywhere it installs, a
conda project mentions uv nowhere (no dead branches), and both keep environment.yml (docs/design.md says why)."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.conftest import Matrix
from tests.platforms import needs_template_dir
from tests.render import COMBINATIONS, TEMPLATE_ROOT, combination_id

pytestmark = needs_template_dir

UV_WORD = re.compile(r"\buv\b(?!icorn)")
INSTALLING_FILES = ["Makefile", "Dockerfile", ".dockerignore", "pyproject.toml", "README.md"]
INSTALLING_FILES += [".devcontainer/Dockerfile"]  # the dev container's image: uv for `make setup` in uv projects
by_manager = pytest.mark.parametrize(
    "key", [pytest.param(combination_id(answers), id=combination_id(answers)) for answers in COMBINATIONS]
)


def template_uv_version() -> str:
    """The uv the template's own tests run (pinned in its test extra): the one generated files must pin."""
    test_extra = tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pins = [spec for spec in test_extra["project"]["optional-dependencies"]["test"] if spec.startswith("uv==")]
    assert len(pins) == 1, "the template's test extra must pin uv exactly"
    return pins[0].removeprefix("uv==")


@by_manager
def test_environment_manager_files(matrix: Matrix, key: str) -> None:
    rendering = matrix[key]
    root = rendering.root("cookiecutter")
    assert (root / "environment.yml").is_file()  # kept under both managers
    installing = ["ci.yml", "monitor.yml", "retrain.yml"]  # batch.yml runs the published image: it installs nothing
    workflows = [
        f".github/workflows/{name}" for name in installing if (root / ".github" / "workflows" / name).is_file()
    ]
    texts = {name: (root / name).read_text(encoding="utf-8") for name in [*INSTALLING_FILES, *workflows]}
    if rendering.answers["env_manager"] == "conda":
        mentions = {name: UV_WORD.findall(text) for name, text in texts.items() if UV_WORD.search(text)}
        assert not mentions, f"a conda project mentions uv: {mentions}"
        return

    version = template_uv_version()
    pyproject = tomllib.loads(texts["pyproject.toml"])
    assert pyproject["tool"]["uv"]["required-version"] == f">={version}"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", pyproject["tool"]["uv"]["exclude-newer"])
    assert "$(UV) sync --frozen --extra dev" in texts["Makefile"]
    assert "!uv.lock" in texts[".dockerignore"].splitlines()
    assert f'"uv=={version}"' in texts["Dockerfile"]
    assert f'"uv=={version}"' in texts[".devcontainer/Dockerfile"]  # the dev container's `make setup` needs uv
    locked = "uv export --frozen" if rendering.answers["serving"] == "edge" else "uv sync --frozen --no-editable"
    assert locked in texts["Dockerfile"]
    for name in workflows:
        runs = [
            step["run"]
            for job in yaml.safe_load(texts[name])["jobs"].values()
            for step in job.get("steps", [])
            if "run" in step
        ]
        installs = [run for run in runs if "uv sync" in run]
        assert installs, f"{name} never installs from the lock"
        for run in installs:
            assert f'pip install "uv=={version}"' in run, name
            assert "uv sync --locked" in run, name
            assert 'echo "$PWD/.venv/bin" >> "$GITHUB_PATH"' in run, name
        assert not [run for run in runs if re.search(r"pip install (-e )?\"?\.\[", run)], f"{name} pip-installs"
