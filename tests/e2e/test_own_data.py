"""Your own data, end to end: a baked project pointed at a real dataset nobody here wrote, one model family each.

Each case is a fresh project (the shared trained ones stay on the bundled churn data): `make init-data` on a CSV
outside the project, the family chosen in params.yaml, `dvc repro`, then the project serves or scores its holdout
and passes its own test suite on the new schema. The datasets are scikit-learn's breast cancer (two integer
classes, 30 numeric columns whose names hold spaces) and wine (three classes), and plotly's restaurant tips (text
classes, categorical columns) with missing values, an id, a date, free text and a constant column added. The same
tips predict the tip (regression with categorical columns and missing values) and scikit-learn's diabetes
progression is the other regression (numbers only), so every family meets each task once. The REST cases first
train on the bundled data, as a new user does, so the switch must cross the schema-change gate (for the tips
regression, a task change too).
"""

from __future__ import annotations

import csv
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from .conftest import group_name
from .processes import free_port, running
from .projects import Project, bake, git_commit_all, install
from .test_serving_rest import call, ready


@dataclass(frozen=True)
class Case:
    serving: str
    tracking: str
    dataset: str
    target: str
    family: str
    classes: int
    """0 for a regression target."""
    left_out: tuple[str, ...] = ()
    min_r2: float = 0.3
    """Regression: the holdout R2 the model must reach (the data decides how much is explainable)."""

    @property
    def id(self) -> str:
        return f"{group_name(self.serving, self.tracking)}-{self.dataset}-{self.family}"


CASES = [
    Case("fastapi", "mlflow", "breast_cancer", "target", "gradient_boosting", 2),
    Case("batch", "wandb", "wine", "target", "linear", 3),
    Case("edge", "none", "tips", "time", "random_forest", 2, ("order_id", "paid_on", "note", "restaurant")),
    Case("edge", "mlflow", "diabetes", "target", "gradient_boosting", 0),
    Case("fastapi", "wandb", "tips", "tip", "random_forest", 0, ("order_id", "paid_on", "note", "restaurant"), 0.1),
    Case("batch", "none", "diabetes", "target", "linear", 0),
]

WRITE_DATASET = textwrap.dedent(
    """
    import sys

    import numpy as np

    name, output = sys.argv[1], sys.argv[2]
    if name == "breast_cancer":
        from sklearn.datasets import load_breast_cancer
        frame = load_breast_cancer(as_frame=True).frame
    elif name == "wine":
        from sklearn.datasets import load_wine
        frame = load_wine(as_frame=True).frame
    elif name == "diabetes":
        from sklearn.datasets import load_diabetes
        frame = load_diabetes(as_frame=True, scaled=False).frame
    else:
        import pandas as pd
        import plotly.data
        frame = plotly.data.tips()
        rng = np.random.default_rng(0)
        frame.insert(0, "order_id", range(1000, 1000 + len(frame)))
        frame["paid_on"] = pd.date_range("2024-01-01", periods=len(frame), freq="D").strftime("%Y-%m-%d")
        frame["note"] = [f"table {row} asked for the bill at {rng.integers(6, 12)} pm" for row in range(len(frame))]
        frame["restaurant"] = "main street"
        for column in ["total_bill", "sex", "day", "size"]:
            frame.loc[rng.uniform(size=len(frame)) < 0.08, column] = np.nan
    frame.to_csv(output, index=False)
    """
)


def own_project(case: Case, workdir: Path) -> Project:
    p = bake(case.serving, case.tracking, workdir)
    install(p)
    git_commit_all(p, "generated")
    return p


