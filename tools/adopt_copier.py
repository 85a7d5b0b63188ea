"""Let a project generated with cookiecutter be updated with `copier update`, from then on.

Copier updates a project from its answers file, `.copier-answers.yml`, which cookiecutter does not write. Every
generated project records the template version and its answers in pyproject.toml (`[tool.mlops-template]`); this
script renders that same version with those answers into a scratch directory (nothing in the project is touched),
checks the result looks like the project, and writes the answers file copier wrote there into the project:

    python tools/adopt_copier.py ../my-project --template https://github.com/you/this-template.git
    cd ../my-project && git add .copier-answers.yml && git commit -m "Track the template with copier"
    copier update --defaults

Copier's first update then starts from exactly what cookiecutter generated (both tools render this template
byte for byte alike), so your edits since are merged, not overwritten. Needs copier (>= 9.18) and git.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
ANSWERS_FILE = ".copier-answers.yml"
TABLE = "mlops-template"


class AdoptionError(Exception):
    """A one-line reason the project cannot be adopted as asked."""


def recorded(project: Path) -> tuple[str | None, dict[str, str]]:
    """The template version and answers the project was generated with (from its pyproject.toml)."""
    try:
        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise AdoptionError(f"cannot read {project / 'pyproject.toml'}: {error}") from error
    table = pyproject.get("tool", {}).get(TABLE, {})
    return table.get("version"), dict(table.get("answers", {}))


def git(project: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AdoptionError(f"git {' '.join(args)} failed in {project}: {result.stderr.strip()}")
    return result.stdout


def check_project(project: Path) -> None:
    if not (project / "pyproject.toml").is_file():
        raise AdoptionError(f"{project} has no pyproject.toml: not a project generated from this template")
    if (project / ANSWERS_FILE).exists():
        raise AdoptionError(f"{project / ANSWERS_FILE} exists already: run `copier update` there")
    if git(project, "rev-parse", "--show-toplevel").strip() != str(project.resolve()):
        raise AdoptionError(f"{project} must be the root of a git repository (copier updates need git)")
    if git(project, "status", "--porcelain").strip():
        raise AdoptionError(f"{project} has uncommitted changes: commit them first")


def template_source(given: str | None) -> str:
    """A URL as given, or a local path made absolute (copier cannot update from a relative `_src_path`)."""
    if given is None:
        return str(TEMPLATE_ROOT)
    if "://" in given or given.startswith(("git@", "gh:", "gl:")):
        return given
    return str(Path(given).resolve())


def render_answers(template: str, ref: str, answers: dict[str, str], scratch: Path) -> Path:
    """Copy the template at `ref` with `answers` into `scratch`; return the rendered project directory."""
    from copier import run_copy

    try:
        run_copy(template, scratch, data=answers, vcs_ref=ref, defaults=True, quiet=True)
    except Exception as error:  # copier reports bad refs, answers and sources with many exception types
        raise AdoptionError(f"copier could not render {template} at {ref}: {error}") from error
    return scratch


def likeness(rendered: Path, project: Path) -> tuple[int, int, int]:
    """(identical, edited, missing) counts of the rendered files, compared with the project's committed files."""
    committed = set(git(project, "ls-files", "-z").split("\0"))
    identical = edited = missing = 0
    for path in rendered.rglob("*"):
        relpath = path.relative_to(rendered).as_posix()
        if not path.is_file() or relpath == ANSWERS_FILE:
            continue
        if relpath not in committed:
            missing += 1
        elif (project / relpath).read_bytes() == path.read_bytes():
            identical += 1
        else:
            edited += 1
    return identical, edited, missing


def adopt(project: Path, template: str, ref: str | None, overrides: dict[str, str], force: bool) -> str:
    check_project(project)
    version, answers = recorded(project)
    answers.update(overrides)
    ref = ref or version
    if not ref:
        raise AdoptionError(f"pyproject.toml has no [tool.{TABLE}] version: pass --vcs-ref (the template tag used)")
    if not answers:
        raise AdoptionError(f"pyproject.toml has no [tool.{TABLE}.answers]: pass every answer with --data key=value")
    scratch = Path(tempfile.mkdtemp(prefix="adopt-copier-"))
    try:
        rendered = render_answers(template, ref, answers, scratch / "project")
        identical, edited, missing = likeness(rendered, project)
        if identical < (identical + edited + missing) / 2 and not force:
            raise AdoptionError(
                f"the template at {ref} with these answers does not look like this project ({identical} files"
                f" identical, {edited} differ, {missing} missing): check --vcs-ref and --data, or pass --force"
            )
        shutil.copyfile(rendered / ANSWERS_FILE, project / ANSWERS_FILE)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return (
        f"wrote {project / ANSWERS_FILE} (template {ref}: {identical} files as generated, {edited} edited since,"
        f" {missing} deleted)\nnext: cd {project} && git add {ANSWERS_FILE} && git commit -m 'Track the template with"
        " copier' && copier update --defaults"
    )


def parse_data(pairs: list[str]) -> dict[str, str]:
    data = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AdoptionError(f"--data {pair!r} must look like key=value")
        data[key] = value
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="the generated project (a git repository with everything committed)")
    parser.add_argument("--template", help="template URL or path to record for updates (default: this repository)")
    parser.add_argument("--vcs-ref", help="template tag the project was generated from (default: the recorded one)")
    parser.add_argument("--data", action="append", default=[], metavar="KEY=VALUE", help="override a recorded answer")
    parser.add_argument("--force", action="store_true", help="write the answers file even if the render looks unlike")
    args = parser.parse_args(argv)
    try:
        message = adopt(
            args.project.resolve(), template_source(args.template), args.vcs_ref, parse_data(args.data), args.force
        )
    except AdoptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
