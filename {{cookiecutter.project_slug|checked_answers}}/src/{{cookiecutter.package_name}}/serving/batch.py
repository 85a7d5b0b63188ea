"""Batch scoring: a CSV or Parquet file in, every row out with its prediction, in chunks so memory stays flat.

- Chunks (pandas `read_csv(chunksize=...)`, pyarrow `iter_batches`) go through the same PredictionService as
  every other serving style (validated once, scored, logged) and are appended to the output: a file of any size
  runs in the memory of a chunk or two (the store's backpressure keeps at most one chunk waiting for the database).
- Columns outside the schema (customer ids, the actual outcome, ...) pass through unchanged: a CSV is read as
  text (ids keep their leading zeros), a Parquet file keeps its column types.
- Each row gains prediction_id, prediction, probability (of the positive label, or of the predicted one with
  more than two classes), model_version, then one `probability_<class>` column per class: the whole distribution.
  A regressor's rows gain prediction_id, prediction (the value) and model_version.
- The output is written to a hidden file next to it and renamed at the end, so a failed run never leaves a
  file that looks complete.
- Each chunk is one request in the prediction store (source "batch"), so drift and performance monitoring see
  batch traffic like any other. A chunk that fails validation is logged as "invalid"; the chunks scored before it
  stay logged, because those predictions were made.

For data that lives in Spark, or outgrows what one machine reads in time, see `spark.py`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import Progress

from ..config import DataParams, load_params
from ..errors import DataValidationError, ProjectError
from ..store import PredictionStore
from .service import PredictionService

if TYPE_CHECKING:  # the model stack (scikit-learn, ONNX) is imported only once the files look usable
    from ..predictor import Predictor, ScoredRows

SOURCE = "batch"
OUTPUT_COLUMNS = ("prediction_id", "prediction", "probability", "model_version")
"""What a classifier adds before its per-class columns; a regressor adds these without `probability`."""
NUMERIC_OR_TEXT = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_null,
    pa.types.is_string,
    pa.types.is_large_string,
)


class BatchFileError(ProjectError):
    """An input or output file that cannot be used as given."""


def score_file(
    input: Path,
    output: Path,
    chunk_size: int = 50_000,
    *,
    predictor: Predictor | None = None,
    store_url: str | None = None,
) -> str:
    """Score `input` into `output` chunk by chunk and return a one-line summary.

    `predictor` defaults to the champion, `store_url` to PREDICTION_STORE_URL (tests pass their own).
    """
    started = time.perf_counter()
    open_source, open_sink = _format(input, SOURCES, "input"), _format(output, SINKS, "output")
    if not input.is_file():
        raise BatchFileError(f"{input}: file not found")
    if input.resolve() == output.resolve():
        raise BatchFileError(f"{output}: the output must not overwrite the input")
    data = predictor.data if predictor else load_params().data
    rows = chunks = 0
    with open_source(input, chunk_size) as source:
        check_columns(source.schema, data, input)  # before the model loads: a wrong file fails at once
        with PredictionStore.writer(store_url) as store:  # opened up front: a wrong store URL fails before scoring
            if predictor is None:
                from ..predictor import Predictor

                predictor = Predictor.from_champion()
            check_columns(source.schema, data, input, predictor.class_names)
            service = PredictionService(data, SOURCE, store, predictor=predictor)
            loaded = time.perf_counter()
            output.parent.mkdir(parents=True, exist_ok=True)
            console = Console(stderr=True)  # stdout carries the summary; no bar when stderr goes to a log
            bar = Progress(
                *Progress.get_default_columns(), console=console, transient=True, disable=not console.is_terminal
            )
            with bar, _replaced_on_success(output) as partial, open_sink(partial) as sink:
                task = bar.add_task(f"scoring {input.name}", total=source.total)
                for table in source.chunks():
                    if table.num_rows:
                        scored = _score_chunk(table, rows + 1, data, service, input)
                        sink.write(_with_predictions(table, scored))
                        rows, chunks = rows + table.num_rows, chunks + 1
                    bar.update(task, completed=source.position())
                if not rows:
                    raise BatchFileError(f"{input}: no rows to score")
        # leaving the store's block wrote every scored chunk before we return
    finished = time.perf_counter()
    return (
        f"scored {rows} rows in {chunks} chunks with model version {predictor.model_version} -> {output}"
        f" in {finished - started:.1f} s ({loaded - started:.1f} s loading the model, then"
        f" {rows / (finished - loaded):,.0f} rows/s); logged to the prediction store as source {SOURCE!r}"
    )


def class_columns(class_names: Sequence[str]) -> list[str]:
    """The output column holding each class's probability."""
    return [f"probability_{name}" for name in class_names]


def output_columns(data: DataParams, class_names: Sequence[str] = ()) -> list[str]:
    """The columns scoring appends to every row, in order."""
    if data.regression:
        return [name for name in OUTPUT_COLUMNS if name != "probability"]
    return [*OUTPUT_COLUMNS, *class_columns(class_names)]


def check_columns(schema: pa.Schema, data: DataParams, path: Path, class_names: Sequence[str] = ()) -> None:
    """Fail before scoring anything when the file cannot match the schema or would clash with the output."""
    missing = [name for name in data.features if name not in schema.names]
    if missing:
        raise DataValidationError(f"{path}: missing column(s): {', '.join(missing)}")
    taken = [name for name in output_columns(data, class_names) if name in schema.names]
    if taken:
        raise DataValidationError(f"{path}: has output column(s) {', '.join(taken)} already; rename or drop them")
    for name in data.numeric_features:
        kind = schema.field(name).type
        if not any(accepts(kind) for accepts in NUMERIC_OR_TEXT):  # text is checked value by value
            raise DataValidationError(f"{path}: column {name!r} must be numeric; the file has {kind}")


