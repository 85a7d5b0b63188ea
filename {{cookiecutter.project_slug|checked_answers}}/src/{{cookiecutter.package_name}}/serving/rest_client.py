"""Client of the REST service: a CSV's rows to /predict, and real outcomes to /feedback, without writing glue.

    python -m {{ cookiecutter.package_name }} send rows.csv --output scored.csv [--url http://127.0.0.1:8000]
    python -m {{ cookiecutter.package_name }} send-outcomes outcomes.csv [--url http://127.0.0.1:8000]

`send` posts the schema's feature columns in batches (numbers as numbers, empty cells as null) and writes every
input row back with prediction_id, prediction, probability (a classifier's) and model_version; other columns (ids,
the outcome) pass through. `send-outcomes` reads `prediction_id` and the real value, in a column named `actual`
(what `simulate --labels` writes) or named like the target, and posts one /feedback each. The API key comes from
API_KEY, as the service reads it. Standard library only (urllib): nothing to install but the project.
"""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

from ..config import DataParams
from ..data import read_csv
from ..errors import DataValidationError, ProjectError
from ..schema import number_or_text, outcome_column, outcome_from_text

DEFAULT_URL = "http://127.0.0.1:8000"
BATCH_ROWS = 500
TIMEOUT_SECONDS = 60.0


class ServiceError(ProjectError):
    """The service could not be reached, or refused a request; the message is its own, in one line."""


def send(path: Path, data: DataParams, url: str = DEFAULT_URL, batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """Every row of `path` with the service's answer appended."""
    frame = read_csv(path, as_text=True)  # passed through as written; numbers are parsed when sent
    missing = [name for name in data.features if name not in frame.columns]
    if missing:
        raise DataValidationError(f"{path}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise DataValidationError(f"{path}: no rows to send")
    answers: dict[str, list[Any]] = {"prediction_id": [], "prediction": [], "probability": [], "model_version": []}
    for start in range(0, len(frame), batch_rows):
        chunk = frame.iloc[start : start + batch_rows]
        body = _post(url, "/predict", {"instances": _instances(chunk, data)}, f"rows {start + 1}-{start + len(chunk)}")
        answers["prediction_id"] += body["prediction_ids"]
        answers["prediction"] += body["predictions"]
        answers["probability"] += body.get("probabilities") or [None] * len(chunk)
        answers["model_version"] += [body["model_version"]] * len(chunk)
    if data.regression:
        del answers["probability"]
    return frame.assign(**answers)


def send_outcomes(path: Path, data: DataParams, url: str = DEFAULT_URL) -> tuple[int, int]:
    """Post each row's outcome; return (recorded, unknown prediction ids)."""
    frame = read_csv(path, as_text=True)
    column = outcome_column(frame, data, path)
    recorded = unknown = 0
    for number, (prediction_id, actual) in enumerate(frame[["prediction_id", column]].itertuples(index=False), 1):
        if pd.isna(actual):
            continue  # no outcome yet for this prediction
        payload = {"prediction_id": str(prediction_id), "actual": outcome_from_text(actual, data)}
        if _post(url, "/feedback", payload, f"row {number}", missing_ok=True) is None:
            unknown += 1
        else:
            recorded += 1
    return recorded, unknown


def _instances(chunk: pd.DataFrame, data: DataParams) -> list[dict[str, Any]]:
    """JSON rows: numbers for numeric features (text that is no number is sent as is, for the service to name),
    categories as written, null for an empty cell."""

    def cell(name: str, text: Any) -> Any:
        if pd.isna(text):
            return None
        return number_or_text(text) if name in data.numeric_features else text

    return [{name: cell(name, text) for name, text in row.items()} for row in chunk[data.features].to_dict("records")]


def _post(url: str, path: str, payload: dict, what: str, *, missing_ok: bool = False) -> dict | None:
    """POST JSON; the answer's body, None for a 404 when `missing_ok`, else ServiceError in one line."""
    if not url.startswith(("http://", "https://")):
        raise ServiceError(f"--url must be an http(s) URL such as {DEFAULT_URL}; got {url!r}")
    headers = {"Content-Type": "application/json"}
    if os.environ.get("API_KEY"):
        headers["X-API-Key"] = os.environ["API_KEY"]
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url.rstrip("/") + path, data=body, headers=headers)  # noqa: S310  (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  (scheme checked)
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        if missing_ok and error.code == 404:
            return None
        raise ServiceError(f"{path} refused {what}: {error.code} {_message(error.read())}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise ServiceError(f"no service at {url} ({reason}); start it with `make serve`") from None


def _message(body: bytes) -> str:
    """The service's one-line `message`, or the body's first line."""
    text = body.decode(errors="replace")
    with contextlib.suppress(ValueError, AttributeError):
        text = json.loads(text).get("message", text)
    return text.splitlines()[0] if text else ""
