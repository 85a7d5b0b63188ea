"""Write the options tables of the docs and the README from cookiecutter.json, the one source of the questions.

Each table sits between `<!-- NAME:start -->` and `<!-- NAME:end -->` markers; a file gets the tables whose
markers it holds. `python tools/options_table.py` rewrites them; `--check` exits 1 when one is stale (the fast
test tier runs it), so the documented options cannot drift from the real ones.

Tables: `options-table` (every question: default, choices, prompt), `option-values` (each choice value, what it
means and the files only it gets, from `_prune`), `option-rules` (the validation rule of each free-text answer).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

ROOT = Path(__file__).resolve().parent.parent
COOKIECUTTER_JSON = ROOT / "cookiecutter.json"
TARGETS = [ROOT / "docs" / "options.md", ROOT / "README.md"]


def cell(text: str) -> str:
    """Markdown table cell text: one line, pipes and backticks escaped."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("`", "\\`")


def questions(source: dict[str, Any]) -> list[str]:
    return [key for key in source if not key.startswith("_")]


def resolved_defaults(source: dict[str, Any]) -> dict[str, str]:
    """Each question's default as a user gets it: derived ones (`{{ cookiecutter.x }}`) rendered in order."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    resolved: dict[str, str] = {}
    for name in questions(source):
        default = source[name]
        resolved[name] = (
            default[0] if isinstance(default, list) else env.from_string(default).render(cookiecutter=resolved)
        )
    return resolved


def options_table(source: dict[str, Any]) -> str:
    defaults = resolved_defaults(source)
    rows = ["| option | default | choices | question |", "|---|---|---|---|"]
    for name in questions(source):
        value, prompt = source[name], source["__prompts__"][name]
        if isinstance(value, list):
            default, choices, question = f"`{defaults[name]}`", ", ".join(f"`{v}`" for v in value), prompt["__prompt__"]
        else:
            derived = "{{" in value
            default = f"derived: `{defaults[name]}`" if derived else cell(defaults[name])
            choices, question = "", prompt
        rows.append(f"| `{name}` | {default} | {choices} | {cell(question)} |")
    return "\n".join(rows)


def option_values(source: dict[str, Any]) -> str:
    rows = ["| option | value | meaning | files only this value gets |", "|---|---|---|---|"]
    prune = source.get("_prune", {})
    for name in questions(source):
        if not isinstance(source[name], list):
            continue
        for value in source[name]:
            own = prune.get(name, {}).get(value, [])
            others = {p for other, patterns in prune.get(name, {}).items() if other != value for p in patterns}
            files = ", ".join(f"`{p}`" for p in own if p not in others) or "none"
            label = source["__prompts__"][name][value]
            rows.append(f"| `{name}` | `{value}` | {cell(label)} | {files if name in prune else ''} |")
    return "\n".join(rows)


def option_rules(source: dict[str, Any]) -> str:
    rows = ["| option | an answer ... |", "|---|---|"]
    for name in questions(source):
        if name in source.get("_rules", {}):
            rows.append(f"| `{name}` | {cell(source['_rules'][name]['rule'])} |")
            if "reserved" in source["_rules"][name]:
                rows.append(f"| `{name}` | {cell(source['_rules'][name]['reserved'])} |")
    return "\n".join(rows)


TABLES: dict[str, Callable[[dict[str, Any]], str]] = {
    "options-table": options_table,
    "option-values": option_values,
    "option-rules": option_rules,
}


def fill(text: str, source: dict[str, Any]) -> str:
    """`text` with every table whose markers it holds rewritten."""
    for name, build in TABLES.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
        text = pattern.sub(lambda match, build=build: match.group(1) + build(source) + "\n" + match.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a table is not what would be written")
    args = parser.parse_args()
    source = json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))
    stale = []
    for target in TARGETS:
        if not target.exists():
            continue
        text = target.read_text(encoding="utf-8")
        filled = fill(text, source)
        if filled != text:
            stale.append(target.relative_to(ROOT).as_posix())
            if not args.check:
                target.write_text(filled, encoding="utf-8")
    if args.check and stale:
        print(f"options tables are stale in {', '.join(stale)}: run `python tools/options_table.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
