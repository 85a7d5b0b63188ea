"""Edge runtime: score a CSV with the exported ONNX model on a device that has only onnxruntime and numpy.

    python edge_runtime.py --model models/model.onnx --input rows.csv --output predictions.csv

Copy this file, models/model.onnx and models/model.json to the device. It imports the standard library, numpy and
onnxruntime and nothing else (no pandas, no scikit-learn, nothing from this package), so it runs where the
training stack cannot. The model's sha256 must match model.json before the model is loaded: a tampered or
mismatched file is refused.

Input: a header row naming every feature; an empty cell is a missing value (NaN for numbers, the missing-category
token for categories). Rows stream through the csv module in chunks, so memory stays flat. Every input column
passes through to the output, followed by prediction_id, label, probability (of the positive label, or of the
predicted one with more than two classes), model_version and one probability_<class> per class; a regressor's
rows by prediction_id, prediction (the value) and model_version. Bad input stops with one line naming the column
and the row (exit 2) and leaves no output file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import onnxruntime as ort

MODEL_FILE = Path("models/model.onnx")
OUTPUT_COLUMNS = ("prediction_id", "label", "probability", "model_version")
REGRESSION_OUTPUT_COLUMNS = ("prediction_id", "prediction", "model_version")
CHUNK_ROWS = 10_000
LATENCY_CALLS = 200
EXIT_BAD_INPUT = 2


class EdgeError(Exception):
    """Bad input or an unusable model: one line for the user, exit code 2."""


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str  # "number" or "category"
    low: float | None = None
    high: float | None = None
    input: str = ""  # the graph input it feeds: the name, made an identifier where it is not one

    @property
    def graph_input(self) -> str:
        return self.input or self.name


class EdgeModel:
    """The ONNX graph and its metadata, loaded only when the file's sha256 matches model.json."""

    def __init__(self, model_path: Path = MODEL_FILE, metadata_path: Path | None = None) -> None:
        metadata_path = metadata_path or model_path.with_suffix(".json")
        meta = _read_json(metadata_path)
        onnx_bytes = _read_bytes(model_path)  # hash exactly the bytes we load
        try:
            expected = str(meta["onnx"]["sha256"])
            self.version = str(meta["model_version"])
            self.missing = str(meta["missing_category"])
            self.features = [
                Feature(f["name"], f["kind"], f.get("min"), f.get("max"), f.get("input", "")) for f in meta["features"]
            ]
            self.regression = meta.get("task", "classification") == "regression"
            classes = [] if self.regression else list(meta["classes"])
            positive = None if self.regression else meta["positive_label"]
        except (KeyError, TypeError) as exc:
            raise EdgeError(f"{metadata_path}: not the metadata of an exported model (no {exc})") from None
        digest = hashlib.sha256(onnx_bytes).hexdigest()
        if digest != expected:
            raise EdgeError(
                f"{model_path}: sha256 {digest[:16]}... does not match {metadata_path} ({expected[:16]}...): "
                "refusing a tampered or mismatched model"
            )
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a device runs one model; one row is too small to split across threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own unrelated exception types
            raise EdgeError(f"{model_path}: onnxruntime cannot load it ({type(exc).__name__})") from None
        self._check_inputs(metadata_path)
        self.size_bytes = len(onnx_bytes)
        self.positive = classes.index(positive) if len(classes) == 2 and positive in classes else None
        if self.regression:
            self.output_columns = list(REGRESSION_OUTPUT_COLUMNS)
        else:
            self.output_columns = [*OUTPUT_COLUMNS, *(f"probability_{label}" for label in classes)]
        self.boolean = bool(classes) and all(isinstance(label, bool) for label in classes)  # the graph says 0 and 1

    def _check_inputs(self, metadata_path: Path) -> None:
        graph = {node.name: node.type for node in self.session.get_inputs()}
        wanted = {f.graph_input: "tensor(float)" if f.kind == "number" else "tensor(string)" for f in self.features}
        if graph != wanted:
            raise EdgeError(f"{metadata_path}: its features do not match the model's inputs {sorted(graph)}")

    def score(self, columns: dict[str, np.ndarray]) -> tuple[list[Any], list[float], list[list[float]]]:
        """Labels, the probability of the positive label (two classes) or of the predicted label, and every
        class's probability in the order of model.json's classes; a regressor's values, and no probabilities."""
        outputs = self.session.run(None, columns)
        if self.regression:
            return outputs[0].ravel().astype(float).tolist(), [], []
        labels, probabilities = outputs[:2]
        chosen = probabilities.max(axis=1) if self.positive is None else probabilities[:, self.positive]
        labels = labels.astype(bool) if self.boolean else labels
        return labels.tolist(), chosen.astype(float).tolist(), probabilities.astype(float).tolist()

    def answers(self, columns: dict[str, np.ndarray]) -> list[list[Any]]:
        """Each row's cells under `output_columns`, with a fresh prediction id."""
        labels, chosen, spreads = self.score(columns)
        if self.regression:
            return [[uuid.uuid4().hex, round(value, 6), self.version] for value in labels]
        return [
            [uuid.uuid4().hex, label, round(probability, 6), self.version, *(round(p, 6) for p in spread)]
            for label, probability, spread in zip(labels, chosen, spreads, strict=True)
        ]


