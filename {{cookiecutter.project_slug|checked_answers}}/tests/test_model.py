"""A model file cannot run code: every loader refuses skops types outside the exact allowlist.

The crafted file is built here the way an attacker would: its only node asks skops to call `builtins.eval`.
Loading it with its own types trusted really runs the code (the first test proves it), so the refusals below
are the only thing between a model file and code execution.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import skops.io as sio

from {{ cookiecutter.package_name }}.champion import EXPORTED_MODEL, EXPORTED_VERSION, MODEL_DIR_ENV, load_champion
from {{ cookiecutter.package_name }}.errors import ModelNotFoundError, UntrustedModelError
from {{ cookiecutter.package_name }}.model import TRUSTED_TYPES, load_model


def test_the_crafted_file_runs_code_when_trusted(tmp_path: Path, crafted_model) -> None:
    """The attack is real: trusting the file's own types executes it."""
    model = crafted_model(tmp_path / "evil.skops", tmp_path / "marker")
    assert sio.get_untrusted_types(file=model) == ["builtins.eval"]
    sio.load(model, trusted=sio.get_untrusted_types(file=model))
    assert (tmp_path / "marker").read_text() == "code ran"


def test_load_model_refuses_it_and_runs_nothing(tmp_path: Path, crafted_model) -> None:
    model = crafted_model(tmp_path / "evil.skops", tmp_path / "marker")
    with pytest.raises(
        UntrustedModelError, match=r"refusing to load a model holding untrusted types \['builtins.eval'\]"
    ):
        load_model(model)
    assert not (tmp_path / "marker").exists()


def test_serving_from_model_dir_refuses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, crafted_model) -> None:
    crafted_model(tmp_path / EXPORTED_MODEL, tmp_path / "marker")
    (tmp_path / EXPORTED_VERSION).write_text('{"version": "1"}\n', encoding="utf-8")
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path))
    with pytest.raises(UntrustedModelError):
        load_champion()
    assert not (tmp_path / "marker").exists()


def test_the_allowlist_is_exact() -> None:
    assert all(not name.endswith(".") for name in TRUSTED_TYPES)  # names, never prefixes
    assert not any(name.startswith("builtins.") for name in TRUSTED_TYPES)


def test_a_file_that_is_not_a_model_is_one_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelNotFoundError, match="not a skops model file"):
        load_model(junk)
