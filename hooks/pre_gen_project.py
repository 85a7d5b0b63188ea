"""Refuse bad answers before cookiecutter writes a file.

The rules live in cookiecutter.json (`_rules`, `_reserved_package_names`); copier.yml's validators are generated
from the same data by tools/sync_copier.py, so both tools refuse the same answers with the same words.
Exiting non-zero makes cookiecutter delete the half-made project, so nothing is left on disk.
"""

import json
import keyword
import re
import sys

CONTEXT = json.loads({{ cookiecutter | jsonify | tojson }})


def reserved_package_names() -> set[str]:
    """Names that would shadow the standard library, a keyword or a dependency of the generated project."""
    return (
        set(sys.stdlib_module_names)
        | set(keyword.kwlist)
        | set(keyword.softkwlist)
        | set(CONTEXT["_reserved_package_names"])
    )


def first_error(context: dict) -> str | None:
    """Return the one-line message for the first answer that breaks its rule, or None when all are fine."""
    for field, spec in context["_rules"].items():
        value = context[field]
        if not isinstance(value, str) or re.fullmatch(spec["pattern"], value) is None:
            return f"{field}: {value!r} {spec['rule']}"
    if context["package_name"] in reserved_package_names():
        name = context["package_name"]
        return f"package_name: {name!r} must not be a Python keyword, a standard library module or a dependency"
    return None


def main() -> int:
    error = first_error(CONTEXT)
    if error is None:
        return 0
    print(f"ERROR: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
