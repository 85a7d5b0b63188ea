"""Bad answers, given on each tool's command line: refused, with one clear line naming the field, nothing on disk.

Both command lines run as a user would type them (`python -m cookiecutter --no-input ... key=value`, `python -m copier
copy --defaults -d key=value ...`), each in its own process and directory, concurrently; tests/cli_fork.py explains
how they avoid a fresh interpreter each, and a sample is compared with fresh interpreters.

Cookiecutter runs with an output directory that already exists, as a user's working directory does: an empty slug
then names that directory itself, which is how "directory already exists" used to hide the field's rule.

Tracebacks. Both tools print a Python traceback around some refusals they did not raise themselves, whatever the
template does: cookiecutter raises a bare ValueError for an invalid choice before the template can check anything;
copier's CLI lets the ValueError of a failed validator or an invalid choice escape when answers come from `-d` with
`--defaults`. The tests accept exactly those tool tracebacks (TOOL_TRACEBACKS) and no other: cookiecutter refusing a
rule (tools/answer_check.py) prints one line and no traceback, and a traceback from Jinja or copier.yml fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
import yaml

from tests.checks import data_file_errors, leftover_jinja, python_syntax_errors, run_ruff
from tests.cli_fork import run_command_lines
from tests.platforms import needs_template_dir
from tests.render import (
    ANSWERS_FILE,
    TEMPLATE_ROOT,
    TOOLS,
    Tool,
    choice_questions,
    load_cookiecutter_json,
    resolve_answers,
    template_snapshot,
    tool_env,
    tree_files,
)

pytestmark = needs_template_dir

Kind = Literal["rule", "reserved", "choice"]


@dataclass(frozen=True)
class Hostile:
    """Answers that must be refused because of `field`."""

    id: str
    answers: dict[str, str]
    field: str
    kind: Kind = "rule"


@dataclass(frozen=True)
class Unusual:
    """Valid answers that look like trouble: both tools must accept them and agree."""

    id: str
    answers: dict[str, str]
    expect_in_readme: list[str] = field(default_factory=list)


HOSTILE: list[Hostile] = [
    # project_name
    Hostile("name-only-spaces", {"project_name": "   "}, "project_name"),
    Hostile("name-empty", {"project_name": ""}, "project_name"),
    Hostile("name-unicode-only", {"project_name": "模型"}, "project_slug"),  # a fine name; its derived slug is not
    Hostile("name-double-quotes", {"project_name": 'Churn "Model"'}, "project_name"),
    Hostile("name-single-quote", {"project_name": "Churn 'Model'"}, "project_name"),
    Hostile("name-path-traversal", {"project_name": "../evil"}, "project_name"),
    Hostile("name-shell-substitution", {"project_name": "$(rm -rf ~)"}, "project_name"),
    Hostile("name-semicolon", {"project_name": "churn; ls"}, "project_name"),
    Hostile("name-too-long", {"project_name": "a" * 200}, "project_name"),
    Hostile("name-longer-than-a-file-name", {"project_name": "a" * 300}, "project_name"),
    # project_slug
    Hostile("slug-path-traversal", {"project_slug": "../evil"}, "project_slug"),
    Hostile("slug-slash", {"project_slug": "a/b"}, "project_slug"),
    Hostile("slug-backslash", {"project_slug": "a\\b"}, "project_slug"),
    Hostile("slug-leading-digit", {"project_slug": "1model"}, "project_slug"),
    Hostile("slug-uppercase", {"project_slug": "Churn-Model"}, "project_slug"),
    Hostile("slug-double-hyphen", {"project_slug": "churn--model"}, "project_slug"),
    Hostile("slug-trailing-hyphen", {"project_slug": "churn-model-"}, "project_slug"),
    Hostile("slug-ampersands", {"project_slug": "churn&&ls"}, "project_slug"),
    Hostile("slug-too-long", {"project_slug": "a" * 200}, "project_slug"),
    Hostile("slug-longer-than-a-file-name", {"project_slug": "a" * 300}, "project_slug"),
    Hostile("slug-jinja", {"project_slug": "{{ 'churn' }}"}, "project_slug"),
    # package_name
    Hostile("package-empty", {"package_name": ""}, "package_name"),
    Hostile("package-leading-digit", {"package_name": "1model"}, "package_name"),
    Hostile("package-hyphen", {"package_name": "churn-model"}, "package_name"),
    Hostile("package-too-long", {"package_name": "a" * 200}, "package_name"),
    Hostile("package-uppercase-keyword", {"package_name": "True"}, "package_name"),
    Hostile("package-keyword-class", {"package_name": "class"}, "package_name", "reserved"),
    Hostile("package-keyword-import", {"package_name": "import"}, "package_name", "reserved"),
    Hostile("package-soft-keyword-match", {"package_name": "match"}, "package_name", "reserved"),
    # a soft keyword only from Python 3.12: refused on every Python, whichever renders
    Hostile("package-soft-keyword-type", {"package_name": "type"}, "package_name", "reserved"),
    Hostile("package-stdlib-json", {"package_name": "json"}, "package_name", "reserved"),
    Hostile("package-stdlib-os", {"package_name": "os"}, "package_name", "reserved"),
    Hostile("package-stdlib-typing", {"package_name": "typing"}, "package_name", "reserved"),
    Hostile("package-dependency-mlflow", {"package_name": "mlflow"}, "package_name", "reserved"),
    Hostile("package-dependency-sklearn", {"package_name": "sklearn"}, "package_name", "reserved"),
    # an earlier field is reported first, as copier (which asks in order) does
    Hostile(
        "order-package-before-description", {"package_name": "json", "description": "a\nb"}, "package_name", "reserved"
    ),
    # description and author
    Hostile("description-newline", {"description": "line one\nline two"}, "description"),
    Hostile("description-shell-substitution", {"description": "$(rm -rf ~)"}, "description"),
    Hostile("description-backticks", {"description": "churn `ls`"}, "description"),
    Hostile("description-too-long", {"description": "x" * 201}, "description"),
    Hostile("description-jinja", {"description": "{{ 7*7 }}"}, "description"),
    Hostile("author-html", {"author_name": "<script>alert(1)</script>"}, "author_name"),
    Hostile("author-jinja", {"author_name": "{{ cookiecutter.project_name }}"}, "author_name"),
    Hostile("email-no-at", {"author_email": "not-an-email"}, "author_email"),
    Hostile("email-no-dot", {"author_email": "a@b"}, "author_email"),
    Hostile("email-no-local-part", {"author_email": "@example.com"}, "author_email"),
    Hostile("email-space", {"author_email": "a b@example.com"}, "author_email"),
    # choices
    Hostile("serving-flask", {"serving": "flask"}, "serving", "choice"),
    Hostile("tracking-comet", {"tracking": "comet"}, "tracking", "choice"),
    Hostile("orchestrator-dagster", {"orchestrator": "dagster"}, "orchestrator", "choice"),
    Hostile("python-3.10", {"python_version": "3.10"}, "python_version", "choice"),
    Hostile("license-gpl", {"license": "GPL"}, "license", "choice"),
    Hostile("env-manager-pip", {"env_manager": "pip"}, "env_manager", "choice"),
]

UNUSUAL: list[Unusual] = [
    Unusual("name-with-accent", {"project_name": "Modèle Churn", "project_slug": "modele-churn"}, ["Modèle Churn"]),
    Unusual("description-apostrophe-ampersand", {"description": "Bob's churn & retention model"}),
    Unusual("author-diaeresis-apostrophe", {"author_name": "Zoë O'Brien"}),
    Unusual(
        "all-at-once",
        {
            "project_name": "Modèle Churn",
            "project_slug": "modele-churn",
            "description": "Bob's churn & retention model",
            "author_name": "Zoë O'Brien",
            "author_email": "zoe.o-brien+ml@example.co.uk",
        },
        ["Modèle Churn", "Bob's churn & retention model"],
    ),
]

# The last line of each traceback a tool prints by itself around a refusal (see the module docstring), by kind.
_VALIDATOR_FAILED = r"ValueError: Validation error for question '{field}': {field}: .*"
TOOL_TRACEBACKS: dict[tuple[Tool, Kind], str | None] = {
    ("cookiecutter", "rule"): None,  # tools/answer_check.py: one line, no traceback
    ("cookiecutter", "reserved"): None,
    ("cookiecutter", "choice"): r"ValueError: .* provided for choice variable {field}, but the choices are .*",
    ("copier", "rule"): _VALIDATOR_FAILED,  # copier/_user_data.py: Question.validate_answer
    ("copier", "reserved"): _VALIDATOR_FAILED,
    ("copier", "choice"): r"ValueError: Invalid choice for '{field}': .*",
}


@dataclass(frozen=True)
class Run:
    """One command line, run in its own directory."""

    returncode: int
    output: str
    workdir: Path
    target: Path  # cookiecutter's output directory, or copier's destination

    def leftovers(self) -> set[str]:
        """Everything under the run's directory, except an empty output directory."""
        paths = {path.relative_to(self.workdir).as_posix() for path in self.workdir.rglob("*")}
        if self.target.is_dir() and not any(self.target.iterdir()):
            paths.discard(self.target.relative_to(self.workdir).as_posix())
        return paths


