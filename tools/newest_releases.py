"""Bake one variant, install it with the newest release of every dependency, and run the project's own tests.

Why: the generated pyproject.toml caps each dependency below the releases the template's CI has not run yet (for
example `pandas>=3.0,<3.1`: Evidently 0.7.23 does not import with pandas 3.1). The caps keep users' installs
working, but they also hide the day a new release breaks the project, or stops breaking it. This tool lifts every
upper bound (`<`, `<=`, and `==`/`~=` become `>=`), lets the resolver pick the newest releases that the packages'
own metadata allows, installs the project itself without dependencies, and runs its tests the way its CI and
`make test` do (`python -m pytest`, no training first: the tests train what they need). The weekly "newest
releases" workflow (.github/workflows/newest.yml) runs it for each serving style; it reports, it does not gate.

    python tools/newest_releases.py --serving fastapi --tracking mlflow [--keep]

The variant is baked with cookiecutter and `env_manager=conda` (pip and pyproject.toml, no uv.lock), into a fresh
temporary directory (kept with --keep). Exit status: 0 when the tests pass, 1 when they fail, 2 when the variant
could not be baked or installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import Specifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TEMPLATE_ROOT))

# The environment the generated CI gives its tests (the project's .venv first, no analytics or telemetry, W&B
# offline), as the e2e tier builds it.
from tests.e2e.projects import project_env  # noqa: E402

# The packages whose releases have broken (or may break) a generated project: printed whatever the outcome.
KEY_PACKAGES = (
    "pandas",
    "numpy",
    "scikit-learn",
    "evidently",
    "mlflow",
    "onnxruntime",
    "fastapi",
    "lightgbm",
)
EXTRA = "dev"  # what the generated CI and `make setup` install: the runtime, training, monitoring and test tools
LOWER_BOUND = {">=": ">=", ">": ">", "==": ">=", "~=": ">=", "===": ">="}  # `<`, `<=`: dropped; `!=`: kept


class Failure(Exception):
    """A step before the tests failed (exit status 2)."""


def choices(question: str) -> list[str]:
    """The values cookiecutter.json offers for a choice question, so the arguments follow the template."""
    source = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    return list(source[question])


def relax(requirement: Requirement) -> Requirement:
    """The same requirement (name, extras, marker) with its upper bounds removed and its lower bounds kept.

    `==1.2` and `~=1.2` keep 1.2 as the floor; `==1.2.*` becomes `>=1.2`; `!=` exclusions stay (they are not
    bounds). Only the specifier changes, through packaging's objects, so markers and extras survive verbatim.
    """
    kept = []
    for spec in requirement.specifier:
        if spec.operator == "!=":
            kept.append(str(spec))
            continue
        operator = LOWER_BOUND.get(spec.operator)
        if operator is None:
            continue  # an upper bound
        version = spec.version.removesuffix(".*")
        try:
            Version(version)
        except InvalidVersion:
            continue  # `===` with a non-PEP 440 string: no usable floor
        kept.append(str(Specifier(f"{operator}{version}")))
    relaxed = Requirement(str(requirement))
    relaxed.specifier = SpecifierSet(",".join(kept))
    return relaxed


def project_requirements(pyproject: dict, extra: str = EXTRA) -> list[Requirement]:
    """The project's dependencies plus those of `extra`, following the extra's references to the project's own
    extras (`churn-model[train,monitoring]`), which are dropped themselves: the project is installed on its own."""
    project = pyproject["project"]
    name = canonicalize_name(project["name"])
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    requirements = [Requirement(text) for text in project.get("dependencies", [])]
    pending, seen = [extra], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for text in optional[current]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == name:
                pending.extend(requirement.extras)
            else:
                requirements.append(requirement)
    return requirements


def run(command: Sequence[str | Path], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a step with its output shown; raise Failure if it fails."""
    printable = " ".join(str(part) for part in command)
    print(f"$ {printable}", flush=True)
    if subprocess.run([str(part) for part in command], cwd=cwd, env=env, check=False).returncode != 0:
        raise Failure(f"failed: {printable}")


def bake(serving: str, tracking: str, workdir: Path) -> Path:
    """Render the variant with cookiecutter's CLI, as a user would, isolated from the user's cookiecutter config."""
    config = workdir / "cookiecutterrc.yaml"
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(workdir / 'cookiecutters'))}\n"
        f"replay_dir: {json.dumps(str(workdir / 'replay'))}\n",
        encoding="utf-8",
    )
    output = workdir / "out"
    answers = [f"serving={serving}", f"tracking={tracking}", "env_manager=conda"]
    cookiecutter = [sys.executable, "-m", "cookiecutter", "--no-input", "--config-file", str(config)]
    run([*cookiecutter, "-o", str(output), str(TEMPLATE_ROOT), *answers], cwd=workdir)
    (project,) = [path for path in output.iterdir() if path.is_dir()]
    return project


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")


