"""Load the raw dataset, validate it against the schema and split it into the train and holdout sets."""

from __future__ import annotations

import lzma
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from .config import DataParams
from .errors import DataValidationError
from .redaction import first_line
from .schema import validate_frame

PREPARED_DIR = Path("data/prepared")
TRAIN_FILE = PREPARED_DIR / "train.csv"
TEST_FILE = PREPARED_DIR / "test.csv"


@dataclass(frozen=True)
class PreparedData:
    train: pd.DataFrame
    test: pd.DataFrame
    dropped_rows: int


UNREADABLE = (
    pd.errors.ParserError,
    pd.errors.EmptyDataError,
    UnicodeDecodeError,
    EOFError,  # a truncated .gz
    OSError,  # a corrupt .gz (BadGzipFile), a directory, no permission
    ValueError,  # pandas' own complaints, e.g. a zip holding several files
    zipfile.BadZipFile,
    lzma.LZMAError,
)


def read_csv(path: Path, *, as_text: bool = False) -> pd.DataFrame:
    """Read a CSV (compressed ones too, by extension), turning every way of failing into one line naming the file.

    `as_text` keeps every cell as written (ids and categories such as "01"), empty cells as missing."""
    if path.is_dir():
        raise DataValidationError(f"{path}: a directory, not a CSV file")
    try:
        return pd.read_csv(path, dtype=str) if as_text else pd.read_csv(path)
    except FileNotFoundError:
        raise DataValidationError(f"{path}: file not found") from None
    except UNREADABLE as exc:
        raise DataValidationError(f"{path}: not a readable CSV ({first_line(exc)})") from None


def prepare(data: DataParams) -> PreparedData:
    """Validated train/test split (stratified by class for classification); rows without a target are dropped and
    counted."""
    frame = validate_frame(read_csv(data.path), data, require_target=True)
    labelled = frame.dropna(subset=[data.target])
    counts = labelled[data.target].value_counts()
    if data.regression:
        if len(counts) < 2:
            raise DataValidationError(f"target {data.target!r} needs at least two distinct values; found {len(counts)}")
        train, test = train_test_split(labelled, test_size=data.test_size, random_state=data.seed)
        return PreparedData(train=train, test=test, dropped_rows=len(frame) - len(labelled))
    if len(counts) < 2:
        raise DataValidationError(f"target {data.target!r} needs at least two classes; found {counts.to_dict()}")
    if data.positive_label not in set(counts.index):
        raise DataValidationError(
            f"data.positive_label {data.positive_label!r} is not a value of {data.target!r}: {sorted(counts.index)}"
        )
    stratify = labelled[data.target] if counts.min() >= 2 else None
    train, test = train_test_split(labelled, test_size=data.test_size, random_state=data.seed, stratify=stratify)
    return PreparedData(train=train, test=test, dropped_rows=len(frame) - len(labelled))


def write_prepared(prepared: PreparedData) -> None:
    PREPARED_DIR.mkdir(parents=True, exist_ok=True)
    prepared.train.to_csv(TRAIN_FILE, index=False)
    prepared.test.to_csv(TEST_FILE, index=False)


def load_split(path: Path, data: DataParams) -> tuple[pd.DataFrame, pd.Series]:
    """Features and target of a prepared split, typed by the schema."""
    frame = validate_frame(read_csv(path), data, require_target=True)
    return frame[data.features], frame[data.target]
