"""Infer the `data` section of params.yaml from a CSV, so "my CSV, my target" is one command instead of a dozen
hand-written lines.

The rules are the ones a careful person applies by eye: numbers are numeric features bounded by their observed
range widened by its span (a value further out is a typo or a unit change, and is refused); text and booleans are
categorical with their known values; identifiers, free text, dates, empty and constant columns are left out with
the reason printed, never silently kept. The task follows the target: a numeric target with many values (or with
fractions) is regression, anything else classification (`--task` overrides). Only the `data` block of params.yaml
is rewritten, as text, so the file's comments and every other section stay as they were, except when the task
changes: then `evaluate.metric` and the model thresholds in `monitoring` are set for the new task too (the old
ones would not validate). Nothing is written unless the result validates.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import yaml

from .config import Params, params_path
from .data import read_csv
from .errors import ConfigError, DataValidationError

Task = Literal["auto", "classification", "regression"]
TASKS: tuple[Task, ...] = get_args(Task)

RAW_DIR = Path("data/raw")
MAX_CATEGORIES = 50
"""Known values listed per categorical column; rarer values are treated as unknown ("other") by the model."""
MAX_CLASSES = 20
"""A numeric target with more distinct values than this (or with fractions) is a quantity, not a class."""
NEAR_UNIQUE_SHARE = 0.9
"""Text with a distinct value in at least this share of rows is an identifier or free text, not a category."""
ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key|index)$|^(id|uuid|guid|index)([_\s-]|$)", re.IGNORECASE)
POSITIVE_NAMES = ("1", "true", "yes", "y", "positive", "pos")


@dataclass(frozen=True)
class InferredData:
    """What init-data decided about each column, and why."""

    path: Path
    target: str
    task: str
    classes: list[Any]
    """Empty for regression."""
    positive_label: Any
    target_range: tuple[float, float] = (0.0, 0.0)
    target_spread: tuple[float, float] = (0.0, 0.0)
    """Regression: the target's standard deviation and mean absolute deviation, what predicting the mean scores."""
    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


def infer(frame: pd.DataFrame, path: Path, target: str, task: Task) -> InferredData:
    """Decide the task, the positive label and every column's role; raise DataValidationError for unusable data."""
    if target not in frame.columns:
        raise DataValidationError(f"{path}: no column {target!r}; columns are {', '.join(map(str, frame.columns))}")
    labels = frame[target].dropna()
    if labels.empty:
        raise DataValidationError(f"{path}: target {target!r} is missing in every row")
    if len(frame) < 2 or len(labels) < 2:
        raise DataValidationError(f"{path}: {len(labels)} labelled row(s); training needs at least two")
    if _is_regression(labels, target, task):
        values = labels.astype(float)
        inferred = InferredData(
            path,
            target,
            "regression",
            [],
            None,
            target_range=(_round(float(values.min())), _round(float(values.max()))),
            target_spread=(_round(float(values.std())), _round(float((values - values.mean()).abs().mean()))),
        )
    else:
        classes = _classes(labels, target)
        inferred = InferredData(path, target, "classification", classes, _positive_label(labels, classes))
    for column in frame.columns:
        if column != target:
            _decide(frame[column], str(column), inferred)
    if not inferred.numeric and not inferred.categorical:
        raise DataValidationError(f"{path}: no usable feature column (left out: {_reasons(inferred.left_out)})")
    return inferred


def _is_regression(labels: pd.Series, target: str, task: Task) -> bool:
    """Regression when asked, or (auto) for a numeric target with fractions or more than MAX_CLASSES values."""
    numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
    distinct = labels.nunique()
    if task == "regression":
        if not numeric:
            raise DataValidationError(
                f"target {target!r} is not numeric ({labels.iloc[0]!r}): regression needs numbers"
            )
        if distinct < 2:
            only = _plain(labels.iloc[0])
            raise DataValidationError(f"target {target!r} has one value ({only!r}): nothing to learn")
        return True
    continuous = numeric and (distinct > MAX_CLASSES or not (labels == labels.round()).all())
    return task == "auto" and continuous


def _classes(labels: pd.Series, target: str) -> list[Any]:
    distinct = labels.nunique()
    if distinct < 2:
        raise DataValidationError(f"target {target!r} has one class ({labels.iloc[0]!r}): nothing to learn")
    return sorted((_plain(value) for value in labels.unique()), key=str)