def install(project: Path, requirements: Iterable[Requirement], python: str) -> Path:
    """Make `.venv` in the project, install the newest releases the relaxed requirements allow, then the project
    (editable, as its CI does) without dependencies. uv's `--no-config` keeps any `[tool.uv]` setting (such as
    `exclude-newer`) and the user's uv.toml out of the resolution. Returns the environment's interpreter."""
    relaxed = project.parent / "newest-requirements.txt"
    relaxed.write_text("".join(f"{requirement}\n" for requirement in requirements), encoding="utf-8")
    print(f"--- {relaxed.name}: the upper bounds lifted\n{relaxed.read_text(encoding='utf-8')}", flush=True)
    uv = [sys.executable, "-m", "uv"]
    venv = project / ".venv"
    run([*uv, "venv", "--no-config", "--quiet", "--python", python, venv], cwd=project)
    interpreter = venv_python(venv)
    pip = [*uv, "pip", "install", "--no-config", "--python", interpreter]
    run([*pip, "--upgrade", "--resolution", "highest", "-r", relaxed], cwd=project)
    run([*pip, "--no-deps", "-e", "."], cwd=project)
    return interpreter


def installed_versions(interpreter: Path) -> dict[str, str]:
    """Every distribution in the environment, canonical name -> version, read by the environment itself."""
    script = (
        "import json, importlib.metadata as m; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    result = subprocess.run([str(interpreter), "-c", script], capture_output=True, text=True, check=True)
    return {canonicalize_name(name): version for name, version in json.loads(result.stdout).items()}


def report(requirements: Iterable[Requirement], versions: dict[str, str]) -> list[str]:
    """Lines naming the key packages' versions, then every direct dependency the newest release took past the
    project's range (the caps a template release could raise, or must keep)."""
    ranges = {canonicalize_name(requirement.name): requirement.specifier for requirement in requirements}
    lines = ["key packages:"]
    for name in KEY_PACKAGES:
        version = versions.get(canonicalize_name(name))
        where = "" if version is None or name not in ranges else f"  (project range {ranges[name] or 'any'})"
        lines.append(f"  {name:14} {version or 'not installed'}{where}")
    beyond = [
        f"  {name:24} {versions[name]:12} project range {spec}"
        for name, spec in sorted(ranges.items())
        if name in versions and not spec.contains(versions[name], prereleases=True)
    ]
    lines.append("newest releases outside the project's ranges:" if beyond else "every newest release is in range")
    return lines + beyond


def run_tests(project: Path, interpreter: Path) -> int:
    """`python -m pytest` in the project, after making it a git repository with one commit, as its CI checkout is
    (`make setup` does `git init` too): lineage and DVC read git."""
    git = ["git", "-c", "user.name=newest-releases", "-c", "user.email=newest-releases@example.com"]
    for command in (["init", "--quiet"], ["add", "-A"], ["commit", "--quiet", "-m", "baked"]):
        run([*git, *command], cwd=project)
    command = [str(interpreter), "-m", "pytest", "-p", "no:cacheprovider"]
    print(f"$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=project, env=project_env(project), check=False).returncode


def summarize(title: str, lines: list[str], outcome: str) -> None:
    """Print the outcome; in a GitHub Actions job, also add it to the run's summary page."""
    print("\n".join(["", f"=== {title}: {outcome}", *lines]), flush=True)
    if summary := os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(summary, "a", encoding="utf-8") as page:
            page.write("\n".join([f"### {title}: {outcome}", "", "```", *lines, "```", ""]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serving", choices=choices("serving"), required=True)
    parser.add_argument("--tracking", choices=choices("tracking"), required=True)
    parser.add_argument("--python", default=sys.executable, help="interpreter for the project's venv (default: this)")
    parser.add_argument("--keep", action="store_true", help="keep the baked project and its .venv (path printed)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    title = f"newest releases, {args.serving} + {args.tracking}"
    workdir = Path(tempfile.mkdtemp(prefix=f"newest-{args.serving}-{args.tracking}-"))
    lines: list[str] = []
    try:
        project = bake(args.serving, args.tracking, workdir)
        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        requirements = project_requirements(pyproject)
        interpreter = install(project, [relax(requirement) for requirement in requirements], args.python)
        lines = report(requirements, installed_versions(interpreter))
        print("\n".join(lines), flush=True)
        status = run_tests(project, interpreter)
        outcome = "tests passed" if status == 0 else f"tests FAILED (pytest exit status {status})"
        summarize(title, lines, outcome)
        return 0 if status == 0 else 1
    except Failure as error:
        summarize(title, lines, f"FAILED before the tests: {error}")
        return 2
    finally:
        if args.keep:
            print(f"kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
