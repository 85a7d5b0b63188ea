"""Score a Spark DataFrame with the champion: for rows that already live in Spark, or too many for one machine.

Which one to use:
- `python -m {{ cookiecutter.package_name }} predict --input IN --output OUT` (serving/batch.py) for files one machine can
  read: one process, flat memory, every prediction logged to the prediction store. Start here.
- `score_spark` when the rows already live in Spark (lakehouse tables, partitioned Parquet on object storage) or
  one machine is too slow: the same PredictionService (the champion as ONNX, parity-checked) runs on every
  executor as a pandas UDF over Arrow batches, and the result stays a Spark DataFrame.

Setup: `pip install -e ".[spark]"` or `uv sync --extra dev --extra spark` (PySpark is the `spark` extra, not part
of `dev`: ~480 MB; it needs Java 17+).
`tests/test_spark.py` runs this UDF in local mode and is skipped, with the reason, without PySpark or Java.

    from pyspark.sql import SparkSession
    from {{ cookiecutter.package_name }}.serving.spark import score_spark

    spark = SparkSession.builder.appName("score").getOrCreate()
    scored = score_spark(spark.read.parquet("s3a://bucket/customers/"))
    scored.write.mode("overwrite").parquet("s3a://bucket/scored/")

The driver loads the champion once, from the same place `predict` does ($MODEL_DIR's export or the tracker,
through the skops allowlist), converts it to ONNX and checks parity there. The UDF carries only the checked graph
as bytes (with the classes, the model version and the schema), never the scikit-learn object: the project loads
models only through skops' allowlist or as ONNX, and unpickling one on an executor would bypass that. A UDF of
more than 1 MB pickled is broadcast by Spark itself (`spark.broadcast.UDFCompressionThreshold`), so each executor
fetches it once per job. Each Python worker builds its onnxruntime session the first time it meets a graph
(keyed by the graph's digest) and reuses it for every later batch and job. Executors therefore need onnxruntime
and this package (with its dependencies) installed: bake them into the cluster's image, or pack a virtual
environment holding `pip install .` (venv-pack, conda-pack) and ship it with `--archives`. `--py-files` cannot
carry them: Python does not load a compiled extension such as onnxruntime's from a zip file.

Unlike `predict`, nothing is logged to the prediction store (executors should not write to one database file):
save the scored DataFrame where your monitoring can read it. A row that breaks the schema fails the Spark job with
the schema's message (column and offending value) inside Spark's PythonException. PySpark 4.3 warns that it "does
not yet fully support pandas >= 3.0"; this UDF was tested with pandas 3.0 and scores exactly like `predict`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DataType, DoubleType, LongType, StringType, StructField, StructType

from ..champion import load_champion
from ..config import DataParams, Params, load_params
from ..errors import DataValidationError
from ..predictor import Predictor
from .batch import class_columns, output_columns
from .service import PredictionService

SCORED = "__scored"
_SERVICES: dict[str, PredictionService] = {}  # per Python worker: the service of the graph it last scored with


@dataclass(frozen=True)
class ShippedModel:
    """What the UDF carries to the executors: the champion as its parity-checked ONNX graph, no Python model."""

    onnx_bytes: bytes
    classes: list
    """The model's classes, in the graph's order of probabilities (empty for a regressor)."""
    version: str
    data: DataParams
    digest: str
    """SHA-256 of all of the above: a Python worker builds one session per digest."""

    @classmethod
    def of(cls, predictor: Predictor) -> ShippedModel:
        scorer = predictor.scorer
        digest = hashlib.sha256(scorer.onnx_bytes)
        for part in (repr(scorer.classes), predictor.model_version, predictor.data.model_dump_json()):
            digest.update(b"\0" + part.encode())
        return cls(scorer.onnx_bytes, scorer.classes, predictor.model_version, predictor.data, digest.hexdigest())


def score_spark(frame: DataFrame, params: Params | None = None, *, predictor: Predictor | None = None) -> DataFrame:
    """`frame` with the columns `predict` adds (prediction_id, prediction, probability, model_version and one
    probability_<class> per class; a regressor's prediction_id, prediction, model_version); every row is kept.

    `predictor` defaults to the champion (loaded, converted and parity-checked here, on the driver) with
    params.yaml's schema; tests pass their own."""
    data = predictor.data if predictor else (params or load_params()).data
    missing = [name for name in data.features if name not in frame.columns]
    if missing:
        raise DataValidationError(f"missing column(s): {', '.join(missing)}")
    predictor = predictor or Predictor(load_champion(), data)
    added = output_columns(data, predictor.class_names)
    taken = [name for name in added if name in frame.columns]
    if taken:
        raise DataValidationError(f"has output column(s) {', '.join(taken)} already; rename or drop them")
    scored = frame.withColumn(SCORED, scoring_udf(predictor)(F.struct(*[frame[name] for name in data.features])))
    return scored.select(
        *[scored[name] for name in frame.columns],
        *[
            F.lit(predictor.model_version).alias(name)
            if name == "model_version"
            else scored[SCORED].getField(name).alias(name)
            for name in added
        ],
    )


def scoring_udf(predictor: Predictor) -> Callable[[Column], Column]:
    """A pandas UDF taking a struct of the schema's columns and returning (prediction_id, prediction, probability,
    probability_<class>...), or a regressor's (prediction_id, prediction). Its closure holds `ShippedModel.of
    (predictor)` and the class names: bytes and text, never the predictor nor a scikit-learn object."""
    shipped = ShippedModel.of(predictor)
    names = list(predictor.class_names)
    fields = [StructField("prediction_id", StringType()), StructField("prediction", _label_type(shipped.classes))]
    if names:
        fields.append(StructField("probability", DoubleType()))
        fields += [StructField(column, DoubleType()) for column in class_columns(names)]

    @F.pandas_udf(StructType(fields))
    def score(rows: pd.DataFrame) -> pd.DataFrame:
        scored = _service(shipped).predict_frame(rows)
        columns: dict[str, list] = {"prediction_id": scored.ids, "prediction": scored.labels}
        if scored.probabilities is not None:  # a classifier's
            columns["probability"] = scored.probabilities
            for name, column in zip(names, class_columns(names), strict=True):
                columns[column] = [row[name] for row in scored.class_probabilities or []]
        return pd.DataFrame(columns)

    # Nondeterministic (new ids on every run), which also stops Spark from running it once per extracted field.
    return score.asNondeterministic()


def _service(shipped: ShippedModel) -> PredictionService:
    """The worker's service for this graph, built on first use. No store: executors should not all write to one
    database (see the module's docstring)."""
    service = _SERVICES.get(shipped.digest)
    if service is None:
        _SERVICES.clear()  # a new champion: the previous graph's session is not needed any more
        predictor = Predictor.from_onnx(shipped.onnx_bytes, shipped.classes, shipped.version, shipped.data)
        service = _SERVICES[shipped.digest] = PredictionService(shipped.data, "spark", None, predictor=predictor)
    return service


def _label_type(classes: list) -> DataType:
    if not classes:  # a regressor's value
        return DoubleType()
    if all(isinstance(label, bool | np.bool_) for label in classes):
        return BooleanType()
    return LongType() if all(isinstance(label, int | np.integer) for label in classes) else StringType()
