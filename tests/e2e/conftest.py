"""End-to-end tier: every (serving, tracking) pair is baked, installed, trained and then exercised for real.

`project(serving, tracking)` returns a trained project, built once per pair and per test process. Test ids carry
the pair (`fastapi-mlflow`, ...): `make test-e2e` splits the tier into two parallel processes by those ids, so each
project is built in one process only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from .projects import PAIRS, MlflowServer, Project, bake, git_commit_all, install


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


def group_name(serving: str, tracking: str) -> str:
    return f"{serving}-{tracking}"


def pair_params(pairs: list[tuple[str, str]] = PAIRS) -> list:
    """Parameters for a test over (serving, tracking) pairs, with the pair as the test id."""
    return [pytest.param(serving, tracking, id=group_name(serving, tracking)) for serving, tracking in pairs]


@pytest.fixture(scope="session")
def resources() -> Iterator[ExitStack]:
    """Servers shared by the whole session (stopped by pid at the end)."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory, resources: ExitStack) -> Callable[[str, str], Project]:
    built: dict[tuple[str, str], Project] = {}

    def get(serving: str, tracking: str) -> Project:
        key = (serving, tracking)
        if key not in built:
            workdir = tmp_path_factory.mktemp(group_name(serving, tracking))
            baked = bake(serving, tracking, workdir)
            install(baked)
            if tracking == "mlflow-server":
                server = resources.enter_context(MlflowServer(workdir / "mlflow-server", baked.python, baked.env))
                baked.env["MLFLOW_TRACKING_URI"] = server.uri
            git_commit_all(baked, "generated")
            baked.run(baked.python, "-m", "dvc", "repro", timeout=900)
            built[key] = baked
        return built[key]

    return get
