"""Write copier.yml from cookiecutter.json, the one source of the template's questions.

Run `python tools/sync_copier.py` after editing cookiecutter.json; `--check` exits 1 when copier.yml is stale
(the fast test tier runs it). Questions, order, defaults, choices, help texts and validators all come from
cookiecutter.json, so the two tools cannot disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `tools` is a package of the template checkout
from tools.template_rules import lost_on_switch, reserved_package_names  # noqa: E402

COOKIECUTTER_JSON = ROOT / "cookiecutter.json"
COPIER_YML = ROOT / "copier.yml"

HEADER = """\
# GENERATED from cookiecutter.json by `python tools/sync_copier.py`: edit cookiecutter.json, then re-run it.
# The same template tree serves cookiecutter and copier; see docs/design.md for how.
"""

# Files of unchosen option values, read from cookiecutter.json's `_prune` at copy time, so the post-gen hook
# (cookiecutter) and this exclusion (copier) share one list. Copier renders each entry and splits it on newlines.
# This is tools/template_rules.py's `pruned_patterns` in Jinja (copier runs no Python at render time).
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
    "_subdirectory": "{% raw %}{{cookiecutter.project_slug|checked_answers}}{% endraw %}",
    "_templates_suffix": "",
    "_answers_file": ".copier-answers.yml",
    "_envops": {"undefined": "jinja2.StrictUndefined", "keep_trailing_newline": True},
    "_exclude": [PRUNE_EXCLUDE, "__pycache__", "*.py[co]", ".DS_Store"],
    # The project's answers as they are on disk (empty in a fresh copy): the option-switch guard compares with them.
    "_external_data": {"previous_answers": "{{ _copier_conf.answers_file }}"},
    "_message_after_update": (
        "Review `git status` and `git diff`; resolve any `<<<<<<< before updating` conflict markers, then commit."
    ),
}

# cookiecutter.json's private values that template files read as `cookiecutter._x`: cookiecutter passes them through,
# copier gets them from the computed namespace. `_python_images`: the base image, by tag and digest, per python_version.
TEMPLATE_CONSTANTS = ("_template_version", "_python_images")

# `copier update` deletes the files of an option's old value (its `_prune` list), even files the owner edited.
# So each value carries a choice validator that, when the project already has answers, disables it if the recorded
# value owns files this one does not: `-d serving=x` then fails with the one-line message below, and the interactive
# menu shows the value disabled with it. Copier renders validators in every worker; they stay quiet where there is no
# project yet: a plain copy (no --overwrite), and the update's scratch renders in temporary `*.old_copy.*` and
# `*.new_copy.*` directories (reading a missing answers file would print a MissingFileWarning there).
ALLOW_SWITCH = "_allow_option_switch"


def deleted_by_switch(by_value: dict[str, list[str]], value: str) -> dict[str, str]:
    """Previous value -> its files (patterns) that switching to `value` deletes; values that lose none are left out."""
    lost = {old: lost_on_switch(by_value, old, value) for old in by_value if old != value}
    return {old: ", ".join(patterns) for old, patterns in lost.items() if patterns}


def switch_guard(question: str, value: str, deleted: dict[str, str]) -> str:
    previous = f"_external_data.previous_answers.{question}"
    where = "(_copier_conf.dst_path | string)"
    active = (
        f"_copier_conf.overwrite and '.old_copy.' not in {where} and '.new_copy.' not in {where}"
        f" and ({ALLOW_SWITCH} | default('') | string | lower) not in ['true', '1', 'yes']"
        f" and {previous} is defined and {previous} in {json.dumps(list(deleted))}"
    )
    return (
        f"{{% if {active} %}}{question}: changing {{{{ {previous} | tojson }}}} to {json.dumps(value)} in `copier"
        f" update` deletes these files even if you edited them: {{{{ {json.dumps(deleted)}[{previous}] }}}}; follow"
        f" 'Switch an option' in the template's docs/updating.md (it ends with -d {ALLOW_SWITCH}=true){{% endif %}}"
    )


def rename_migrations(renamed: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One migration per template version that renamed generated files (`_renamed_files` in cookiecutter.json):
    before the update, tools/move_files.py `git mv`s the owner's files to their new names so their edits follow.
    Copier runs migrations only with --trust, and asks for it only for updates that cross these versions."""
    return [
        {
            "version": version,
            "when": "{{ _stage == 'before' }}",
            "command": [
                "{{ _copier_python }}",
                "{{ _copier_conf.src_path }}/tools/move_files.py",
                "{{ _copier_conf.answers_file }}",
                version,
            ],
        }
        for version in renamed
    ]


def to_copier_expression(value: str) -> str:
    """Cookiecutter says `cookiecutter.x`; copier exposes answers as top-level names."""
    return re.sub(r"\bcookiecutter\.", "", value)


def validator(field: str, spec: dict[str, str], reserved: list[str]) -> str:
    pattern = json.dumps("^(?:" + spec["pattern"] + r")\Z")
    checks = f"{{% if {field} is not string or not ({field} | regex_search({pattern})) %}}"
    checks += f"{field}: {{{{ {field} | string | tojson }}}} {spec['rule']}"
    if "reserved" in spec:
        # elif: one message per answer, as tools/template_rules.first_error gives (a reserved name may also break
        # the pattern)
        checks += (
            f"{{% elif {field} in {json.dumps(reserved)} %}}{field}: {{{{ {field} | tojson }}}} {spec['reserved']}"
        )
    return checks + "{% endif %}"


def question(name: str, default: Any, source: dict[str, Any]) -> dict[str, Any]:
    prompt = source["__prompts__"][name]
    q: dict[str, Any] = {"type": "str"}
    if isinstance(default, list):
        q["help"] = prompt["__prompt__"]
        q["choices"] = {prompt[choice]: choice for choice in default}
        if name in source.get("_prune", {}):
            by_value = source["_prune"][name]
            q["choices"] = {
                label: {"value": value, "validator": switch_guard(name, value, deleted_by_switch(by_value, value))}
                for label, value in q["choices"].items()
            }
        q["default"] = default[0]
    else:
        q["help"] = prompt
        q["default"] = to_copier_expression(default)
    if name in source["_rules"]:
        q["validator"] = validator(name, source["_rules"][name], sorted(reserved_package_names(source)))
    return q


def computed_namespace(names: list[str], constants: dict[str, Any] | None = None) -> dict[str, Any]:
    """Never asked nor stored: lets every template file say `{{ cookiecutter.x }}` under copier too.
    `constants` are cookiecutter.json's private values templates use (`_template_version`, `_python_images`)."""
    pairs = ", ".join([f"{n}={n}" for n in names] + [f"{k}={json.dumps(v)}" for k, v in (constants or {}).items()])
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
    if source.get("_renamed_files"):
        config["_migrations"] = rename_migrations(source["_renamed_files"])
    for name in names:
        config[name] = question(name, source[name], source)
    constants = {key: source[key] for key in TEMPLATE_CONSTANTS}
    config["cookiecutter"] = computed_namespace(names, constants)
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
