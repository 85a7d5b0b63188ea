"""Remove the files that belong only to option values the user did not choose.

The file lists live in cookiecutter.json (`_prune`); copier's `_exclude` reads the same lists, so both tools
produce the same tree. A pattern listed under the chosen value too is kept (files shared by two values).
"""

import json
import shutil
from pathlib import Path

CONTEXT = json.loads({{ cookiecutter | jsonify | tojson }})


def patterns_to_remove(context: dict) -> set[str]:
    """Patterns of every unchosen option value, minus those the chosen value also owns."""
    remove: set[str] = set()
    for question, by_value in context["_prune"].items():
        kept = set(by_value[context[question]])
        for value, patterns in by_value.items():
            if value != context[question]:
                remove.update(p for p in patterns if p not in kept)
    return remove


def main() -> None:
    root = Path.cwd()
    for pattern in sorted(patterns_to_remove(CONTEXT)):
        for path in root.glob(pattern.strip("/")):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


if __name__ == "__main__":
    main()
