"""The command line: help for every step, one-line errors instead of tracebacks, and exit 1 only for a verdict."""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import typer

from {{ cookiecutter.package_name }} import cli as cli_module

CRASHES = [RuntimeError("boom"), OSError(5, "Input/output error"), KeyError("column"), EOFError(), ValueError("")]


def test_help_lists_every_step(cli) -> None:
    result = cli("--help")
    assert result.returncode == 0
    for step in ("prepare", "train", "evaluate", "promoted"):
        assert step in result.stdout


@pytest.mark.usefixtures("workspace")
def test_broken_params_give_one_line_error(cli) -> None:
    Path("params.yaml").write_text("data: {target: 3}\n", encoding="utf-8")
    result = cli("prepare")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: params.yaml: ")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("workspace")
def test_promoted_without_evaluation_is_a_clear_error(cli) -> None:
    result = cli("promoted")
    assert result.returncode == 2
    assert "no gate decision yet" in result.stderr


@pytest.mark.usefixtures("workspace")
def test_params_file_that_is_a_directory_is_one_line(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("settings").mkdir()
    monkeypatch.setenv("PARAMS_FILE", "settings")
    result = cli("prepare")
    assert (result.returncode, result.stderr) == (2, "error: settings: cannot read it (Is a directory)\n")


def name_of(command: typer.models.CommandInfo) -> str:
    return command.name or command.callback.__name__.replace("_", "-")


def commands() -> list[str]:
    return [name_of(command) for command in cli_module.app.registered_commands]


@pytest.mark.parametrize("crash", CRASHES, ids=lambda crash: type(crash).__name__)
@pytest.mark.parametrize("command", commands())
def test_any_uncaught_exception_exits_2_in_one_line(
    command: str, crash: Exception, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schedulers read exit 1 as "retrain": a crash of any command, of any kind, must exit 2 instead."""
    click_command = typer.main.get_command(cli_module.app).commands[command]  # type: ignore[attr-defined]
    required = [param for param in click_command.params if param.required]
    arguments = [
        *(part for param in required if param.param_type_name == "option" for part in (param.opts[0], "x.csv")),
        *("x.csv" for param in required if param.param_type_name == "argument"),
    ]
    for registered in cli_module.app.registered_commands:

        @functools.wraps(registered.callback)  # same options: typer reads them from the signature
        def explode(*_: object, **__: object) -> None:
            raise crash

        monkeypatch.setattr(registered, "name", name_of(registered))  # typer names a command after its callback
        monkeypatch.setattr(registered, "callback", explode)
    monkeypatch.setattr(sys, "argv", ["prog", command, *arguments])
    with pytest.raises(SystemExit) as exited:
        cli_module.main()
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()  # typer writes a newline before it turns an EOFError into an abort
    assert err.startswith(f"error: unexpected {type(crash).__name__}")
    assert len(err.splitlines()) == 1
