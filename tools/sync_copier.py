"""Write copier.yml from cookiecutter.json, the one source of the template's questions.

Run `python tools/sync_copier.py` after editing cookiecutter.json; `--check` exits 1 when copier.yml is stale
(the fast test tier runs it). Questions, order, defaults, choices, help texts and validators all come from
cookiecutter.json, so the two tools cannot disagree.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
COOKIECUTTER_JSON = ROOT / "cookiecutter.json"
COPIER_YML = ROOT / "copier.yml"

HEADER = """\
# GENERATED from cookiecutter.json by `python tools/sync_copier.py`: edit cookiecutter.json, then re-run it.
# The same template tree serves cookiecutter and copier; see docs/design.md for how.
"""

# Files of unchosen option values, read from cookiecutter.json's `_prune` at copy time, so the post-gen hook
# (cookiecutter) and this exclusion (copier) share one list. Copier renders each entry and splits it on newlines.
PRUNE_EXCLUDE = """\
{%- set source %}{% include 'cookiecutter.json' %}{% endset -%}
{%- for question, by_value in (source | from_json)['_prune'].items() -%}
{%- set kept = by_value[cookiecutter[question]] -%}
{%- for value, patterns in by_value.items() if value != cookiecutter[question] -%}
{%- for pattern in patterns if pattern not in kept %}
{{ pattern }}
{%- endfor -%}
{%- endfor -%}
{%- endfor -%}
"""

SETTINGS: dict[str, Any] = {
    "_min_copier_version": "9.18.0",
    "_subdirectory": "{% raw %}{{cookiecutter.project_slug}}{% endraw %}",
    "_templates_suffix": "",
    "_answers_file": ".copier-answers.yml",
    "_envops": {"undefined": "jinja2.StrictUndefined", "keep_trailing_newline": True},
    "_exclude": [PRUNE_EXCLUDE, "__pycache__", "*.py[co]", ".DS_Store"],
}


def reserved_package_names(extra: list[str]) -> list[str]:
    """Same set as hooks/pre_gen_project.py computes at run time: stdlib modules, keywords, dependencies."""
    names = set(sys.stdlib_module_names) | set(keyword.kwlist) | set(keyword.softkwlist) | set(extra)
    return sorted(n for n in names if not n.startswith("_"))


def to_copier_expression(value: str) -> str:
    """Cookiecutter says `cookiecutter.x`; copier exposes answers as top-level names."""
    return re.sub(r"\bcookiecutter\.", "", value)


def validator(field: str, spec: dict[str, str], reserved: list[str] | None) -> str:
    pattern = json.dumps("^(?:" + spec["pattern"] + r")\Z")
    checks = f"{{% if {field} is not string or not ({field} | regex_search({pattern})) %}}"
    checks += f"{field}: {{{{ {field} | string | tojson }}}} {spec['rule']}"
    if reserved is not None:
        # elif: one message per answer, as the pre-gen hook gives (a reserved name may also break the pattern)
        checks += (
            f"{{% elif {field} in {json.dumps(reserved)} %}}{field}: {{{{ {field} | tojson }}}} must not be a Python"
            " keyword, a standard library module or a dependency"
        )
    return checks + "{% endif %}"


def question(name: str, default: Any, source: dict[str, Any]) -> dict[str, Any]:
    prompt = source["__prompts__"][name]
    q: dict[str, Any] = {"type": "str"}
    if isinstance(default, list):
        q["help"] = prompt["__prompt__"]
        q["choices"] = {prompt[choice]: choice for choice in default}
        q["default"] = default[0]
    else:
        q["help"] = prompt
        q["default"] = to_copier_expression(default)
    if name in source["_rules"]:
        reserved = reserved_package_names(source["_reserved_package_names"]) if name == "package_name" else None
        q["validator"] = validator(name, source["_rules"][name], reserved)
    return q


def computed_namespace(names: list[str]) -> dict[str, Any]:
    """Never asked nor stored: lets every template file say `{{ cookiecutter.x }}` under copier too."""
    pairs = ", ".join(f"{n}={n}" for n in names)
    return {
        "type": "json",
        "when": False,
        "default": f"{{{{ dict({pairs}) | to_json }}}}",
    }


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, so the generated file stays readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def render(source: dict[str, Any]) -> str:
    names = [k for k in source if not k.startswith("_")]
    config: dict[str, Any] = dict(SETTINGS)
    for name in names:
        config[name] = question(name, source[name], source)
    config["cookiecutter"] = computed_namespace(names)
    body = yaml.dump(
        config, Dumper=_BlockStyleDumper, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False
    )
    return HEADER + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if copier.yml is not what would be written")
    args = parser.parse_args()
    text = render(json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8")))
    if args.check:
        if COPIER_YML.read_text(encoding="utf-8") != text:
            print("copier.yml is stale: run `python tools/sync_copier.py`", file=sys.stderr)
            return 1
        return 0
    COPIER_YML.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
