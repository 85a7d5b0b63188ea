"""The generated dev container, per rendering: `.devcontainer/devcontainer.json` is strict JSON that the Dev Container
specification's schema accepts (vendored in tests/schemas/, see its README), it forwards the serving ports and no
others, and its Dockerfile starts from the project's pinned Python and installs what its environment manager needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator  # installed with check-jsonschema (the test extra)

from tests.conftest import Matrix
from tests.platforms import needs_template_dir
from tests.render import COMBINATIONS, combination_id, load_cookiecutter_json

SCHEMA = Path(__file__).resolve().parent / "schemas" / "devContainer.base.schema.json"
PORTS = {"fastapi": [8000], "grpc": [50051, 9090], "batch": None, "edge": None}  # None: no forwardPorts key at all
# Each rendering once (needs the template directory, which a Windows checkout leaves out: tests/platforms.py).
every_rendering = pytest.mark.parametrize(
    "key",
    [
        pytest.param(combination_id(answers), id=combination_id(answers), marks=needs_template_dir)
        for answers in COMBINATIONS
    ],
)


@pytest.fixture(scope="module")
def validator() -> Draft201909Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2019-09/schema"
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema)


def schema_errors(validator: Draft201909Validator, config: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(top)'}: {error.message}"
        for error in validator.iter_errors(config)
    ]


def test_the_schema_refuses_what_the_spec_does_not_define(validator: Draft201909Validator) -> None:
    """The validator really applies the spec (draft 2019-09's unevaluatedProperties): a misspelt key fails."""
    valid = {"build": {"dockerfile": "Dockerfile"}, "forwardPorts": [8000]}
    assert not schema_errors(validator, valid)
    assert schema_errors(validator, {**valid, "forwardedPorts": [8000]})
    assert schema_errors(validator, {**valid, "forwardPorts": ["not a port"]})


@every_rendering
def test_devcontainer_json_matches_the_spec_schema(matrix: Matrix, key: str, validator: Draft201909Validator) -> None:
    rendering = matrix[key]
    text = (rendering.root("cookiecutter") / ".devcontainer" / "devcontainer.json").read_text(encoding="utf-8")
    config = json.loads(text)  # strict JSON: no comments or trailing commas, so any JSON tool reads it
    errors = schema_errors(validator, config)
    assert not errors, errors
    assert config["build"] == {"dockerfile": "Dockerfile"}
    assert config["postCreateCommand"] == "make setup"
    assert config.get("forwardPorts") == PORTS[rendering.answers["serving"]]
    assert "${containerWorkspaceFolder}/.venv/bin/python" in text  # the devcontainer variable survives Jinja


@every_rendering
def test_dev_container_image_is_the_projects_python(matrix: Matrix, key: str) -> None:
    rendering = matrix[key]
    dockerfile = (rendering.root("cookiecutter") / ".devcontainer" / "Dockerfile").read_text(encoding="utf-8")
    image = load_cookiecutter_json()["_python_images"][rendering.answers["python_version"]]
    assert [line for line in dockerfile.splitlines() if line.startswith("FROM ")] == [f"FROM {image}"]
    installs_uv = '"uv==' in dockerfile
    assert installs_uv == (rendering.answers["env_manager"] == "uv")
