"""Session fixtures: every option combination rendered once per tool, and one ruff run over all of them."""

from __future__ import annotations

import os
import traceback
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.checks import RuffReport, run_ruff
from tests.render import COMBINATIONS, TOOLS, Tool, combination_id, isolation_dir, render_with


@dataclass
class Rendering:
    """One combination rendered by both tools (or the error a tool raised)."""

    answers: dict[str, str]
    roots: dict[Tool, Path] = field(default_factory=dict)
    errors: dict[Tool, str] = field(default_factory=dict)

    def root(self, tool: Tool) -> Path:
        """The rendered project of `tool`; fails the calling test (only it) if that tool could not render."""
        if tool in self.errors:
            pytest.fail(f"{tool} could not render {self.answers}:\n{self.errors[tool]}", pytrace=False)
        return self.roots[tool]


@dataclass
class Matrix:
    """Every combination rendered by both tools, under one directory.

    Cookiecutter trees are in `<base>/<id>/cookiecutter/<slug>`, copier trees in `<base>/<id>/copier`.
    """

    base: Path
    renderings: dict[str, Rendering]

    def __getitem__(self, key: str) -> Rendering:
        return self.renderings[key]


@pytest.fixture(scope="session")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    """Every combination of COMBINATIONS, rendered once by cookiecutter and once by copier, keyed by combination id."""
    base = tmp_path_factory.mktemp("matrix")
    result = {combination_id(answers): Rendering(answers) for answers in COMBINATIONS}
    isolation_dir()  # before the workers start, so that they share it
    # Rendering is CPU-bound (Jinja, git, hook interpreters): spread it over the machine's cores.
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {
            pool.submit(render_with, tool, rendering.answers, base / key / tool): (rendering, tool)
            for key, rendering in result.items()
            for tool in TOOLS
        }
        for future, (rendering, tool) in futures.items():
            try:
                rendering.roots[tool] = future.result()
            except Exception as error:
                rendering.errors[tool] = "".join(traceback.format_exception(error))
    return Matrix(base, result)


@pytest.fixture(scope="session")
def matrix_ruff(matrix: Matrix) -> RuffReport:
    """ruff check and ruff format --check, run once over every cookiecutter tree of the matrix (copier's trees are
    checked to be byte-identical to them). Paths in the report start with `<id>/cookiecutter/`."""
    paths = [f"{key}/cookiecutter" for key, rendering in matrix.renderings.items() if "cookiecutter" in rendering.roots]
    if not paths:
        pytest.fail("cookiecutter rendered no combination; see test_trees_identical", pytrace=False)
    return run_ruff(matrix.base, paths)
