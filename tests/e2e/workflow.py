"""Run a GitHub Actions workflow's `run:` steps here, in order, the way a runner would.

`uses:` steps (checkout, setup-python, caches, Docker actions) are replaced by the test's own environment: the
workspace is a fresh clone and its .venv plays setup-python. Everything else is the runner's behaviour: jobs in
`needs` order, `if:` conditions and `${{ }}` expressions evaluated (a small, strict subset: an expression this
module does not understand fails the test instead of being guessed), steps run with `bash --noprofile --norc -eo
pipefail`, step outputs read from $GITHUB_OUTPUT, $GITHUB_ENV and $GITHUB_PATH applied to later steps of the job (a
$GITHUB_PATH line is prepended to PATH, the latest first), job outputs passed on as
`needs.<job>.outputs`. A matrix is expanded to the one value given for it (the local Python). An
`actions/upload-artifact` step with `if-no-files-found: error` is checked (its paths must exist), since the next
job depends on them.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||!|\(|\)|,)|(?P<word>[A-Za-z_][\w.-]*))")


class UnsupportedExpression(ValueError):
    """An expression outside the subset this runner evaluates: extend the runner, do not guess."""


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    tokens = _tokenize(expression)
    parser = _Parser(tokens, context)
    value = parser.expression()
    if parser.position != len(tokens):
        raise UnsupportedExpression(expression)
    return value


def condition(text: str | bool, context: Mapping[str, Any]) -> bool:
    """An `if:` value: a bare expression, or one wrapped in `${{ }}` (needed when it starts with `!`)."""
    if isinstance(text, bool):
        return text
    wrapped = EXPRESSION.fullmatch(text.strip())
    return bool(evaluate(wrapped.group(1) if wrapped else text, context))


def substitute(text: str, context: Mapping[str, Any]) -> str:
    """Replace every `${{ expr }}` in a string with the expression's value, as the runner does."""
    return EXPRESSION.sub(lambda match: to_string(evaluate(match.group(1), context)), text)


def to_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tokenize(expression: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = expression.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise UnsupportedExpression(expression)
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


# Status functions as they evaluate while every earlier step succeeded (a failing step stops the run here).
STATUS_FUNCTIONS = {"success": True, "always": True, "failure": False, "cancelled": False}


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], context: Mapping[str, Any]) -> None:
        self.tokens, self.context, self.position = tokens, context, 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def expression(self) -> Any:
        value = self.conjunction()
        while self.peek() == "||":
            self.take()
            right = self.conjunction()
            value = value if value else right
        return value

    def conjunction(self) -> Any:
        value = self.unary()
        while self.peek() == "&&":
            self.take()
            right = self.unary()
            value = right if value else value
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        left = self.primary()
        if self.peek() in ("==", "!="):
            operator = self.take()[1]
            right = self.primary()
            equal = _normalize(left) == _normalize(right)
            return equal if operator == "==" else not equal
        return left

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.expression()
            if self.take()[1] != ")":
                raise UnsupportedExpression(text)
            return value
        if kind == "word" and text in ("true", "false"):
            return text == "true"
        if kind == "word" and text == "null":
            return None
        if kind == "word" and self.peek() == "(":
            self.take()
            if text not in STATUS_FUNCTIONS or self.take()[1] != ")":
                raise UnsupportedExpression(f"{text}(...)")
            return STATUS_FUNCTIONS[text]
        if kind == "word":
            return self.lookup(text)
        raise UnsupportedExpression(text)

    def lookup(self, reference: str) -> Any:
        head, *rest = reference.split(".")
        if head not in self.context:
            raise UnsupportedExpression(f"unknown context {head!r} in {reference!r}")
        value: Any = self.context[head]
        for part in rest:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


def _normalize(value: Any) -> Any:
    """GitHub compares strings case-insensitively."""
    return value.lower() if isinstance(value, str) else value


@dataclass
class StepResult:
    job: str
    name: str
    kind: str  # "run", "uses" (replaced by the test's environment), or "skipped" (its `if:` was false)
    returncode: int = 0
    output: str = ""


