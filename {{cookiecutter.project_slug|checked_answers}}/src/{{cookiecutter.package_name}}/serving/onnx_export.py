"""Export stage (edge serving): the champion as one ONNX file plus the metadata a device needs to run it.

Parity gate: the graph is scored against scikit-learn on the holdout (data/prepared/test.csv, validated by the
schema) and on synthetic edge cases (missing values, unknown categories, values at the bounds). A classifier's
labels must be identical and every probability within PROBABILITY_TOLERANCE (1e-4, onnx_model.py); a regressor's
every value within VALUE_TOLERANCE (1e-4, relative to the value). A graph that fails is never written: the stage
exits 2 and a device can only ever receive a model that scores like the evaluated champion.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
import skl2onnx

from .. import onnx_model
from ..champion import load_champion
from ..config import DataParams, Params
from ..data import TEST_FILE, load_split
from ..onnx_model import ONNX_OPSET, OnnxScorer, Parity, ParityError, check_parity, classes_of, convert
from ..predictor import parity_sample
from ..schema import MISSING_CATEGORY

ONNX_FILE = Path("models/model.onnx")
METADATA_FILE = ONNX_FILE.with_suffix(".json")  # the edge runtime looks for it next to the model
PARITY_FILE = Path("reports/onnx_parity.json")
METADATA_FORMAT = 1


def export(params: Params) -> str:
    """Convert the champion, check parity, then write model.onnx and model.json; return a one-line summary."""
    champion = load_champion()
    data = params.data
    onnx_bytes = convert(champion.model, data)
    classes = [known.item() if hasattr(known, "item") else known for known in classes_of(champion.model)]
    scorer = OnnxScorer(onnx_bytes, data, classes)
    holdout, _ = load_split(TEST_FILE, data)
    checks = {
        "holdout": check_parity(champion.model, scorer, holdout),
        "edge_cases": check_parity(champion.model, scorer, parity_sample(data)),
    }
    write_json(PARITY_FILE, parity_report(checks, champion.version, data))
    failed = {name: parity for name, parity in checks.items() if not parity.ok}
    if failed:
        for stale in (ONNX_FILE, METADATA_FILE):  # never leave an older graph looking current
            stale.unlink(missing_ok=True)
        name, parity = next(iter(failed.items()))
        raise ParityError(
            f"ONNX export of champion {champion.version} refused: on {parity.rows} {name} rows {parity.describe()};"
            f" see {PARITY_FILE}"
        )

    write_bytes(ONNX_FILE, onnx_bytes)
    write_json(METADATA_FILE, metadata(onnx_bytes, data, classes, champion.version, scorer.input_names))
    holdout_parity = checks["holdout"]
    return (
        f"exported champion {champion.version} to {ONNX_FILE} ({len(onnx_bytes) / 1024:.1f} KB, "
        f"opset {ONNX_OPSET['']}); parity on {holdout_parity.rows} holdout rows: {holdout_parity.describe()}"
    )


def parity_report(checks: dict[str, Parity], version: str, data: DataParams) -> dict[str, Any]:
    if data.regression:
        rule = {
            "rule": "|y_onnx - y_sklearn| / max(1, |y_sklearn|) <= value_tolerance for every row",
            "value_tolerance": onnx_model.VALUE_TOLERANCE,
        }
        found = {
            name: {"rows": p.rows, "max_relative_difference": p.max_relative_difference} for name, p in checks.items()
        }
    else:
        rule = {
            "rule": "labels identical and |p_onnx - p_sklearn| <= probability_tolerance for every row and class",
            "probability_tolerance": onnx_model.PROBABILITY_TOLERANCE,
        }
        found = {
            name: {
                "rows": p.rows,
                "labels_identical": p.labels_identical,
                "max_probability_difference": p.max_probability_difference,
            }
            for name, p in checks.items()
        }
    return {"ok": all(parity.ok for parity in checks.values()), **rule, "model_version": version, **found}


def metadata(
    onnx_bytes: bytes, data: DataParams, classes: list, version: str, inputs: dict[str, str]
) -> dict[str, Any]:
    """Everything the edge runtime needs besides the graph, so the device never reads params.yaml.

    `input` is the graph input a column feeds (the column name, made an identifier where it is not one).
    """
    graph = onnx.load_model_from_string(onnx_bytes)
    numbers = [
        {"name": n, "input": inputs[n], "kind": "number", "min": b.min, "max": b.max}
        for n, b in data.numeric_features.items()
    ]
    categories = [
        {"name": n, "input": inputs[n], "kind": "category", "known": k} for n, k in data.categorical_features.items()
    ]
    if data.regression:
        answers: dict[str, Any] = {"value_tolerance": onnx_model.VALUE_TOLERANCE}
    else:
        answers = {
            "classes": classes,
            "positive_label": data.positive_label,
            "probability": "of positive_label for two classes, of the predicted label otherwise",
            "probability_tolerance": onnx_model.PROBABILITY_TOLERANCE,
        }
    return {
        "format": METADATA_FORMAT,
        "model_version": version,
        "task": data.task,
        "target": data.target,
        "features": [*numbers, *categories],
        "missing_category": MISSING_CATEGORY,
        **answers,
        "onnx": {
            "file": ONNX_FILE.name,
            "sha256": hashlib.sha256(onnx_bytes).hexdigest(),
            "size_bytes": len(onnx_bytes),
            "opset": ONNX_OPSET[""],  # the default domain's; `opsets` has every domain the graph uses
            "opsets": ONNX_OPSET,
            "ir_version": graph.ir_version,
            "onnx_version": onnx.__version__,
            "skl2onnx_version": skl2onnx.__version__,
            "checked_with_onnxruntime": onnxruntime.__version__,
        },
    }


def write_bytes(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def write_json(path: Path, content: dict[str, Any]) -> None:
    write_bytes(path, (json.dumps(content, indent=2) + "\n").encode("utf-8"))
