"""Base images are pinned by tag and digest, from one place: cookiecutter.json's `_python_images` (one image per
python_version answer; docs/design.md says where each digest was read). Every rendered Dockerfile starts from the
image of its project's Python, and docker-compose.yml's third-party images carry a digest too."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.conftest import Matrix
from tests.platforms import needs_template_dir
from tests.render import COMBINATIONS, choice_questions, combination_id, load_cookiecutter_json

DIGEST = r"@sha256:[0-9a-f]{64}"
DOCKERFILES = ["Dockerfile", ".devcontainer/Dockerfile", "mlflow-server/Dockerfile"]
# Each rendering once (needs the template directory, which a Windows checkout leaves out: tests/platforms.py).
every_rendering = pytest.mark.parametrize(
    "key",
    [
        pytest.param(combination_id(answers), id=combination_id(answers), marks=needs_template_dir)
        for answers in COMBINATIONS
    ],
)


def test_one_pinned_image_per_python_version() -> None:
    images = load_cookiecutter_json()["_python_images"]
    assert sorted(images) == sorted(choice_questions()["python_version"])
    for version, image in images.items():
        # the official image's full tag (Python patch release, Debian bookworm, slim) and its index digest
        assert re.fullmatch(rf"python:{re.escape(version)}\.\d+-slim-bookworm{DIGEST}", image), image


@every_rendering
def test_every_dockerfile_starts_from_the_projects_pinned_python(matrix: Matrix, key: str) -> None:
    rendering = matrix[key]
    root = rendering.root("cookiecutter")
    image = load_cookiecutter_json()["_python_images"][rendering.answers["python_version"]]
    present = [name for name in DOCKERFILES if (root / name).is_file()]
    assert ("mlflow-server/Dockerfile" in present) == (rendering.answers["tracking"] == "mlflow-server")
    for name in present:
        bases = [
            line.split()[1]
            for line in (root / name).read_text(encoding="utf-8").splitlines()
            if line.startswith("FROM ")
        ]
        assert bases, name
        assert set(bases) == {image}, (name, bases)


@every_rendering
def test_compose_pins_third_party_images_by_digest(matrix: Matrix, key: str) -> None:
    root = matrix[key].root("cookiecutter")
    services = yaml.safe_load((root / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    for name, service in services.items():
        if "build" in service:
            continue  # built here from the pinned Dockerfiles; `image` only names the result
        assert re.search(DIGEST + "$", service["image"]), (name, service["image"])