@dataclass(frozen=True)
class Report:
    rows: int
    output: Path
    model_version: str
    model_kb: float
    rows_per_second: float
    p50_ms: float
    p99_ms: float
    latency_calls: int

    def line(self) -> str:
        latency = (
            f"single-row latency p50 {self.p50_ms:.3f} ms, p99 {self.p99_ms:.3f} ms over {self.latency_calls} calls"
            if self.latency_calls
            else "single-row latency not measured"
        )
        return (
            f"scored {self.rows} rows -> {self.output} with model {self.model_version} ({self.model_kb:.1f} KB); "
            f"batch {self.rows_per_second:,.0f} rows/s; {latency}"
        )


def score_csv(
    input: Path,
    output: Path,
    model: Path = MODEL_FILE,
    *,
    metadata: Path | None = None,
    latency_calls: int = LATENCY_CALLS,
) -> str:
    """Score `input` into `output`; return one line with model size, batch throughput and single-row latency."""
    return score_file(input, output, EdgeModel(model, metadata), latency_calls=latency_calls).line()


def score_file(input: Path, output: Path, model: EdgeModel, *, latency_calls: int = LATENCY_CALLS) -> Report:
    started = time.perf_counter()
    rows = 0
    samples: list[dict[str, np.ndarray]] = []
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=output.parent, suffix=".partial", newline="", delete=False) as sink:
        try:
            with _open_text(input) as source:
                reader = csv.reader(source)
                header = _header(reader, input, model.features)
                kept = [i for i, name in enumerate(header) if name not in model.output_columns]
                writer = csv.writer(sink)
                writer.writerow([*(header[i] for i in kept), *model.output_columns])
                for cells, columns in _chunks(reader, input, header, model):
                    for row, answer in zip(cells, model.answers(columns), strict=True):
                        writer.writerow([*(row[i] for i in kept), *answer])
                    samples += _single_rows(columns, latency_calls - len(samples))
                    rows += len(cells)
            if rows == 0:
                raise EdgeError(f"{input}: no rows to score")
        except BaseException:
            sink.close()
            os.unlink(sink.name)
            raise
    os.replace(sink.name, output)
    elapsed = time.perf_counter() - started
    p50, p99 = _latency(model, samples, latency_calls)
    return Report(rows, output, model.version, model.size_bytes / 1024, rows / elapsed, p50, p99, latency_calls)


def _header(reader: Any, path: Path, features: list[Feature]) -> list[str]:
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError):
        raise EdgeError(f"{path}: not a readable UTF-8 CSV (line 1)") from None
    if not header:
        raise EdgeError(f"{path}: empty file; expected a header row naming the columns")
    missing = [f.name for f in features if f.name not in header]
    if missing:
        raise EdgeError(f"{path}: missing column(s) {', '.join(missing)} in the header (line 1)")
    twice = [f.name for f in features if header.count(f.name) > 1]
    if twice:
        raise EdgeError(f"{path}: column(s) {', '.join(twice)} appear more than once in the header (line 1)")
    return header


