"""A person answers each tool's prompts in a terminal, choosing non-default options; both tools agree afterwards.

Cookiecutter asks plain questions (a number picks a choice); copier uses questionary (arrow keys move through a
list). Each step waits until the prompt is fully drawn before typing, as a person would.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pytest
import yaml

from tests.platforms import needs_pty, needs_template_dir
from tests.render import (
    ANSWERS_FILE,
    TEMPLATE_ROOT,
    choice_questions,
    cookiecutter_cli,
    copier_cli,
    load_cookiecutter_json,
    question_names,
    resolve_answers,
    tool_env,
    tree_files,
)

pytestmark = [needs_pty, needs_template_dir]

# What the person types: a project name, Enter for the derived slug and package and the other texts, and a
# non-default value for every choice question.
TYPED = {"project_name": "Fraud Detector"}
CHOSEN = {
    "serving": "grpc",
    "tracking": "wandb",
    "python_version": "3.13",
    "license": "Apache-2.0",
    "env_manager": "conda",
    "orchestrator": "prefect",
}
EXPECTED = resolve_answers({**TYPED, **CHOSEN})

DOWN, ENTER, CLEAR_LINE = "\x1b[B", "\r", "\x15"  # arrow down, Enter, Ctrl-U (delete to start of line)
TIMEOUT = 30  # seconds per step: generous for a loaded machine; a healthy step takes well under a second
PROMPT_END = r"\)(?:\x1b\[[0-9;]*m)*: ?$"  # cookiecutter's "(default): ", possibly followed by a style reset
SETTLE = 0.15  # seconds to let a full-screen prompt start reading keys after it is drawn
# prompt_toolkit asks the terminal where the cursor is, and waits a second for the answer when leaving each prompt.
CURSOR_QUERY, CURSOR_REPLY = "\x1b[6n", "\x1b[1;1R"


@dataclass(frozen=True)
class Session:
    """What an interactive run left: its exit status, its terminal transcript, and the project."""

    exitstatus: int | None
    transcript: str
    project: Path


def spawn(command: list[str], cwd: Path, env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(
        command[0], command[1:], cwd=str(cwd), env=env, encoding="utf-8", timeout=TIMEOUT, dimensions=(40, 120)
    )
    child.logfile_read = _Transcript()
    return child


class _Transcript:
    """Collects what the terminal showed, for failure messages."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)

    def flush(self) -> None:
        pass

    def __str__(self) -> str:
        return "".join(self.parts)[-6000:]


def wait_for(child: pexpect.spawn, text: str) -> None:
    """Wait until `text` is shown, answering cursor position queries on the way, as a terminal does."""
    while child.expect_exact([CURSOR_QUERY, text]) == 0:
        child.send(CURSOR_REPLY)


def finish(child: pexpect.spawn, project: Path) -> Session:
    child.expect(pexpect.EOF)
    child.close()
    return Session(child.exitstatus, str(child.logfile_read), project)


def answer_cookiecutter(workdir: Path) -> Session:
    """Cookiecutter: type the name, Enter for each derived or default text, a number for each choice."""
    source = load_cookiecutter_json()
    config = workdir / "cookiecutterrc.yaml"
    config.write_text(f"replay_dir: {json.dumps(str(workdir / 'replay'))}\n", encoding="utf-8")
    env = tool_env(TERM="xterm-256color", COOKIECUTTER_CONFIG=str(config))
    child = spawn(cookiecutter_cli("-o", "out", str(TEMPLATE_ROOT)), workdir, env)
    try:
        for name in question_names(source):
            prompt = source["__prompts__"][name]
            if isinstance(prompt, dict):
                child.expect_exact(prompt["__prompt__"])
                child.expect_exact("Choose from")
                child.expect(PROMPT_END)
                number = source[name].index(CHOSEN.get(name, source[name][0])) + 1
                child.sendline(str(number))
            else:
                child.expect_exact(prompt)
                child.expect(PROMPT_END)
                child.sendline(TYPED.get(name, ""))
        return finish(child, workdir / "out" / EXPECTED["project_slug"])
    except pexpect.ExceptionPexpect as error:
        child.close(force=True)
        raise AssertionError(
            f"cookiecutter prompts went wrong: {error!r}\n--- terminal ---\n{child.logfile_read}"
        ) from error


