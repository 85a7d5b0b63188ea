"""Copier migration: move the project's files that a template version renamed, so the owner's edits follow them.

Without it, `copier update` deletes a generated file whose name changed in the template, edits and all, and
writes the template's text under the new name. copier.yml runs this script (its `_migrations`, generated from
`_renamed_files` in cookiecutter.json) before an update that crosses such a version, in the project's root, with
the Python that runs copier:

    python <template>/tools/move_files.py <answers file> <version>

Paths in `_renamed_files` may use `{{ cookiecutter.package_name }}` etc.; they are rendered with the project's
answers. A file the owner edited is moved with `git mv`, so the edits follow it (copier then marks where it differs
from the template's new text, for review). A file still exactly as generated is removed instead, so copier writes
the new version at the new name with no conflict: to know which is which, the project's recorded template version
is rendered with its answers, as copier itself does before an update. A file that is not there (the owner deleted
it) or whose new name is taken is left alone, with a note.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2
import yaml

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent


def planned_moves(version: str, answers: dict[str, object]) -> list[tuple[str, str]]:
    """(old, new) project paths renamed by template `version`, rendered with the project's answers."""
    source = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)

    def render(path: str) -> str:
        return env.from_string(path).render(cookiecutter=answers)

    return [(render(old), render(new)) for old, new in source.get("_renamed_files", {}).get(version, {}).items()]


def tracked(path: str) -> bool:
    return subprocess.run(["git", "ls-files", "--error-unmatch", "--", path], capture_output=True).returncode == 0


def generated_text(answers: dict[str, object], paths: list[str]) -> dict[str, bytes]:
    """What the project's recorded template version generated at `paths`, rendered with its answers: the base that
    tells an owner's edit from the template's text. Empty when it cannot be rendered (every file then counts as
    edited and is moved: nothing is lost)."""
    from copier import run_copy

    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    with tempfile.TemporaryDirectory(prefix="move-files-") as scratch:
        try:
            run_copy(
                str(answers["_src_path"]),
                scratch,
                data=data,
                vcs_ref=str(answers["_commit"]),
                defaults=True,
                quiet=True,
                skip_tasks=True,
            )
        except Exception as error:  # any failure only means "treat every file as edited"
            print(f"note: cannot render the previous template version ({error}); moving every file", file=sys.stderr)
            return {}
        return {path: (Path(scratch) / path).read_bytes() for path in paths if (Path(scratch) / path).is_file()}


def move(old: str, new: str, generated: bytes | None) -> str:
    """Move one file (with `git mv` when git tracks it, so the update sees a rename), or remove it when it is still
    what the template generated; return what happened."""
    if not Path(old).exists():
        return f"{old} -> {new}: {old} is not in this project, nothing to move"
    if Path(new).exists():
        return f"{old} -> {new}: {new} already exists, both left as they are"
    if generated is not None and Path(old).read_bytes() == generated:
        if tracked(old):
            subprocess.run(["git", "rm", "--quiet", "--", old], check=True)
        else:
            Path(old).unlink()
        return f"removed {old}, unedited since it was generated: the update writes it as {new}"
    Path(new).parent.mkdir(parents=True, exist_ok=True)
    if tracked(old):
        subprocess.run(["git", "mv", "--", old, new], check=True)
    else:
        Path(old).rename(new)
    return f"moved {old} -> {new} with your edits"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: move_files.py <answers file> <template version>", file=sys.stderr)
        return 2
    answers_file, version = argv
    answers = yaml.safe_load(Path(answers_file).read_text(encoding="utf-8")) or {}
    moves = planned_moves(version, answers)
    present = [old for old, _ in moves if Path(old).exists()]
    generated = generated_text(answers, present) if present else {}
    for old, new in moves:
        print(f"template {version}: {move(old, new, generated.get(old))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
