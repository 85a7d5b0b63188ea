"""Batch scoring: every row comes out scored, other columns pass through untouched, bad files leave nothing behind."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.package_name }}.errors import ProjectError
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.schema import validate_frame
from {{ cookiecutter.package_name }}.serving.batch import OUTPUT_COLUMNS, class_columns, output_columns, score_file
from {{ cookiecutter.package_name }}.store import read_predictions, read_requests

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ROWS = 50


@pytest.fixture
def customers(predictor: Predictor) -> pd.DataFrame:
    """Rows with columns the model does not know: an id with leading zeros and the outcome."""
    frame = pd.read_csv(PROJECT_ROOT / predictor.data.path).head(ROWS)
    frame.insert(0, "customer_id", [f"{number:06d}" for number in range(ROWS)])
    return frame


@pytest.mark.classification
def test_csv_rows_are_scored_and_other_columns_pass_through(
    predictor: Predictor, customers: pd.DataFrame, store: str, workspace: Path
) -> None:
    customers.to_csv(workspace / "in.csv", index=False)
    summary = score_file(
        workspace / "in.csv", workspace / "out" / "scored.csv", 7, predictor=predictor, store_url=store
    )
    assert summary.startswith(f"scored {ROWS} rows in 8 chunks with model version 7")

    scored = pd.read_csv(workspace / "out" / "scored.csv", dtype={"customer_id": str})
    distribution = class_columns(predictor.class_names)
    assert list(scored.columns) == [*customers.columns, *OUTPUT_COLUMNS, *distribution]
    assert scored["customer_id"].tolist() == customers["customer_id"].tolist()
    assert scored[predictor.data.target].tolist() == customers[predictor.data.target].tolist()
    assert scored["prediction_id"].is_unique
    assert scored["probability"].between(0, 1).all()
    assert set(scored["model_version"].astype(str)) == {"7"}
    expected = predictor.score_frame(validate_frame(customers, predictor.data, require_target=True))
    assert scored["prediction"].tolist() == expected.labels
    assert scored["probability"].tolist() == pytest.approx(expected.probabilities)
    for name, column in zip(predictor.class_names, distribution, strict=True):
        assert scored[column].tolist() == pytest.approx([row[name] for row in expected.class_probabilities])

    logged = read_predictions(store)
    assert set(logged["id"]) == set(scored["prediction_id"])
    requests = read_requests(store)
    assert (requests["source"] == "batch").all()
    assert requests["status"].tolist() == ["ok"] * 8
    assert requests["rows"].sum() == ROWS


@pytest.mark.classification
def test_parquet_keeps_its_column_types(
    predictor: Predictor, customers: pd.DataFrame, store: str, workspace: Path
) -> None:
    customers["visits"] = pd.array([None if n % 5 == 0 else n for n in range(ROWS)], dtype="Int64")
    customers["signed_up"] = pd.Timestamp("2024-01-31")
    customers.to_parquet(workspace / "in.parquet", index=False)
    score_file(workspace / "in.parquet", workspace / "scored.parquet", 16, predictor=predictor, store_url=store)

    source, scored = pq.read_schema(workspace / "in.parquet"), pq.read_table(workspace / "scored.parquet")
    assert scored.num_rows == ROWS
    assert scored.schema.names == [*source.names, *OUTPUT_COLUMNS, *class_columns(predictor.class_names)]
    for name in ("customer_id", "visits", "signed_up"):
        assert scored.schema.field(name).type == source.field(name).type
    assert scored.schema.field("probability").type == pa.float64()
    assert (
        scored.column("visits").to_pylist()
        == customers["visits"].astype(object).where(customers["visits"].notna(), None).tolist()
    )

    # and to CSV: an integer column with gaps stays integer
    score_file(workspace / "in.parquet", workspace / "scored.csv", 16, predictor=predictor, store_url=store)
    text = (workspace / "scored.csv").read_text(encoding="utf-8").splitlines()
    assert text[1].split(",")[list(customers.columns).index("visits")] == ""
    assert text[2].split(",")[list(customers.columns).index("visits")] == "1"


def test_a_bad_chunk_names_column_and_rows_and_leaves_no_output(
    predictor: Predictor, customers: pd.DataFrame, store: str, workspace: Path, numeric_column: str
) -> None:
    customers[numeric_column] = customers[numeric_column].astype(object)
    customers.loc[24, numeric_column] = "old"
    customers.to_csv(workspace / "in.csv", index=False)
    (workspace / "out").mkdir()
    expected = f"in.csv: rows 21-30: column {numeric_column!r} must be numeric; found 'old'"
    with pytest.raises(ProjectError, match=re.escape(expected)):
        score_file(workspace / "in.csv", workspace / "out" / "scored.csv", 10, predictor=predictor, store_url=store)
    assert list((workspace / "out").iterdir()) == []
    assert read_requests(store)["status"].tolist() == ["ok", "ok", "invalid"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.txt", b"a,b\n1,2\n", "unsupported input format; use .csv or .parquet"),
        ("in.parquet", b"not parquet at all", "not a readable Parquet file"),
        ("in.csv", b"", "not a readable CSV"),
        ("in.csv", b"age,contract\n31,one-year\n", "missing column(s): "),
        ("in.csv", "age\ncaf\xe9\n".encode("latin-1"), "not UTF-8 text"),
    ],
)
def test_unusable_files_are_refused(
    predictor: Predictor, store: str, workspace: Path, name: str, content: bytes, message: str
) -> None:
    (workspace / name).write_bytes(content)
    (workspace / "out").mkdir()
    with pytest.raises(ProjectError, match="^" + re.escape(f"{workspace / name}: {message}")):
        score_file(workspace / name, workspace / "out" / "scored.csv", 10, predictor=predictor, store_url=store)
    assert list((workspace / "out").iterdir()) == []


def test_an_unusable_store_is_refused_before_scoring(
    predictor: Predictor, customers: pd.DataFrame, workspace: Path
) -> None:
    customers.to_csv(workspace / "in.csv", index=False)
    with pytest.raises(ProjectError, match=r"^cannot open the prediction store \(PREDICTION_STORE_URL=nosuch://db\)"):
        score_file(workspace / "in.csv", workspace / "scored.csv", 10, predictor=predictor, store_url="nosuch://db")
    assert not (workspace / "scored.csv").exists()


@pytest.mark.usefixtures("workspace")
def test_cli_explains_a_missing_file_in_one_line(cli) -> None:
    result = cli("predict", "-i", "nope.csv", "-o", "out.csv")
    assert result.returncode == 2
    assert result.stderr == "error: nope.csv: file not found\n"
    assert not Path("out.csv").exists()


def test_a_regressor_adds_its_value_and_no_probabilities(regressor: Predictor, store: str, workspace: Path) -> None:
    rows = parity_sample(regressor.data, rows=40).assign(customer_id=[f"{n:04d}" for n in range(40)])
    rows.to_csv(workspace / "in.csv", index=False)
    score_file(workspace / "in.csv", workspace / "scored.csv", 16, predictor=regressor, store_url=store)
    scored = pd.read_csv(workspace / "scored.csv", dtype={"customer_id": str})
    assert list(scored.columns) == [*rows.columns, *output_columns(regressor.data)]
    assert "probability" not in scored.columns
    assert scored["customer_id"].tolist() == rows["customer_id"].tolist()
    expected = regressor.score_frame(validate_frame(rows, regressor.data, require_target=False))
    assert scored["prediction"].tolist() == pytest.approx(expected.labels)
    assert read_predictions(store)["probability"].isna().all()
