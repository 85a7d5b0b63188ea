"""The champion as an ONNX graph: the same predictions as scikit-learn at a fraction of the cost per request.

Converted with skl2onnx and run with onnxruntime. Every conversion is checked against scikit-learn before it may
serve: a classifier's labels identical and probabilities within PROBABILITY_TOLERANCE; a regressor's values
within VALUE_TOLERANCE, relative to the value (the graph computes in float32, so a price of 250000 may move by
a few hundredths, a rate of 0.3 by far less).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.pipeline import Pipeline

from .config import DataParams
from .errors import ProjectError
from .estimators import family_of

PROBABILITY_TOLERANCE = 1e-4
VALUE_TOLERANCE = 1e-4
"""Largest |y_onnx - y_sklearn| / max(1, |y_sklearn|) a regressor's graph may show."""
ONNX_OPSET = {"": 17, "ai.onnx.ml": 3}
"""The default domain and the ML domain (tree ensembles), fixed so a graph reads the same on every runtime."""


class ParityError(ProjectError):
    """The ONNX graph does not score like the scikit-learn model it came from."""


def convert(model: Pipeline, data: DataParams) -> bytes:
    """One ONNX input per column (float for numbers, string for categories); a classifier's outputs are `label` and
    `probabilities`, a regressor's one `variable` (a value per row)."""
    inputs = [(name, FloatTensorType([None, 1])) for name in data.numeric_features]
    inputs += [(name, StringTensorType([None, 1])) for name in data.categorical_features]
    estimator = model.steps[-1][1]
    family = family_of(estimator)
    if family.register_onnx_converter is not None:
        family.register_onnx_converter()
    options = {} if data.regression else {id(estimator): family.onnx_options}
    return to_onnx(model, initial_types=inputs, options=options, target_opset=ONNX_OPSET).SerializeToString()


def input_names(session: ort.InferenceSession, data: DataParams) -> dict[str, str]:
    """The graph input of each column. skl2onnx turns a column name that is not an identifier (`mean radius`,
    `1st`) into one (`mean_radius`, `_1st`); the inputs keep the order `convert` declared them in."""
    graph = [node.name for node in session.get_inputs()]
    if len(graph) != len(data.features):
        raise ParityError(f"the ONNX graph has {len(graph)} inputs for the schema's {len(data.features)} columns")
    return dict(zip(data.features, graph, strict=True))


class OnnxScorer:
    """Scores feature columns with onnxruntime; columns are numpy arrays shaped (rows, 1)."""

    def __init__(self, onnx_bytes: bytes, data: DataParams, classes: list) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one request is tiny: threads cost more than they save
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.onnx_bytes = onnx_bytes  # the graph as it was checked: what Spark ships to its executors
        self.data = data
        self.classes = classes
        self.input_names = input_names(self.session, data)
        self.boolean = bool(classes) and all(isinstance(known, bool | np.bool_) for known in classes)

    def run(self, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """Score columns keyed by the schema's column names. A classifier answers labels (the model's classes; a
        graph of boolean classes answers 0 and 1, turned back into False and True here) and probabilities; a
        regressor answers one value per row, and None."""
        outputs = self.session.run(None, {self.input_names[name]: v for name, v in columns.items()})
        if self.data.regression:
            return outputs[0].ravel().astype(np.float64), None
        labels, probabilities = outputs
        return (labels.astype(bool) if self.boolean else labels), probabilities

    def columns_from_frame(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Columns of a frame already validated by the schema."""
        columns = {name: frame[[name]].to_numpy(dtype=np.float32) for name in self.data.numeric_features}
        columns |= {name: frame[[name]].to_numpy(dtype=object) for name in self.data.categorical_features}
        return columns


@dataclass(frozen=True)
class Parity:
    rows: int
    labels_identical: bool
    """A classifier's labels; True for a regressor, which has none."""
    max_probability_difference: float | None
    """A classifier's largest |p_onnx - p_sklearn| over rows and classes."""
    max_relative_difference: float | None = None
    """A regressor's largest |y_onnx - y_sklearn| / max(1, |y_sklearn|)."""

    @property
    def ok(self) -> bool:
        if self.max_relative_difference is not None:
            return self.max_relative_difference <= VALUE_TOLERANCE
        return self.labels_identical and (self.max_probability_difference or 0.0) <= PROBABILITY_TOLERANCE

    def describe(self) -> str:
        """The finding in words: `labels identical=True, max probability difference=3.1e-07 (tolerance 0.0001)`."""
        if self.max_relative_difference is not None:
            return f"max relative value difference={self.max_relative_difference:.2e} (tolerance {VALUE_TOLERANCE:g})"
        return (
            f"labels identical={self.labels_identical}, max probability difference="
            f"{self.max_probability_difference:.2e} (tolerance {PROBABILITY_TOLERANCE:g})"
        )


def check_parity(model: Pipeline, scorer: OnnxScorer, frame: pd.DataFrame) -> Parity:
    labels, probabilities = scorer.run(scorer.columns_from_frame(frame))
    if probabilities is None:  # a regressor: its values, relative to their size
        expected = model.predict(frame).astype(np.float64)
        relative = np.abs(labels - expected) / np.maximum(1.0, np.abs(expected))
        return Parity(len(frame), True, None, float(relative.max()))
    return Parity(
        rows=len(frame),
        labels_identical=bool(np.array_equal(labels, model.predict(frame))),
        max_probability_difference=float(np.abs(probabilities - model.predict_proba(frame)).max()),
    )


def classes_of(model: Pipeline) -> list:
    """A classifier's classes; a regressor has none."""
    return list(getattr(model, "classes_", []))


def scorer_for(model: Pipeline, data: DataParams, sample: pd.DataFrame) -> OnnxScorer:
    """Convert, then refuse to serve a graph that disagrees with scikit-learn on `sample`."""
    scorer = OnnxScorer(convert(model, data), data, classes_of(model))
    parity = check_parity(model, scorer, sample)
    if not parity.ok:
        raise ParityError(f"ONNX model disagrees with scikit-learn on {parity.rows} rows: {parity.describe()}")
    return scorer