def _plain(value: Any) -> Any:
    """numpy scalars as Python ones, whole floats as ints: what params.yaml and the service's responses hold."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _positive_label(labels: pd.Series, classes: list[Any]) -> Any:
    """For two classes, the one that reads as "yes" (1, True, yes), else the rarer: what metrics are about."""
    if len(classes) == 2:
        for name in POSITIVE_NAMES:
            match = [label for label in classes if str(label).lower() == name]
            if match:
                return match[0]
    counts = labels.value_counts()
    return _plain(counts.index[-1]) if counts.iloc[-1] < counts.iloc[0] else classes[-1]


def _decide(values: pd.Series, column: str, inferred: InferredData) -> None:
    present = values.dropna()
    if present.empty:
        inferred.left_out[column] = "empty"
    elif present.nunique() == 1:
        inferred.left_out[column] = f"constant ({_plain(present.iloc[0])!r})"
    elif pd.api.types.is_bool_dtype(present):
        inferred.categorical[column] = sorted(present.astype(str).unique())
    elif pd.api.types.is_numeric_dtype(present):
        if _is_identifier(present, column, len(values)):
            inferred.left_out[column] = "an identifier (a distinct whole number per row)"
        else:
            inferred.numeric[column] = _bounds(present)
    else:
        _decide_text(present.astype(str), column, len(values), inferred)


def _decide_text(present: pd.Series, column: str, rows: int, inferred: InferredData) -> None:
    distinct = present.nunique()
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().mean() >= NEAR_UNIQUE_SHARE:
        junk = present[numbers.isna()].iloc[0]
        inferred.left_out[column] = f"numbers with text such as {junk!r} in them (make those cells empty to use it)"
    elif _looks_like_dates(present):
        inferred.left_out[column] = "dates (derive numbers from them, e.g. age in days, to use them)"
    elif distinct >= NEAR_UNIQUE_SHARE * rows and rows > MAX_CATEGORIES:
        kind = "free text" if present.str.contains(r"\s").mean() > 0.5 else "an identifier"
        inferred.left_out[column] = f"{kind} ({distinct} distinct values in {rows} rows)"
    else:
        counts = present.value_counts()
        kept = counts.index[:MAX_CATEGORIES]
        inferred.categorical[column] = sorted(kept)
        if distinct > MAX_CATEGORIES:
            inferred.notes[column] = f"kept the {MAX_CATEGORIES} most frequent of {distinct} values, the rest: 'other'"


def _is_identifier(present: pd.Series, column: str, rows: int) -> bool:
    whole = (present == present.round()).all()
    unique = present.nunique() == len(present) == rows
    counting = whole and unique and (present.sort_values().diff().dropna() == 1).all()
    return bool(whole and unique and (ID_NAME.search(column) is not None or counting))


def _looks_like_dates(present: pd.Series) -> bool:
    sample = present.head(200)
    if not sample.str.contains(r"\d").all():
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _bounds(present: pd.Series) -> tuple[float, float]:
    low, high = float(present.min()), float(present.max())
    span = high - low
    wide_low = low - span if low < 0 or low - span >= 0 else 0.0  # non-negative data stays non-negative
    return _round(wide_low), _round(high + span)


def _round(number: float) -> float:
    rounded = float(f"{number:.6g}")
    return int(rounded) if rounded.is_integer() else rounded


def _reasons(left_out: dict[str, str]) -> str:
    return "; ".join(f"{column}: {reason}" for column, reason in left_out.items()) or "none"


# --------------------------------------------------------------------------------------------------------------------
# params.yaml: the data block as text


def _flow(value: Any) -> str:
    """One YAML scalar, quoted exactly when YAML needs it (`yes`, `1`, `a: b` stay strings)."""
    return yaml.safe_dump([value], default_flow_style=True, width=10**9).strip()[1:-1]


def _bounds_map(low: float, high: float) -> str:
    return "{" + f"min: {low}, max: {high}" + "}"


def data_block(inferred: InferredData, *, test_size: float, seed: int, command: str) -> str:
    lines = [
        "data:",
        f"  # Inferred by `{command}`: edit freely, or run it again when the data changes.",
        f"  path: {_flow(inferred.path.as_posix())}",
        f"  target: {_flow(inferred.target)}",
    ]
    if inferred.task == "regression":
        low, high = inferred.target_range
        lines += ["  task: regression           # a number per row", f"  # values seen: {low} to {high}"]
    else:
        binary = len(inferred.classes) == 2
        about = "the class that precision, recall, F1 and ROC AUC are about" if binary else "unused with more classes"
        lines += [
            "  task: classification       # a class per row",
            f"  positive_label: {_flow(inferred.positive_label)}  # {about}",
            f"  # classes seen: {', '.join(map(str, inferred.classes))}",
        ]
    lines += [
        f"  test_size: {test_size}",
        f"  seed: {seed}",
        "  # Numeric columns, bounded by the observed range widened by its span: values outside are refused.",
        "  numeric_features:" + ("" if inferred.numeric else " {}"),
        *(f"    {_flow(name)}: {_bounds_map(low, high)}" for name, (low, high) in inferred.numeric.items()),
        '  # Categorical columns with their known values; unknown values are accepted and encoded as "other".',
        "  categorical_features:" + ("" if inferred.categorical else " {}"),
        *(
            f"    {_flow(name)}: [{', '.join(_flow(value) for value in values)}]"
            for name, values in inferred.categorical.items()
        ),
    ]
    if inferred.left_out:
        lines.append("  # Left out (list them above yourself if they are features after all):")
        lines += [f"  #   {column}: {reason}" for column, reason in inferred.left_out.items()]
    return "\n".join(lines) + "\n"


COMMENT_COLUMN = 29
"""Where params.yaml's end-of-line comments start, so rewritten lines read like the rest of the file."""


