"""Score a Spark DataFrame with the champion: for rows that already live in Spark, or too many for one machine.

Which one to use:
- `python -m {{ cookiecutter.package_name }} predict --input IN --output OUT` (serving/batch.py) for files one machine can
  read: one process, flat memory, every prediction logged to the prediction store. Start here.
- `score_spark` when the rows already live in Spark (lakehouse tables, partitioned Parquet on object storage) or
  one machine is too slow: the same PredictionService (the champion as ONNX, parity-checked) runs on every
  executor as a pandas UDF over Arrow batches, and the result stays a Spark DataFrame.

Setup: `pip install -e ".[spark]"` (needs Java 17+). On a cluster every executor needs this package and its
dependencies too: bake them into the cluster image, or ship a packed virtualenv with `--archives`.

    from pyspark.sql import SparkSession
    from {{ cookiecutter.package_name }}.serving.spark import score_spark

    spark = SparkSession.builder.appName("score").getOrCreate()
    scored = score_spark(spark.read.parquet("s3a://bucket/customers/"))
    scored.write.mode("overwrite").parquet("s3a://bucket/scored/")

The driver loads the champion once, from the same place `predict` does, and ships it with the UDF (Spark
broadcasts a large one by itself). Each Python worker builds its service once (ONNX conversion and parity check)
and reuses it for every batch it scores. Unlike `predict`, nothing is logged to the prediction store (executors
should not write to one database file): save the scored DataFrame where your monitoring can read it. A row that
breaks the schema fails the Spark job with the schema's message (column and offending value) inside Spark's
PythonException. PySpark 4.3 warns that it "does not yet fully support pandas >= 3.0"; this UDF was tested with
pandas 3.0 and scores exactly like `predict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, DoubleType, LongType, StringType, StructField, StructType

from ..champion import Champion, load_champion
from ..config import DataParams, Params, load_params
from ..errors import DataValidationError
from ..onnx_model import classes_of
from ..predictor import Predictor
from .batch import class_columns, output_columns
from .service import PredictionService

SCORED = "__scored"
_SERVICES: dict[str, PredictionService] = {}  # per Python worker: the service of the current scoring job


def score_spark(frame: DataFrame, params: Params | None = None) -> DataFrame:
    """`frame` with the columns `predict` adds (prediction_id, prediction, probability, model_version and one
    probability_<class> per class; a regressor's prediction_id, prediction, model_version); every row is kept."""
    data = (params or load_params()).data
    missing = [name for name in data.features if name not in frame.columns]
    if missing:
        raise DataValidationError(f"missing column(s): {', '.join(missing)}")
    champion = load_champion()
    added = output_columns(data, _class_names(champion))
    taken = [name for name in added if name in frame.columns]
    if taken:
        raise DataValidationError(f"has output column(s) {', '.join(taken)} already; rename or drop them")
    scored = frame.withColumn(SCORED, scoring_udf(champion, data)(F.struct(*[frame[name] for name in data.features])))
    return scored.select(
        *[scored[name] for name in frame.columns],
        *[
            F.lit(champion.version).alias(name)
            if name == "model_version"
            else scored[SCORED].getField(name).alias(name)
            for name in added
        ],
    )


def scoring_udf(champion: Champion, data: DataParams) -> Callable[[Column], Column]:
    """A pandas UDF taking a struct of the schema's columns and returning (prediction_id, prediction, probability,
    probability_<class>...), or a regressor's (prediction_id, prediction)."""
    job = f"{champion.version}-{uuid.uuid4().hex}"
    names = _class_names(champion)
    fields = [StructField("prediction_id", StringType()), StructField("prediction", _label_type(champion))]
    if names:
        fields.append(StructField("probability", DoubleType()))
        fields += [StructField(column, DoubleType()) for column in class_columns(names)]

    @F.pandas_udf(StructType(fields))
    def score(rows: pd.DataFrame) -> pd.DataFrame:
        scored = _service(job, champion, data).predict_frame(rows)
        columns: dict[str, list] = {"prediction_id": scored.ids, "prediction": scored.labels}
        if scored.probabilities is not None:  # a classifier's
            columns["probability"] = scored.probabilities
            for name, column in zip(names, class_columns(names), strict=True):
                columns[column] = [row[name] for row in scored.class_probabilities or []]
        return pd.DataFrame(columns)

    # Nondeterministic (new ids on every run), which also stops Spark from running it once per extracted field.
    return score.asNondeterministic()


def _service(job: str, champion: Champion, data: DataParams) -> PredictionService:
    """No store: executors should not all write to one database (see the module's docstring)."""
    if job not in _SERVICES:
        _SERVICES.clear()
        _SERVICES[job] = PredictionService(data, "spark", None, predictor=Predictor(champion, data))
    return _SERVICES[job]


def _class_names(champion: Champion) -> list[str]:
    """The classes as text, as Predictor keys its distribution (none for a regressor)."""
    return [str(label) for label in classes_of(champion.model)]


def _label_type(champion: Champion) -> DataType:
    classes = classes_of(champion.model)
    if not classes:  # a regressor's value
        return DoubleType()
    if all(isinstance(label, bool | np.bool_) for label in classes):
        return BooleanType()
    return LongType() if all(isinstance(label, int | np.integer) for label in classes) else StringType()
