"""Run many `python -m cookiecutter ...` / `python -m copier ...` command lines without paying for a fresh interpreter
each time.

A fresh `python -m copier` spends about 0.4 s of CPU importing copier before it looks at its arguments; with dozens of
hostile answers per tool that dominates the fast tier. Instead, one helper process is started exactly as the command
lines would be (same interpreter, same environment), imports both CLIs once, and then forks one child per command
line. Each child sets its working directory, `sys.argv`, `sys.path[0]` and standard streams, and runs the tool's
`__main__` module through `runpy`, as `python -m` does; an uncaught exception prints its traceback and exits 1, as the
interpreter does. Children run concurrently, one per CPU.

`tests/test_hostile_answers.py` checks that a sample of command lines gives the same exit status and the same output
(traceback frames aside) here and in a fresh interpreter. Without `os.fork` (Windows), or with
MLOPS_TEMPLATE_FRESH_CLI=1 in the environment, every command line gets a fresh interpreter.

Run as `python -m tests.cli_fork JOBS.json` from the repository root: JOBS.json holds a list of
{"module", "args", "cwd", "output"}; the exit statuses are printed as a JSON list.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CliRun:
    """Exit status and combined stdout + stderr of one command line."""

    returncode: int
    output: str


def run_command_lines(
    commands: Sequence[tuple[str, Sequence[str], Path]], scratch: Path, env: dict[str, str], *, fresh: bool = False
) -> list[CliRun]:
    """Run each `(module, args, cwd)` as `python -m module *args` in `cwd`; results in the same order.

    `fresh=True` (or no `os.fork`, or MLOPS_TEMPLATE_FRESH_CLI=1) starts a new interpreter per command line.
    """
    import subprocess

    from tests.render import TEMPLATE_ROOT

    scratch.mkdir(parents=True, exist_ok=True)
    outputs = [scratch / f"{index}.out" for index in range(len(commands))]
    if fresh or not hasattr(os, "fork") or os.environ.get("MLOPS_TEMPLATE_FRESH_CLI") == "1":
        codes = []
        for (module, args, cwd), output in zip(commands, outputs, strict=True):
            with output.open("wb") as sink:
                command = [sys.executable, "-m", module, *args]
                result = subprocess.run(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
            codes.append(result.returncode)
    else:
        jobs = [
            {"module": module, "args": list(args), "cwd": str(cwd), "output": str(output)}
            for (module, args, cwd), output in zip(commands, outputs, strict=True)
        ]
        jobs_file = scratch / "jobs.json"
        jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, "-m", "tests.cli_fork", str(jobs_file)],
            cwd=TEMPLATE_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"tests.cli_fork failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        codes = json.loads(result.stdout.strip().splitlines()[-1])
    return [
        CliRun(code, output.read_bytes().decode("utf-8", errors="replace"))
        for code, output in zip(codes, outputs, strict=True)
    ]


def _exit_status(error: SystemExit) -> int:
    """The exit status the interpreter gives for an uncaught SystemExit (printing a non-integer code)."""
    if error.code is None:
        return 0
    if isinstance(error.code, int):
        return error.code & 0xFF
    print(error.code, file=sys.stderr)
    return 1


def _run_child(job: dict[str, object]) -> None:
    """In a forked child: become `python -m module args...` in `cwd`, then exit. Never returns."""
    import runpy
    import traceback

    status = 1
    try:
        cwd = str(job["cwd"])
        os.chdir(cwd)
        sink = os.open(str(job["output"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        os.close(sink)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        module = str(job["module"])
        sys.argv = [module, *[str(arg) for arg in job["args"]]]  # type: ignore[attr-defined]
        sys.path[0] = cwd  # `python -m` puts the working directory first
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as error:
            status = _exit_status(error)
        except BaseException:
            traceback.print_exc()
            status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(status)


def main(jobs_file: str) -> int:
    """Fork one child per job, at most one per CPU at a time; print the exit statuses as a JSON list."""
    import cookiecutter.cli  # noqa: F401  (what `python -m cookiecutter` imports before it runs)
    import copier._cli  # noqa: F401  (what `python -m copier` imports before it runs)

    jobs = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
    parallel = max(1, os.cpu_count() or 1)
    pending = list(enumerate(jobs))
    running: dict[int, int] = {}
    statuses: dict[int, int] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    while pending or running:
        while pending and len(running) < parallel:
            index, job = pending.pop(0)
            pid = os.fork()
            if pid == 0:
                _run_child(job)
            running[pid] = index
        pid, wait_status = os.wait()
        if pid in running:
            statuses[running.pop(pid)] = os.waitstatus_to_exitcode(wait_status)
    print(json.dumps([statuses[index] for index in range(len(jobs))]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