def _setting(key: str, value: Any, comment: str = "") -> str:
    line = f"  {key}: {value}"
    return f"{line.ljust(COMMENT_COLUMN - 1)} # {comment}" if comment else line


def task_blocks(inferred: InferredData, current: dict) -> dict[str, str]:
    """The `evaluate` and `monitoring` blocks for a new task, keeping the settings both tasks share."""
    evaluate, monitoring = current.get("evaluate") or {}, current.get("monitoring") or {}
    if inferred.task == "regression":
        rmse, mae = inferred.target_spread
        metric = _setting("metric", "rmse", "rmse or mae (lower is better), or r2 (higher is better)")
        thresholds = [
            _setting("max_rmse", rmse, "performance alerts past these: no better than predicting the mean"),
            _setting("max_mae", mae),
            _setting("min_r2", 0.0),
        ]
    else:
        metric = _setting("metric", "roc_auc", "accuracy, precision, recall, f1 or roc_auc (higher is better)")
        thresholds = [
            _setting("min_accuracy", 0.65, "performance alerts when a metric on real outcomes falls below these"),
            _setting("min_precision", 0.5),
            _setting("min_recall", 0.5),
        ]
    evaluate_lines = [
        "evaluate:",
        metric,
        _setting(
            "min_improvement",
            evaluate.get("min_improvement", 0.001),
            "a challenger replaces the champion only when better by at least this",
        ),
    ]
    monitoring_lines = [
        "monitoring:",
        _setting("drift_share", monitoring.get("drift_share", 0.3), "drift alert at this share of drifted features"),
        *thresholds,
        _setting("max_error_rate", monitoring.get("max_error_rate", 0.05), "system health: share of failed requests"),
        _setting("min_outcomes", monitoring.get("min_outcomes", 30), "judge the model only on this many outcomes"),
    ]
    return {"evaluate": "\n".join(evaluate_lines) + "\n", "monitoring": "\n".join(monitoring_lines) + "\n"}


