"""init-data: a CSV and a target become params.yaml's data section, with every column's fate said out loud, and
bad input changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import load_params
from {{ cookiecutter.package_name }}.data import prepare
from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.init_data import init_data

ROWS = 120


def shop_visits(rows: int = ROWS) -> pd.DataFrame:
    """Every kind of column init-data must tell apart, with missing values in the features it keeps."""
    rng = np.random.default_rng(0)
    spend = rng.gamma(2.0, 30.0, rows).round(2)
    frame = pd.DataFrame(
        {
            "visit_id": np.arange(1, rows + 1),
            "spend": spend,
            "temperature": rng.normal(5, 8, rows).round(1),
            "channel": rng.choice(["web", "store", "phone"], rows),
            "member": rng.choice([True, False], rows),
            "visited_on": pd.date_range("2025-01-01", periods=rows, freq="D").strftime("%Y-%m-%d"),
            "comment": [f"visit number {n} went fine" for n in range(rows)],
            "shop": "main street",
            "empty": np.nan,
            "bought": np.where(spend > 60, "yes", "no"),
        }
    )
    frame.loc[::7, "spend"] = np.nan
    frame.loc[::11, "channel"] = None
    return frame


@pytest.fixture
def visits(workspace: Path) -> Path:
    path = workspace / "data" / "raw" / "visits.csv"
    shop_visits().to_csv(path, index=False)
    return path


def test_columns_are_typed_bounded_or_left_out_with_a_reason(visits: Path) -> None:
    summary = init_data(visits, "bought")
    data = load_params().data
    assert (data.path, data.target, data.positive_label) == (Path("data/raw/visits.csv"), "bought", "yes")
    assert list(data.numeric_features) == ["spend", "temperature"]
    assert data.numeric_features["spend"].min == 0, "non-negative data keeps a lower bound of 0"
    assert data.numeric_features["temperature"].min < -10 < 20 < data.numeric_features["temperature"].max
    assert data.categorical_features == {"channel": ["phone", "store", "web"], "member": ["False", "True"]}
    for column, reason in {
        "visit_id": "an identifier",
        "visited_on": "dates",
        "comment": "free text",
        "shop": "constant",
        "empty": "empty",
    }.items():
        assert f"{column}: {reason}" in summary, column
    assert "classification, 2 classes (no, yes), positive label 'yes'" in summary
    prepared = prepare(data)  # what init-data wrote is what the pipeline reads
    assert len(prepared.train) + len(prepared.test) == ROWS


def test_only_the_data_section_changes(visits: Path, workspace: Path) -> None:
    before = (workspace / "params.yaml").read_text(encoding="utf-8")
    commented = before.replace("train:\n", "# the model\ntrain:  # keep me\n", 1)
    (workspace / "params.yaml").write_text("# top comment\n" + commented, encoding="utf-8")
    init_data(visits, "bought")
    after = (workspace / "params.yaml").read_text(encoding="utf-8")
    assert after.startswith("# top comment\n")
    assert after[after.index("# the model\ntrain:  # keep me\n") :] == commented[commented.index("# the model") :]
    assert load_params().train == load_params(workspace / "params.yaml").train


def test_a_file_outside_the_project_is_copied_into_data_raw(workspace: Path, tmp_path_factory) -> None:
    outside = tmp_path_factory.mktemp("downloads") / "visits.csv"
    shop_visits().to_csv(outside, index=False)
    assert "copied the file to data/raw/visits.csv" in init_data(outside, "bought")
    assert (workspace / "data" / "raw" / "visits.csv").read_bytes() == outside.read_bytes()


def test_the_data_is_tracked_with_dvc_in_a_dvc_project(visits: Path, workspace: Path) -> None:
    subprocess.run(["git", "init", "--quiet"], cwd=workspace, check=True)  # noqa: S607  (fixed arguments)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--quiet"], cwd=workspace, check=True)
    assert "dvc add data/raw/visits.csv" in init_data(visits, "bought")
    assert (workspace / "data" / "raw" / "visits.csv.dvc").is_file()


def broken(kind: str, path: Path) -> str:
    """Write one kind of unusable CSV to `path`; return the error init-data must give."""
    frame = shop_visits()
    if kind == "one-row":
        frame.head(1).to_csv(path, index=False)
        return "1 labelled row(s); training needs at least two"
    if kind == "no-target-values":
        frame.assign(bought=np.nan).to_csv(path, index=False)
        return "target 'bought' is missing in every row"
    if kind == "one-class":
        frame.assign(bought="yes").to_csv(path, index=False)
        return "target 'bought' has one class ('yes'): nothing to learn"
    if kind == "regression-on-text":
        frame.to_csv(path, index=False)
        return "target 'bought' is not numeric ('no'): regression needs numbers"
    if kind == "not-a-csv":
        path.write_bytes(b"\xff\xfe\x00garbage")
        return "not a readable CSV"
    return "file not found"


def project_state(workspace: Path) -> tuple[list[Path], bytes]:
    return sorted(p.relative_to(workspace) for p in workspace.rglob("*")), (workspace / "params.yaml").read_bytes()


@pytest.mark.parametrize(
    "kind", ["missing-file", "one-row", "no-target-values", "one-class", "regression-on-text", "not-a-csv"]
)
def test_bad_input_is_one_line_and_writes_nothing(workspace: Path, kind: str) -> None:
    path = workspace / "data" / "raw" / "bad.csv"
    message = broken(kind, path)
    before = project_state(workspace)
    with pytest.raises(ProjectError) as error:
        init_data(path, "bought", task="regression" if kind == "regression-on-text" else "auto")
    assert message in str(error.value)
    assert len(str(error.value).splitlines()) == 1
    assert project_state(workspace) == before


def test_the_command_exits_2_in_one_line_naming_the_columns(visits: Path, workspace: Path, cli) -> None:
    before = project_state(workspace)
    result = cli("init-data", visits, "--target", "churn")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no column 'churn'; columns are visit_id, spend" in result.stderr
    assert project_state(workspace) == before


def test_a_numeric_target_with_few_values_is_classification(visits: Path) -> None:
    frame = shop_visits().assign(bought=lambda rows: pd.cut(rows["spend"].fillna(0), [-1, 30, 60, 1e9], labels=False))
    frame.to_csv(visits, index=False)
    assert "3 classes (0, 1, 2), positive label" in init_data(visits, "bought")
    assert load_params().data.positive_label in {0, 1, 2}


@pytest.mark.classification
def test_a_continuous_target_is_regression_with_its_metric_and_thresholds(visits: Path, workspace: Path) -> None:
    before = (workspace / "params.yaml").read_text(encoding="utf-8")
    summary = init_data(visits, "spend")
    params = load_params()
    assert params.data.task == "regression"
    assert params.data.positive_label is None
    assert "target 'spend': regression, values" in summary
    assert "spend" not in params.data.numeric_features
    assert "bought" in params.data.categorical_features
    assert params.evaluate.metric == "rmse"
    spend = shop_visits()["spend"].dropna()
    assert params.monitoring.max_rmse == pytest.approx(spend.std(), rel=1e-4)  # no better than the mean alerts
    assert params.monitoring.min_accuracy is None
    after = (workspace / "params.yaml").read_text(encoding="utf-8")
    untouched = slice(before.index("train:"), before.index("evaluate:"))
    assert after[after.index("train:") : after.index("evaluate:")] == before[untouched]
    prepared = prepare(params.data)
    assert len(prepared.train) + len(prepared.test) == len(spend)  # unlabelled rows dropped


def test_switching_back_to_classes_restores_classification_settings(visits: Path) -> None:
    init_data(visits, "spend")
    init_data(visits, "bought")
    params = load_params()
    assert params.data.task == "classification"
    assert params.evaluate.metric == "roc_auc"
    assert params.monitoring.max_rmse is None
    assert params.monitoring.min_accuracy is not None


def test_the_task_can_be_forced(visits: Path) -> None:
    frame = shop_visits().assign(rating=lambda rows: (rows["temperature"] > 5).astype(int) + 1)  # two values: classes
    frame.to_csv(visits, index=False)
    assert "classification, 2 classes (1, 2)" in init_data(visits, "rating")
    assert "regression" in init_data(visits, "rating", task="regression")
    assert load_params().data.task == "regression"


def test_a_dvc_project_outside_git_is_one_line_and_nothing_is_copied(workspace: Path, tmp_path_factory) -> None:
    (workspace / ".dvc").mkdir()  # a generated project before `make setup` made it a repository
    outside = tmp_path_factory.mktemp("downloads") / "visits.csv"
    shop_visits().to_csv(outside, index=False)
    before = project_state(workspace)
    with pytest.raises(ProjectError, match=r"not a git repository, which DVC needs .* run `make setup`"):
        init_data(outside, "bought")
    assert project_state(workspace) == before