def holdout(p: Project) -> list[dict[str, str]]:
    with (p.root / "data" / "prepared" / "test.csv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def accuracy(labels: list[str], rows: list[dict[str, str]], target: str) -> float:
    return sum(label == row[target] for label, row in zip(labels, rows, strict=True)) / len(rows)


def instances(rows: list[dict[str, str]], data: dict) -> list[dict[str, object]]:
    """Holdout rows as a client sends them: numbers as numbers, empty cells as null."""
    return [
        {name: float(row[name]) if row[name] else None for name in data["numeric_features"]}
        | {name: None if row[name] in ("", "missing") else row[name] for name in data["categorical_features"]}
        for row in rows
    ]


def serve_and_score(p: Project, rows: list[dict[str, str]], data: dict, classes: int, tmp_path: Path) -> list[str]:
    """The REST service's answer for every holdout row, after checking each answer's shape (the whole distribution
    over `classes` classes included; a regressor's number alone)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = p.env | {"HOST": "127.0.0.1", "PORT": str(port), "PREDICTION_STORE_URL": f"sqlite:///{tmp_path / 'p.db'}"}
    command = [str(p.python), "-m", p.package, "serve"]
    with running(command, cwd=p.root, env=env, ready=lambda: ready(base), timeout=300, log=tmp_path / "serve.log"):
        status, body = call("POST", f"{base}/predict", {"instances": instances(rows, data)})
        assert status == 200, body
        if classes:
            assert len(body["predictions"]) == len(body["probabilities"]) == len(rows)
            assert all(0.0 <= probability <= 1.0 for probability in body["probabilities"])
            assert {len(spread) for spread in body["class_probabilities"]} == {classes}
            assert all(abs(sum(spread.values()) - 1.0) < 1e-5 for spread in body["class_probabilities"])
            actual: object = int(rows[0][data["target"]])
        else:
            assert set(body) == {"predictions", "prediction_ids", "model_version"}, body
            assert len(body["predictions"]) == len(rows)
            actual = float(rows[0][data["target"]])
        first = {"prediction_id": body["prediction_ids"][0], "actual": actual}
        assert call("POST", f"{base}/feedback", first)[0] == 202
        example = call("GET", f"{base}/openapi.json")[1]["components"]["schemas"]["PredictRequest"]["examples"][0]
        assert call("POST", f"{base}/predict", example)[0] == 200, "the documented example is a valid request"
    return [str(label) for label in body["predictions"]]


LABEL_COLUMN = {"batch": "prediction", "edge": "label"}


def r2(values: list[str], rows: list[dict[str, str]], target: str) -> float:
    actual = [float(row[target]) for row in rows]
    mean = sum(actual) / len(actual)
    errors = sum((float(value) - real) ** 2 for value, real in zip(values, actual, strict=True))
    return 1 - errors / sum((real - mean) ** 2 for real in actual)


def score_file(p: Project, classes: int) -> list[str]:
    """`make predict`: the batch or edge scorer over the holdout, into reports/predictions.csv, with one
    probability_<class> column per class that sum to 1 on every row; a regressor's value alone."""
    p.run("make", "predict", timeout=600)
    with (p.root / "reports" / "predictions.csv").open(newline="", encoding="utf-8") as file:
        scored = list(csv.DictReader(file))
    distribution = [name for name in scored[0] if name.startswith("probability")]
    if not classes:
        assert distribution == [], distribution
        return [row["prediction"] for row in scored]
    assert len(distribution) == classes + 1, distribution  # `probability` and one per class
    distribution.remove("probability")
    assert all(abs(sum(float(row[name]) for name in distribution) - 1.0) < 1e-5 for row in scored)
    return [row[LABEL_COLUMN[p.serving]] for row in scored]


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_init_data_on_a_real_dataset_trains_serves_and_passes_its_own_tests(
    case: Case, tmp_path_factory: pytest.TempPathFactory
) -> None:
    p = own_project(case, tmp_path_factory.mktemp(case.id))
    switching = case.serving == "fastapi"
    if switching:  # a new user's path: the bundled example first, then their own data
        p.run(p.python, "-m", "dvc", "repro", timeout=900)

    csv_file = tmp_path_factory.mktemp("downloads") / f"{case.dataset}.csv"
    p.run(p.python, "-c", WRITE_DATASET, case.dataset, csv_file)
    inferred = p.run("make", "init-data", f"CSV={csv_file}", f"TARGET={case.target}").stdout
    task = f"classification, {case.classes} classes" if case.classes else "regression, values"
    assert task in inferred, inferred
    for column in case.left_out:
        assert re.search(rf"left out \(\d+\):.*\b{column}: ", inferred), (column, inferred)
    assert f"dvc add data/raw/{case.dataset}.csv" in inferred

    params_file = p.root / "params.yaml"
    text, count = re.subn(r"(?m)^(  family: )random_forest", rf"\g<1>{case.family}", params_file.read_text())
    assert count == 1
    params_file.write_text(text, encoding="utf-8")
    git_commit_all(p, f"own data: {case.dataset}, {case.family}")
    p.run(p.python, "-m", "dvc", "repro", timeout=900)

    promotion = json.loads((p.root / "reports" / "promotion.json").read_text())
    assert promotion["promoted"] is True, promotion
    if switching:
        assert promotion["reason"].startswith("schema changed"), promotion
    metrics = json.loads((p.root / "reports" / "metrics.json").read_text())
    assert metrics["r2"] > case.min_r2 if not case.classes else metrics["accuracy"] > 0.8, metrics

    data = yaml.safe_load(params_file.read_text())["data"]
    rows = holdout(p)
    labels = (
        serve_and_score(p, rows, data, case.classes, tmp_path_factory.mktemp("serve"))
        if switching
        else score_file(p, case.classes)
    )
    if case.classes:
        assert set(labels) <= {row[case.target] for row in rows}
        assert accuracy(labels, rows, case.target) > 0.8
    else:  # the device's ONNX answers explain the holdout about as well as the evaluated model
        assert abs(r2(labels, rows, case.target) - metrics["r2"]) < 1e-3, metrics

    own_tests = p.run(p.python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", timeout=1800, check=False)
    assert own_tests.returncode == 0, own_tests.stdout[-6000:]
    print(f"{case.id}: {own_tests.stdout.strip().splitlines()[-1]}")