def command_line(tool: Tool, answers: dict[str, str], template: Path) -> tuple[str, list[str]]:
    """What a user would type, as (module, arguments): the project lands in `out/<slug>` (cookiecutter) or `dest`."""
    pairs = [f"{key}={value}" for key, value in answers.items()]
    if tool == "cookiecutter":
        return "cookiecutter", ["--no-input", "-o", "out", str(template), *pairs]
    data = [arg for pair in pairs for arg in ("-d", pair)]
    ref = ["--vcs-ref", "HEAD"] if (template / ".git").exists() else []
    return "copier", ["copy", "--defaults", *ref, *data, str(template), "dest"]


def run_all(
    jobs: list[tuple[str, Tool, dict[str, str], Path]], base: Path, *, fresh: bool = False
) -> dict[tuple[str, Tool], Run]:
    """Run every (case id, tool, answers, template) command line, each in `base/runs/<id>/<tool>`."""
    commands, runs = [], {}
    for case_id, tool, answers, template in jobs:
        workdir = base / "runs" / case_id / tool
        workdir.mkdir(parents=True)
        if tool == "cookiecutter":
            (workdir / "out").mkdir()  # an output directory that exists, as the working directory does
        module, args = command_line(tool, answers, template)
        commands.append((module, args, workdir))
        runs[case_id, tool] = workdir
    results = run_command_lines(commands, base / "outputs", tool_env(), fresh=fresh)
    return {
        key: Run(result.returncode, result.output, workdir, workdir / ("out" if key[1] == "cookiecutter" else "dest"))
        for (key, workdir), result in zip(runs.items(), results, strict=True)
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, Tool], Run]:
    """Every hostile and unusual case through both command lines (see tests/cli_fork.py for how they run).

    Refusals are copied by copier from a snapshot of the working tree (the same copier.yml, without a git clone per
    run: see `template_snapshot`); the accepted, unusual answers from the template repository itself, as users do.
    """
    base = tmp_path_factory.mktemp("cli")
    snapshot = template_snapshot(base / "template")
    jobs = [
        (case.id, tool, case.answers, snapshot if tool == "copier" else TEMPLATE_ROOT)
        for case in HOSTILE
        for tool in TOOLS
    ]
    jobs += [(case.id, tool, case.answers, TEMPLATE_ROOT) for case in UNUSUAL for tool in TOOLS]
    return run_all(jobs, base)