def replace_data_block(text: str, block: str, where: Path, section: str = "data") -> str:
    """params.yaml with its top-level `section:` block replaced; comments just above the next section stay with it."""
    lines = text.splitlines(keepends=True)
    start = next((number for number, line in enumerate(lines) if re.match(section + r":\s*(#.*)?$", line)), None)
    if start is None:
        raise ConfigError(f"{where}: no top-level `{section}:` section to replace")
    end = next((number for number in range(start + 1, len(lines)) if re.match(r"[^\s#]", lines[number])), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1  # blank lines and column-0 comments before the next section belong to it
    return "".join(lines[:start]) + block + "".join(lines[end:])


# --------------------------------------------------------------------------------------------------------------------
# The command


def init_data(csv: Path, target: str, task: str = "auto") -> str:
    """Infer the schema of `csv`, track it with DVC, rewrite params.yaml's data block, and say what was decided."""
    if task not in TASKS:
        raise ConfigError(f"--task must be one of {', '.join(TASKS)}; got {task!r}")
    where = params_path()
    params = _current_params(where)
    frame = read_csv(csv)
    destination = _inside_project(csv)
    inferred = infer(frame, destination, target, task)  # type: ignore[arg-type]  (checked against TASKS above)
    command = f"init-data {destination.as_posix()} --target {target}"
    block = data_block(inferred, test_size=params["data"]["test_size"], seed=params["data"]["seed"], command=command)
    text = replace_data_block(where.read_text(encoding="utf-8"), block, where)
    if params["data"].get("task", "classification") != inferred.task:  # the old metric and thresholds do not fit
        for section, section_block in task_blocks(inferred, params).items():
            text = replace_data_block(text, section_block, where, section)
    _validate(text, where)

    if Path(".dvc").is_dir() and not _in_git_repository():  # checked before anything is copied or written
        raise ConfigError("not a git repository, which DVC needs to track the data: run `make setup` (or `git init`)")
    copied = destination.resolve() != csv.resolve()
    if copied:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(csv, destination)
    tracked = _dvc_add(destination)
    _write_atomically(where, text)
    return _summary(inferred, copied=copied, tracked=tracked)


def _current_params(where: Path) -> dict:
    try:
        raw = yaml.safe_load(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where}: file not found (run from the project root)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML ({exc.__class__.__name__})") from None
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: no `data:` section")
    return raw | {"data": data | {"test_size": data.get("test_size", 0.2), "seed": data.get("seed", 42)}}


def _inside_project(csv: Path) -> Path:
    """The CSV's path relative to the project, or data/raw/<name> for a file outside it (copied there, for DVC)."""
    try:
        return csv.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        destination = RAW_DIR / csv.name
        if destination.exists():
            raise DataValidationError(
                f"{destination} exists already: move {csv} into the project yourself, or remove it"
            ) from None
        return destination


def _validate(text: str, where: Path) -> None:
    try:
        Params.model_validate(yaml.safe_load(text))
    except Exception as exc:  # a pydantic error or a YAML one: the inferred block does not fit, nothing written
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"{where}: the inferred data section does not validate ({reason})") from None


def _dvc_add(path: Path) -> bool:
    """`dvc add` the data when this is a DVC project and git does not track the file already (the bundled one)."""
    if not Path(".dvc").is_dir() or _tracked_by_git(path):
        return False
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "add", str(path)],  # not --quiet: that silences the error too
        capture_output=True,
        text=True,
        check=False,
        env=os.environ | {"DVC_NO_ANALYTICS": "1"},
    )
    if result.returncode != 0:
        message = [line for line in (result.stderr or result.stdout).strip().splitlines() if line.strip()]
        reason = message[-1] if message else f"exit {result.returncode}"
        raise DataValidationError(f"dvc add {path} failed: {reason}")
    return True


def _in_git_repository() -> bool:
    try:
        result = subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True, check=False)
    except OSError:  # no git at all
        return False
    return result.returncode == 0


def _tracked_by_git(path: Path) -> bool:
    try:
        result = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], capture_output=True, check=False)
    except OSError:  # no git: nothing tracks it
        return False
    return result.returncode == 0


def _write_atomically(where: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=where.parent, delete=False, suffix=".tmp") as file:
        file.write(text)
    Path(file.name).replace(where)


def _summary(inferred: InferredData, *, copied: bool, tracked: bool) -> str:
    classes = ", ".join(map(str, inferred.classes))
    if inferred.task == "regression":
        low, high = inferred.target_range
        spread = inferred.target_spread[0]
        task = f"target {inferred.target!r}: regression, values {low} to {high} (standard deviation {spread})"
    else:
        task = (
            f"target {inferred.target!r}: classification, {len(inferred.classes)} classes ({classes}),"
            f" positive label {inferred.positive_label!r}"
        )
    lines = [
        task,
        f"numeric ({len(inferred.numeric)}): {', '.join(inferred.numeric) or 'none'}",
        f"categorical ({len(inferred.categorical)}): {', '.join(inferred.categorical) or 'none'}",
        f"left out ({len(inferred.left_out)}): {_reasons(inferred.left_out)}",
    ]
    lines += [f"note: {column}: {note}" for column, note in inferred.notes.items()]
    if copied:
        lines.append(f"copied the file to {inferred.path}")
    if tracked:
        lines.append(f"dvc add {inferred.path}: commit {inferred.path}.dvc (and `dvc push` it to your remote)")
    lines.append("params.yaml's data section rewritten; next: make train")
    return "\n".join(lines)
