"""Refuse bad answers before cookiecutter writes a file.

The rules live in cookiecutter.json (`_rules`, `_reserved_python_names`, `_reserved_package_names`) and
tools/template_rules.py, imported from the template checkout; copier.yml's validators are generated from the same
data by tools/sync_copier.py, so both tools refuse the same answers with the same words.
Exiting non-zero makes cookiecutter delete the half-made project, so nothing is left on disk.

Two things make cookiecutter differ from copier unless handled here:
- `jsonify` sorts keys, so `_rules` arrives in alphabetical order; copier validates in question order. The order is
  read back from cookiecutter.json, so the first bad answer in question order is the one reported by both tools.
- cookiecutter renders answers given on the command line (or as extra_context) as Jinja: `description="{{ 7*7 }}"`
  arrives here as "49". Copier takes answers literally. Each answer is therefore also judged as given (from the
  `_cookiecutter` context, before rendering) when it differs from the template's default.
"""

import json
import re
import sys
from pathlib import Path

CONTEXT = json.loads({{ cookiecutter | jsonify | tojson }})
GIVEN = json.loads({{ (_cookiecutter if _cookiecutter is defined else {}) | jsonify | tojson }})
sys.path.insert(0, CONTEXT["_repo_dir"])  # the template checkout (cookiecutter 2.2+)
from tools.template_rules import reserved_package_names  # noqa: E402


def template_source(context: dict) -> dict:
    """cookiecutter.json as written (question order, unrendered defaults); empty if it cannot be read."""
    try:
        text = (Path(context["_repo_dir"]) / "cookiecutter.json").read_text(encoding="utf-8")
        source = json.loads(text)
    except (KeyError, OSError, ValueError):
        return {}
    return source if isinstance(source, dict) else {}


def first_error(context: dict, given: dict, source: dict) -> str | None:
    """Return the one-line message for the first answer, in question order, that breaks its rule; None if all pass."""
    rules = context["_rules"]
    order = [name for name in source if name in rules] + sorted(name for name in rules if name not in source)
    for field in order:
        spec = rules[field]
        values = [context[field]]
        literal = given.get(field)
        if source and isinstance(literal, str) and literal not in (source.get(field), context[field]):
            values.insert(0, literal)  # the answer as typed, before cookiecutter rendered it
        for value in values:
            if not isinstance(value, str) or re.fullmatch(spec["pattern"], value) is None:
                return f"{field}: {value!r} {spec['rule']}"
        if "reserved" in spec and context[field] in reserved_package_names(context):
            return f"{field}: {context[field]!r} {spec['reserved']}"
    return None


def main() -> int:
    error = first_error(CONTEXT, GIVEN, template_source(CONTEXT))
    if error is None:
        return 0
    print(f"ERROR: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