@dataclass
class WorkflowRun:
    """One run of a workflow in `workspace`, with `env` as the runner's environment."""

    path: Path
    workspace: Path
    env: dict[str, str]
    github: dict[str, Any]
    matrix: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    step_timeout: float = 1500
    results: list[StepResult] = field(default_factory=list)
    job_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    jobs_run: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workflow = yaml.safe_load(self.path.read_text(encoding="utf-8"))

    def job_order(self) -> list[str]:
        jobs, order = self.workflow["jobs"], []
        pending = list(jobs)
        while pending:
            ready = [name for name in pending if all(need in order for need in _needs(jobs[name]))]
            assert ready, f"cycle in needs: {pending}"
            order += ready
            pending = [name for name in pending if name not in ready]
        return order

    def run(self) -> None:
        """Run every job whose `if:` holds; stop at the first failing step (its output is in the failure)."""
        for name in self.job_order():
            job = self.workflow["jobs"][name]
            context = self.context(job)
            if "if" in job and not condition(job["if"], context):
                self.results.append(StepResult(name, "(job)", "skipped"))
                continue
            self.jobs_run.append(name)
            self.run_job(name, job)

    def context(self, job: Mapping[str, Any], steps: Mapping[str, Any] | None = None) -> dict[str, Any]:
        matrix = job.get("strategy", {}).get("matrix", {})
        for key, values in matrix.items():
            assert self.matrix.get(key) in values, f"matrix {key}={values} lacks the local {self.matrix.get(key)}"
        needs = {need: {"outputs": self.job_outputs.get(need, {}), "result": "success"} for need in _needs(job)}
        return {
            "github": self.github,
            "env": {},
            "vars": self.vars,
            "secrets": self.secrets,
            "matrix": {key: self.matrix[key] for key in matrix},
            "needs": needs,
            "steps": steps or {},
            "runner": {"os": "Linux", "temp": tempfile.gettempdir()},
        }

    def run_job(self, name: str, job: Mapping[str, Any]) -> None:
        steps: dict[str, Any] = {}
        context = self.context(job, steps)
        env = dict(self.env)
        for scope in (self.workflow.get("env", {}), job.get("env", {})):
            env.update({key: substitute(str(value), context) for key, value in scope.items()})
        for number, step in enumerate(job.get("steps", [])):
            label = step.get("name") or step.get("uses") or f"step {number}"
            context = self.context(job, steps)
            if "if" in step and not condition(step["if"], context):
                self.results.append(StepResult(name, label, "skipped"))
                continue
            if "uses" in step:
                self.check_uses(name, label, step, context)
                continue
            outputs, env_updates = self.run_step(name, label, step, env, context)
            env.update(env_updates)
            if "id" in step:
                steps[step["id"]] = {"outputs": outputs, "outcome": "success", "conclusion": "success"}
        context = self.context(job, steps)
        self.job_outputs[name] = {key: substitute(str(v), context) for key, v in job.get("outputs", {}).items()}

    def check_uses(self, job: str, label: str, step: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        with_ = step.get("with", {})
        if step["uses"].startswith("actions/upload-artifact@") and with_.get("if-no-files-found") == "error":
            paths = [line.strip() for line in substitute(with_["path"], context).splitlines() if line.strip()]
            missing = [path for path in paths if not (self.workspace / path).exists()]
            assert not missing, f"{job}: {label}: upload-artifact would fail, missing {missing}"
        self.results.append(StepResult(job, label, "uses"))

    def run_step(
        self, job: str, label: str, step: Mapping[str, Any], env: dict[str, str], context: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, str]]:
        assert step.get("shell", "bash") == "bash", f"{label}: only bash steps are supported"
        step_env = dict(env)
        step_env.update({key: substitute(str(value), context) for key, value in step.get("env", {}).items()})
        script = substitute(step["run"], context)
        with tempfile.TemporaryDirectory(prefix="gha-step-") as scratch:
            files = {
                name: Path(scratch) / name.lower()
                for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
            }
            for path in files.values():
                path.touch()
            script_file = Path(scratch) / "step.sh"
            script_file.write_text(script, encoding="utf-8")
            step_env.update({name: str(path) for name, path in files.items()})
            result = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
                cwd=self.workspace / step.get("working-directory", "."),
                env=step_env,
                capture_output=True,
                text=True,
                timeout=self.step_timeout,
                check=False,
            )
            output = (result.stdout + result.stderr)[-8000:]
            self.results.append(StepResult(job, label, "run", result.returncode, output))
            if result.returncode != 0:
                raise AssertionError(
                    f"{self.path.name}: job {job}: step {label!r} exited {result.returncode}:\n{output}"
                )
            env_updates = parse_key_values(files["GITHUB_ENV"])
            added = [line.strip() for line in files["GITHUB_PATH"].read_text(encoding="utf-8").splitlines()]
            if added := [line for line in added if line]:
                path = env_updates.get("PATH", env.get("PATH", ""))
                env_updates["PATH"] = os.pathsep.join([*reversed(added), path])
            return parse_key_values(files["GITHUB_OUTPUT"]), env_updates


def _needs(job: Mapping[str, Any]) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def parse_key_values(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT / $GITHUB_ENV: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for body in lines:
                if body == delimiter:
                    break
                block.append(body)
            values[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values