def _chunks(
    reader: Any, path: Path, header: list[str], model: EdgeModel
) -> Iterator[tuple[list[list[str]], dict[str, np.ndarray]]]:
    """Rows in chunks of CHUNK_ROWS, with one (rows, 1) numpy column per feature as the ONNX graph wants."""
    positions = [header.index(f.name) for f in model.features]
    cells: list[list[str]] = []
    values: list[list[Any]] = [[] for _ in model.features]
    number = 0
    try:
        for row in reader:
            if not row:
                continue  # a blank line is not a row
            number += 1
            if len(row) != len(header):
                raise EdgeError(
                    f"{path}: row {number} (line {reader.line_num}) has {len(row)} cells; the header has {len(header)}"
                )
            for column, (feature, position) in enumerate(zip(model.features, positions, strict=True)):
                text = row[position]
                try:
                    values[column].append(_value(feature, text, model.missing))
                except ValueError as exc:
                    raise EdgeError(
                        f"{path}: row {number} (line {reader.line_num}): column {feature.name!r} {exc}; found {text!r}"
                    ) from None
            cells.append(row)
            if len(cells) == CHUNK_ROWS:
                yield cells, _columns(model.features, values)
                cells, values = [], [[] for _ in model.features]
    except csv.Error as exc:
        raise EdgeError(f"{path}: not a readable CSV near line {reader.line_num} ({exc})") from None
    except UnicodeDecodeError:
        raise EdgeError(f"{path}: not UTF-8 text") from None
    if cells:
        yield cells, _columns(model.features, values)


def _value(feature: Feature, text: str, missing: str) -> float | str:
    if feature.kind == "category":
        return text if text else missing
    text = text.strip()
    if not text:
        return math.nan
    try:
        number = float(text)
    except ValueError:
        raise ValueError("must be numeric") from None
    if (feature.low is not None and number < feature.low) or (feature.high is not None and number > feature.high):
        raise ValueError(f"must lie within [{feature.low}, {feature.high}]")
    return number


def _columns(features: list[Feature], values: list[list[Any]]) -> dict[str, np.ndarray]:
    return {
        f.graph_input: np.array(column, dtype=np.float32 if f.kind == "number" else object).reshape(-1, 1)
        for f, column in zip(features, values, strict=True)
    }


def _single_rows(columns: dict[str, np.ndarray], wanted: int) -> list[dict[str, np.ndarray]]:
    """Up to `wanted` one-row inputs taken from a scored chunk, for the latency measurement."""
    rows = min(wanted, len(next(iter(columns.values()))))
    return [{name: column[i : i + 1] for name, column in columns.items()} for i in range(max(rows, 0))]


def _latency(model: EdgeModel, samples: list[dict[str, np.ndarray]], calls: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds of `calls` single-row calls, cycling over the sampled rows."""
    if calls <= 0 or not samples:
        return math.nan, math.nan
    for sample in samples[:5]:  # warm-up: the first calls allocate
        model.score(sample)
    timings = np.empty(calls)
    for call in range(calls):
        sample = samples[call % len(samples)]
        begin = time.perf_counter()
        model.score(sample)
        timings[call] = time.perf_counter() - begin
    p50, p99 = np.percentile(timings, [50, 99]) * 1000
    return float(p50), float(p99)


def _open_text(path: Path) -> TextIO:
    try:
        return path.open(encoding="utf-8-sig", newline="")  # -sig: tolerate the byte-order mark spreadsheets add
    except OSError as exc:
        raise EdgeError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise EdgeError(f"{path}: cannot read ({exc.strerror or type(exc).__name__}); export the model first") from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(_read_bytes(path))
    except (ValueError, UnicodeDecodeError):
        raise EdgeError(f"{path}: not valid JSON") from None
    if not isinstance(content, dict):
        raise EdgeError(f"{path}: not the metadata of an exported model")
    return content


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Score a CSV with an exported ONNX model (onnxruntime and numpy).")
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="ONNX file (default: %(default)s)")
    parser.add_argument("--metadata", type=Path, help="its model.json (default: next to the model)")
    parser.add_argument("--input", "-i", type=Path, required=True, help="CSV with a header naming every feature")
    parser.add_argument("--output", "-o", type=Path, required=True, help="CSV to write the predictions to")
    parser.add_argument("--latency-calls", type=int, default=LATENCY_CALLS, help="single-row calls timed (0: none)")
    args = parser.parse_args(argv)
    try:
        print(score_csv(args.input, args.output, args.model, metadata=args.metadata, latency_calls=args.latency_calls))
    except EdgeError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