# A sample run again in fresh interpreters, to show that forking changes nothing a user would see.
FRESH_SAMPLE = ["package-keyword-class", "slug-slash", "serving-flask"]


@pytest.fixture(scope="module")
def fresh_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, Tool], Run]:
    base = tmp_path_factory.mktemp("cli-fresh")
    snapshot = template_snapshot(base / "template")
    cases = [case for case in HOSTILE if case.id in FRESH_SAMPLE]
    jobs = [
        (case.id, tool, case.answers, snapshot if tool == "copier" else TEMPLATE_ROOT)
        for case in cases
        for tool in TOOLS
    ]
    return run_all(jobs, base, fresh=True)


def user_visible(output: str) -> list[str]:
    """Output lines, without traceback frames (they name the runner's own frames when forked)."""
    return [line for line in output.splitlines() if not line.startswith((" ", "Traceback (most recent call last):"))]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("case_id", FRESH_SAMPLE)
def test_forked_runs_match_fresh_interpreters(
    runs: dict[tuple[str, Tool], Run], fresh_runs: dict[tuple[str, Tool], Run], case_id: str, tool: Tool
) -> None:
    forked, fresh = runs[case_id, tool], fresh_runs[case_id, tool]
    assert forked.returncode == fresh.returncode
    assert user_visible(forked.output) == user_visible(fresh.output), (
        f"forked:\n{forked.output}\nfresh:\n{fresh.output}"
    )
    assert tracebacks(forked.output) == tracebacks(fresh.output)
    assert forked.leftovers() == fresh.leftovers()