def answer_copier(workdir: Path) -> Session:
    """Copier: clear the pre-filled name and type it, Enter to accept the rest, arrow keys to choose."""
    source = load_cookiecutter_json()
    env = tool_env(TERM="xterm-256color")
    child = spawn(copier_cli("copy", "--vcs-ref", "HEAD", str(TEMPLATE_ROOT), "dest"), workdir, env)
    try:
        for name in question_names(source):
            prompt = source["__prompts__"][name]
            if isinstance(prompt, dict):
                wait_for(child, prompt["__prompt__"])
                wait_for(child, prompt[source[name][-1]])  # the whole list is drawn
                keys = DOWN * source[name].index(CHOSEN.get(name, source[name][0])) + ENTER
            else:
                wait_for(child, prompt)
                wait_for(child, EXPECTED[name] if name not in TYPED else source[name])  # the pre-filled default
                keys = CLEAR_LINE + TYPED[name] + ENTER if name in TYPED else ENTER
            time.sleep(SETTLE)
            child.send(keys)
        return finish(child, workdir / "dest")
    except pexpect.ExceptionPexpect as error:
        child.close(force=True)
        raise AssertionError(f"copier prompts went wrong: {error!r}\n--- terminal ---\n{child.logfile_read}") from error


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Session]:
    """Both interactive runs, side by side."""
    base = tmp_path_factory.mktemp("interactive")
    (base / "cookiecutter").mkdir()
    (base / "copier").mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        cookie = pool.submit(answer_cookiecutter, base / "cookiecutter")
        copier = pool.submit(answer_copier, base / "copier")
        return {"cookiecutter": cookie.result(), "copier": copier.result()}


def test_choices_are_not_defaults() -> None:
    choices = choice_questions()
    assert set(CHOSEN) == set(choices)
    assert all(CHOSEN[name] != values[0] for name, values in choices.items())


@pytest.mark.parametrize("tool", ["cookiecutter", "copier"])
def test_prompts_complete(sessions: dict[str, Session], tool: str) -> None:
    session = sessions[tool]
    assert session.exitstatus == 0, f"{tool} exited {session.exitstatus}\n--- terminal ---\n{session.transcript}"
    assert "Traceback" not in session.transcript, session.transcript


def test_cookiecutter_recorded_answers(sessions: dict[str, Session]) -> None:
    replay_dir = sessions["cookiecutter"].project.parent.parent / "replay"
    (replay,) = replay_dir.glob("*.json")
    context = json.loads(replay.read_text(encoding="utf-8"))["cookiecutter"]
    assert {name: context[name] for name in EXPECTED} == EXPECTED


def test_copier_recorded_answers(sessions: dict[str, Session]) -> None:
    recorded = yaml.safe_load((sessions["copier"].project / ANSWERS_FILE).read_text(encoding="utf-8"))
    assert {name: value for name, value in recorded.items() if not name.startswith("_")} == EXPECTED


def test_project_reflects_answers(sessions: dict[str, Session]) -> None:
    for tool, session in sessions.items():
        assert "Apache License" in (session.project / "LICENSE").read_text(encoding="utf-8"), tool
        assert "Fraud Detector" in (session.project / "README.md").read_text(encoding="utf-8"), tool
        assert (session.project / "src" / "fraud_detector").is_dir(), tool


def test_trees_identical(sessions: dict[str, Session]) -> None:
    cookie = tree_files(sessions["cookiecutter"].project)
    copier = tree_files(sessions["copier"].project)
    copier.pop(ANSWERS_FILE)
    assert set(cookie) == set(copier)
    assert [path for path in cookie if cookie[path] != copier[path]] == []
