"""Spark scoring (serving/spark.py) in local mode: the pandas UDF scores rows spread over several partitions exactly
like the PredictionService behind `predict`, ships the ONNX graph rather than a Python model, and refuses what the
service refuses.

Needs the `spark` extra (`pip install -e ".[spark]"`; with uv, `uv sync --extra dev --extra spark`) and Java 17+
(`$JAVA_HOME/bin/java`, else `java` on PATH, as Spark looks for it). Without either the tests are skipped, and the
reason says which one is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import DataParams
from {{ cookiecutter.package_name }}.errors import DataValidationError
from {{ cookiecutter.package_name }}.predictor import Predictor, ScoredRows
from {{ cookiecutter.package_name }}.serving.batch import output_columns
from {{ cookiecutter.package_name }}.serving.service import PredictionService

PROJECT_ROOT = Path(__file__).resolve().parent.parent
pytestmark = [  # PySpark 4.3 about pandas 3, which these tests run on and which scores exactly like `predict`
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]
ROWS = 40
MIN_JAVA = 17  # PySpark 4


def java_problem() -> str | None:
    """Why Spark cannot start here (no Java, or one older than MIN_JAVA), or None."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).is_file():
        where = f"JAVA_HOME={home} has no bin/java" if home else "no `java` on PATH and JAVA_HOME is not set"
        return f"Spark needs Java {MIN_JAVA}+: {where}"
    version = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)  # noqa: S603
    found = re.search(r'version "(?:1\.)?(\d+)', version.stderr + version.stdout)
    if not found or int(found.group(1)) < MIN_JAVA:
        said = (version.stderr + version.stdout).strip().splitlines()[:1] or ["nothing"]
        return f"Spark needs Java {MIN_JAVA}+; {java} -version says {said[0]!r}"
    return None


pytest.importorskip(
    "pyspark", reason='PySpark is the `spark` extra: pip install -e ".[spark]" (uv: uv sync --extra dev --extra spark)'
)
if problem := java_problem():
    pytest.skip(problem, allow_module_level=True)

from pyspark import cloudpickle  # noqa: E402
from pyspark.errors import PythonException  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

from {{ cookiecutter.package_name }}.serving.spark import score_spark, scoring_udf  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    """Local mode: a driver and two executor threads, whose Python workers run this interpreter."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYSPARK_PYTHON", sys.executable)
        env.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        session = (
            SparkSession.builder.master("local[2]")
            .appName("test-spark")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


def rows_of(data: DataParams) -> pd.DataFrame:
    """The first rows of the data with an id column the model does not know, and gaps as real data has them."""
    frame = pd.read_csv(PROJECT_ROOT / data.path).head(ROWS)
    frame.insert(0, "row_id", [f"{number:06d}" for number in range(ROWS)])  # leading zeros must survive
    for number, name in enumerate(data.numeric_features):
        frame[name] = frame[name].astype(float)
        frame.loc[frame.index % 7 == number, name] = None
    for number, name in enumerate(data.categorical_features):
        frame[name] = frame[name].astype(object)
        frame.loc[frame.index % 11 == number, name] = None
    return frame


def spark_scored(spark: SparkSession, rows: pd.DataFrame, predictor: Predictor) -> pd.DataFrame:
    """`rows` scored by the UDF over three partitions (several tasks and Arrow batches), back in their order."""
    frame = spark.createDataFrame(rows).repartition(3)
    scored = score_spark(frame, predictor=predictor).toPandas()
    return scored.sort_values("row_id", ignore_index=True)


def service_scored(rows: pd.DataFrame, predictor: Predictor) -> ScoredRows:
    """What `predict` computes for the same rows: the PredictionService, without a store."""
    service = PredictionService(predictor.data, "test", None, predictor=predictor)
    return service.predict_frame(rows[predictor.data.features])


@pytest.mark.classification
def test_the_udf_scores_like_the_prediction_service(spark: SparkSession, predictor: Predictor) -> None:
    rows = rows_of(predictor.data)
    scored = spark_scored(spark, rows, predictor)
    expected = service_scored(rows, predictor)

    assert list(scored.columns) == [*rows.columns, *output_columns(predictor.data, predictor.class_names)]
    assert scored["row_id"].tolist() == rows["row_id"].tolist()
    assert scored[predictor.data.target].tolist() == rows[predictor.data.target].tolist()
    assert scored["prediction"].tolist() == expected.labels
    assert scored["probability"].tolist() == expected.probabilities  # the same graph on the same numbers
    for name in predictor.class_names:
        assert scored[f"probability_{name}"].tolist() == [row[name] for row in expected.class_probabilities or []]
    assert set(scored["model_version"]) == {predictor.model_version}
    assert scored["prediction_id"].is_unique
    assert scored["prediction_id"].str.fullmatch(r"[0-9a-f]{32}").all()


def test_a_regressor_scores_like_the_prediction_service(spark: SparkSession, regressor: Predictor) -> None:
    rows = rows_of(regressor.data)
    scored = spark_scored(spark, rows, regressor)
    expected = service_scored(rows, regressor)

    assert list(scored.columns) == [*rows.columns, "prediction_id", "prediction", "model_version"]
    assert scored["prediction"].tolist() == expected.labels


def test_the_udf_carries_the_onnx_graph_not_the_python_model(predictor: Predictor) -> None:
    """What Spark pickles into the job: the checked graph's bytes, and nothing from scikit-learn (executors never
    unpickle a model: the project loads models only through skops' allowlist, or as ONNX)."""
    shipped = cloudpickle.dumps(scoring_udf(predictor).func)
    assert predictor.scorer.onnx_bytes in shipped
    assert b"sklearn" not in shipped
    assert b"skops" not in shipped


def test_rows_breaking_the_schema_fail_with_the_schemas_message(spark: SparkSession, predictor: Predictor) -> None:
    data = predictor.data
    rows = rows_of(data)
    frame = spark.createDataFrame(rows)
    first = data.features[0]
    with pytest.raises(DataValidationError, match=f"missing column\\(s\\): {re.escape(first)}"):
        score_spark(frame.drop(first), predictor=predictor)  # refused on the driver, before any job

    bounded = [(name, bounds.max) for name, bounds in data.numeric_features.items() if bounds.max is not None]
    if not bounded:
        pytest.skip("no numeric feature with an upper bound in params.yaml")
    name, high = bounded[0]
    rows.loc[3, name] = high + 1
    with pytest.raises(PythonException, match=f"column {re.escape(repr(name))} must lie within"):
        score_spark(spark.createDataFrame(rows), predictor=predictor).collect()