def test_enough_hostile_cases() -> None:
    assert len(HOSTILE) >= 25
    assert len({case.id for case in [*HOSTILE, *UNUSUAL]}) == len(HOSTILE) + len(UNUSUAL)
    # every rule and every choice question is attacked at least once
    source = load_cookiecutter_json()
    attacked = {case.field for case in HOSTILE}
    assert set(source["_rules"]) | set(choice_questions(source)) <= attacked


def tracebacks(output: str) -> list[str]:
    """The final (exception) line of every Python traceback in `output`."""
    lines = output.splitlines()
    endings = []
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            ending = next((later for later in lines[index + 1 :] if later and not later.startswith(" ")), "<cut off>")
            endings.append(ending)
    return endings


def expected_message(case: Hostile) -> str:
    if case.kind == "choice":
        return case.answers[case.field]
    return load_cookiecutter_json()["_rules"][case.field]["rule" if case.kind == "rule" else "reserved"]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("case", HOSTILE, ids=lambda case: case.id)
def test_refused(runs: dict[tuple[str, Tool], Run], case: Hostile, tool: Tool) -> None:
    run = runs[case.id, tool]
    shown = f"--- {tool} output ---\n{run.output}"
    assert run.returncode != 0, f"{tool} accepted {case.answers}\n{shown}"

    # one clear line naming the field and stating the rule
    message = expected_message(case)
    if case.kind == "choice":
        clear = [line for line in run.output.splitlines() if case.field in line and message in line]
    else:
        clear = [line for line in run.output.splitlines() if f"{case.field}: " in line and message in line]
    assert len(clear) == 1, f"expected one line naming {case.field!r} and saying {message!r}\n{shown}"

    # no other field blamed: the first bad answer in question order is the one reported
    rules = load_cookiecutter_json()["_rules"]
    others = [
        line
        for line in run.output.splitlines()
        for name, spec in rules.items()
        if name != case.field and f"{name}: " in line and spec["rule"] in line
    ]
    assert not others, f"{tool} blamed another field\n{shown}"

    # no traceback but the tool's own, unavoidable one
    allowed = TOOL_TRACEBACKS[tool, case.kind]
    unexpected = [
        ending
        for ending in tracebacks(run.output)
        if allowed is None or not re.fullmatch(allowed.format(field=re.escape(case.field)), ending)
    ]
    assert not unexpected, f"unexpected traceback {unexpected}\n{shown}"
    assert len(tracebacks(run.output)) <= 1, shown

    # nothing left on disk
    assert not run.leftovers(), f"{tool} left {sorted(run.leftovers())} on disk\n{shown}"


@pytest.mark.parametrize("case", UNUSUAL, ids=lambda case: case.id)
def test_unusual_but_valid(runs: dict[tuple[str, Tool], Run], case: Unusual) -> None:
    """Accepted by both tools, identical trees, the answers kept verbatim, and every file still sound."""
    cookie, copier = runs[case.id, "cookiecutter"], runs[case.id, "copier"]
    for tool, run in (("cookiecutter", cookie), ("copier", copier)):
        assert run.returncode == 0, f"{tool} refused {case.answers}:\n{run.output}"
    resolved = resolve_answers(case.answers)
    cookie_root = cookie.target / resolved["project_slug"]
    cookie_files, copier_files = tree_files(cookie_root), tree_files(copier.target)

    recorded = yaml.safe_load(copier_files.pop(ANSWERS_FILE).decode("utf-8"))
    assert {key: value for key, value in recorded.items() if not key.startswith("_")} == resolved
    assert set(cookie_files) == set(copier_files)
    differing = sorted(path for path in cookie_files if cookie_files[path] != copier_files[path])
    assert not differing, f"content differs between cookiecutter and copier: {differing}"

    readme = cookie_files["README.md"].decode("utf-8")
    for text in case.expect_in_readme:
        assert text in readme, f"README.md lacks {text!r}"
    problems = leftover_jinja(cookie_files) + python_syntax_errors(cookie_files) + data_file_errors(cookie_files)
    assert not problems, "\n".join(problems)

    report = run_ruff(cookie_root)
    assert (report.check_returncode, report.format_returncode) == (0, 0), report.check_output + report.format_output