def _score_chunk(
    table: pa.Table, first_row: int, data: DataParams, service: PredictionService, path: Path
) -> ScoredRows:
    """One chunk is one request to the service (logged ok, invalid or error); errors say which rows."""
    try:
        return service.predict_frame(table.select(data.features).to_pandas())
    except DataValidationError as error:
        last_row = first_row + table.num_rows - 1
        raise DataValidationError(f"{path}: rows {first_row}-{last_row}: {error}") from None


def _with_predictions(table: pa.Table, scored: ScoredRows) -> pa.Table:
    added = {"prediction_id": pa.array(scored.ids, pa.string()), "prediction": pa.array(scored.labels)}
    if scored.probabilities is not None:  # a classifier's
        added["probability"] = pa.array(scored.probabilities, pa.float64())
    added["model_version"] = pa.array([scored.model_version] * table.num_rows, pa.string())
    spread = scored.class_probabilities or []
    names = list(spread[0]) if spread else []
    for name, column in zip(names, class_columns(names), strict=True):
        added[column] = pa.array([row[name] for row in spread], pa.float64())
    for name, values in added.items():
        table = table.append_column(name, values)
    return table.replace_schema_metadata(None)  # pandas metadata of the input would describe the wrong columns


@contextmanager
def _replaced_on_success(output: Path) -> Iterator[Path]:
    """A hidden file next to `output`, renamed to it only when the block succeeds, removed otherwise."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)


# Readers: a `schema` of the columns, `chunks()` as Arrow tables, and progress as `position()` out of `total`.


class Source(Protocol):
    schema: pa.Schema
    total: int

    def chunks(self) -> Iterator[pa.Table]: ...
    def position(self) -> int: ...
    def __enter__(self) -> Source: ...
    def __exit__(self, *exc_info: object) -> None: ...


class CsvSource:
    """Text columns, read `chunk_size` rows at a time; progress in bytes (the row count is unknown up front)."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        self.path, self.chunk_size = path, chunk_size
        self.total = path.stat().st_size
        try:
            self.handle = path.open("rb")
        except OSError as exc:
            raise BatchFileError(f"{path}: cannot open ({exc.strerror})") from None
        try:
            header = self._read(lambda: pd.read_csv(self.handle, nrows=0, dtype=str))
        except BatchFileError:
            self.handle.close()
            raise
        self.schema = pa.schema([(str(name), pa.string()) for name in header.columns])
        self.handle.seek(0)

    def chunks(self) -> Iterator[pa.Table]:
        with pd.read_csv(self.handle, dtype=str, chunksize=self.chunk_size) as reader:
            while (frame := self._read(lambda: next(reader, None))) is not None:
                yield pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)

    def position(self) -> int:
        return self.handle.tell()

    def _read(self, read: Callable[[], pd.DataFrame | None]) -> pd.DataFrame | None:
        """pandas reads ahead of the rows it returns, so its own message (with a line number) says where."""
        try:
            return read()
        except UnicodeDecodeError:
            raise BatchFileError(f"{self.path}: not UTF-8 text; save it as UTF-8") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
            raise BatchFileError(f"{self.path}: not a readable CSV: {_first_line(exc)}") from None

    def __enter__(self) -> CsvSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()


class ParquetSource:
    """Record batches of `chunk_size` rows with the file's own column types; progress in rows."""

    def __init__(self, path: Path, chunk_size: int) -> None:
        self.path, self.chunk_size = path, chunk_size
        try:
            self.file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise BatchFileError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
        self.schema = self.file.schema_arrow.remove_metadata()
        self.total = self.file.metadata.num_rows
        self.done = 0

    def chunks(self) -> Iterator[pa.Table]:
        batches = self.file.iter_batches(batch_size=self.chunk_size)
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise BatchFileError(f"{self.path}: unreadable after row {self.done} ({_first_line(exc)})") from None
            if batch is None:
                return
            self.done += batch.num_rows
            yield pa.Table.from_batches([batch])

    def position(self) -> int:
        return self.done

    def __enter__(self) -> ParquetSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.file.close()


# Writers: append Arrow tables that all have the same columns.


class Sink(Protocol):
    def write(self, table: pa.Table) -> None: ...
    def __enter__(self) -> Sink: ...
    def __exit__(self, *exc_info: object) -> None: ...


class CsvSink:
    def __init__(self, path: Path) -> None:
        self.handle = path.open("w", newline="", encoding="utf-8")
        self.header = True

    def write(self, table: pa.Table) -> None:
        # integer_object_nulls: an integer column with gaps stays "12", not "12.0"
        table.to_pandas(integer_object_nulls=True).to_csv(self.handle, header=self.header, index=False)
        self.header = False

    def __enter__(self) -> CsvSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.handle.close()


class ParquetSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.writer is not None:
            self.writer.close()


SOURCES: dict[str, Callable[[Path, int], Source]] = {".csv": CsvSource, ".parquet": ParquetSource}
SINKS: dict[str, Callable[[Path], Sink]] = {".csv": CsvSink, ".parquet": ParquetSink}


Format = TypeVar("Format")


def _format(path: Path, formats: dict[str, Format], role: str) -> Format:
    try:
        return formats[path.suffix.lower()]
    except KeyError:
        raise BatchFileError(f"{path}: unsupported {role} format; use {' or '.join(formats)}") from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else error.__class__.__name__
