"""Client of the gRPC service: send a CSV's rows and print or save the predictions with their ids, or send the real
outcomes of earlier predictions.

    python -m {{ cookiecutter.package_name }}.serving.grpc_client --input rows.csv
        [--target 127.0.0.1:50051] [--output scored.csv] [--batch-rows 256]
    python -m {{ cookiecutter.package_name }}.serving.grpc_client --outcomes scored.csv [--target 127.0.0.1:50051]

Only the schema's feature columns are sent (others, such as the target, are kept in the output but not sent);
the feature types come from params.yaml. Outcomes: `prediction_id` and the real value in `actual` (what
`simulate --labels` writes) or in the target's own column, one Feedback call per row.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import pandas as pd

from ..config import DataParams, load_params
from ..errors import ProjectError
from ..schema import outcome_column, outcome_from_text
from . import prediction_pb2, prediction_pb2_grpc
from .grpc_messages import instance_message, label_message, label_value

BATCH_ROWS = 256
CONNECT_TIMEOUT_SECONDS = 10.0
CALL_TIMEOUT_SECONDS = 30.0


def read_rows(path: Path) -> pd.DataFrame:
    """The CSV as text, so categories such as "01" stay as written; numbers are parsed when sent."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=True)
    except FileNotFoundError:
        raise ProjectError(f"{path}: file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ProjectError(f"{path}: not a readable CSV ({error.__class__.__name__})") from None


def batches(frame: pd.DataFrame, data: DataParams, size: int) -> Iterator[prediction_pb2.PredictRequest]:
    features = [name for name in data.features if name in frame.columns]
    records = frame[features].astype(object).where(frame[features].notna(), None).to_dict("records")
    for start in range(0, len(records), size):
        chunk = records[start : start + size]
        yield prediction_pb2.PredictRequest(instances=[instance_message(row, data) for row in chunk])


def score(target: str, frame: pd.DataFrame, data: DataParams, batch_rows: int = BATCH_ROWS) -> pd.DataFrame:
    """`frame` with prediction_id, prediction, probability (not for regression) and model_version columns added."""
    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_SECONDS)
        except grpc.FutureTimeoutError:
            raise ProjectError(f"no gRPC server at {target} after {CONNECT_TIMEOUT_SECONDS:.0f} s") from None
        stub = prediction_pb2_grpc.PredictionServiceStub(channel)
        answers: list[prediction_pb2.Prediction] = []
        version = ""
        for request in batches(frame, data, batch_rows):
            try:
                response = stub.Predict(request, timeout=CALL_TIMEOUT_SECONDS)
            except grpc.RpcError as error:
                first = len(answers)
                raise ProjectError(f"rows from {first}: {error.code().name}: {error.details()}") from None
            answers.extend(response.predictions)
            version = response.model_version
    scored = frame.assign(
        prediction_id=[p.prediction_id for p in answers], prediction=[label_value(p.label) for p in answers]
    )
    if not data.regression:  # a regressor's answer is the value alone
        scored = scored.assign(probability=[p.probability for p in answers])
    return scored.assign(model_version=version)


def send_outcomes(target: str, frame: pd.DataFrame, data: DataParams) -> tuple[int, int]:
    """One Feedback call per row with an outcome; return (recorded, unknown prediction ids)."""
    column = outcome_column(frame, data, "the outcomes file")
    recorded = unknown = 0
    with grpc.insecure_channel(target) as channel:
        stub = prediction_pb2_grpc.PredictionServiceStub(channel)
        for number, (prediction_id, text) in enumerate(frame[["prediction_id", column]].itertuples(index=False), 1):
            if pd.isna(text):
                continue  # no outcome yet
            actual = label_message(outcome_from_text(str(text), data))
            request = prediction_pb2.FeedbackRequest(prediction_id=str(prediction_id), actual=actual)
            try:
                stub.Feedback(request, timeout=CALL_TIMEOUT_SECONDS)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise ProjectError(f"row {number}: {error.code().name}: {error.details()}") from None
                unknown += 1
            else:
                recorded += 1
    return recorded, unknown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="127.0.0.1:50051", help="host:port of the gRPC server")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--input", type=Path, help="CSV with the schema's feature columns")
    given.add_argument("--outcomes", type=Path, help="CSV with prediction_id and the real value (actual)")
    parser.add_argument("--output", type=Path, help="write the rows with their predictions here (CSV)")
    parser.add_argument("--batch-rows", type=int, default=BATCH_ROWS, help="rows per Predict call")
    args = parser.parse_args(argv)
    try:
        data = load_params().data
        if args.outcomes is not None:
            recorded, unknown = send_outcomes(args.target, read_rows(args.outcomes), data)
            print(f"{recorded} outcomes recorded" + (f"; {unknown} prediction ids unknown" if unknown else ""))
            return 0
        frame = read_rows(args.input)
        if frame.empty:
            raise ProjectError(f"{args.input}: no rows")
        scored = score(args.target, frame, data, max(args.batch_rows, 1))
    except ProjectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        scored.to_csv(args.output, index=False)
        print(f"{len(scored)} predictions by model version {scored['model_version'].iloc[0]} -> {args.output}")
    else:
        shown = [column for column in ("prediction_id", "prediction", "probability") if column in scored.columns]
        print(scored[shown].to_csv(index=False), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
