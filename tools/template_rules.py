"""The template's rules over cookiecutter.json, each defined once: which answers are refused, which files an answer
set prunes, which files switching an option deletes, which package names are reserved.

Standard library only, because cookiecutter imports it from the template checkout (tools/answer_check.py and the
post-gen hook). Copier cannot run
Python at render time, so copier.yml carries a Jinja translation of `pruned_patterns` (tools/sync_copier.py); the
render tests prove the two agree by comparing both tools' trees file by file.
"""

from __future__ import annotations

import keyword
import re
import sys
from collections.abc import Mapping

PruneMap = Mapping[str, Mapping[str, list[str]]]


def lost_on_switch(by_value: Mapping[str, list[str]], old: str, new: str) -> list[str]:
    """Patterns `old` owns and `new` does not: the files a project on `old` loses when it moves to `new`.
    A pattern listed under both values belongs to both (files shared by two values)."""
    kept = set(by_value[new])
    return [pattern for pattern in by_value[old] if pattern not in kept]


def pruned_patterns(prune: PruneMap, answers: Mapping[str, str]) -> set[str]:
    """Patterns of the files a rendering with these answers must not hold: every unchosen value's own files."""
    return {
        pattern
        for question, by_value in prune.items()
        for value in by_value
        if value != answers[question]
        for pattern in lost_on_switch(by_value, value, answers[question])
    }


def python_reserved_names() -> set[str]:
    """What the running interpreter forbids as a package name: its standard library modules, keywords and soft
    keywords. Names starting with '_' are left out: no package_name answer can start with one."""
    names = set(sys.stdlib_module_names) | set(keyword.kwlist) | set(keyword.softkwlist)
    return {name for name in names if not name.startswith("_")}


def reserved_package_names(source: Mapping[str, object]) -> set[str]:
    """The package names both tools refuse: `_reserved_python_names` (frozen, the union over every Python the
    template supports, so the answer does not depend on the interpreter that renders) and the generated project's
    dependencies (`_reserved_package_names`)."""
    return set(source["_reserved_python_names"]) | set(source["_reserved_package_names"])  # type: ignore[call-overload]


def first_error(answers: Mapping[str, object], given: Mapping[str, object], source: Mapping[str, object]) -> str | None:
    """The one-line message for the first answer, in question order, that breaks its rule (`_rules` in
    cookiecutter.json, `source`); None if all pass. `answers` are the rendered answers, `given` the answers as typed:
    cookiecutter renders answers given on its command line as Jinja (`description="{{ 7*7 }}"` arrives as "49")
    while copier takes them literally, so an answer is also judged as typed when it differs from the default."""
    rules: Mapping[str, Mapping[str, str]] = source["_rules"]  # type: ignore[assignment]
    for field in (name for name in source if name in rules):
        spec = rules[field]
        values = [answers[field]]
        literal = given.get(field)
        if isinstance(literal, str) and literal not in (source.get(field), answers[field]):
            values.insert(0, literal)
        for value in values:
            if not isinstance(value, str) or re.fullmatch(spec["pattern"], value) is None:
                return f"{field}: {value!r} {spec['rule']}"
        if "reserved" in spec and answers[field] in reserved_package_names(source):
            return f"{field}: {answers[field]!r} {spec['reserved']}"
    return None
