"""The gRPC service, for real: a server on a free 127.0.0.1 port, called through the generated stubs."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

import grpc
import pandas as pd
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from {{ cookiecutter.package_name }}.config import DataParams, Params
from {{ cookiecutter.package_name }}.data import TEST_FILE, prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ModelNotFoundError
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.schema import validate_frame
from {{ cookiecutter.package_name }}.serving import grpc_client, prediction_pb2, prediction_pb2_grpc
from {{ cookiecutter.package_name }}.serving.grpc_messages import instance_message, label_message, label_value
from {{ cookiecutter.package_name }}.serving.grpc_server import SERVICE_NAME, GrpcService, run
from {{ cookiecutter.package_name }}.store import PredictionStore, read_outcomes, read_predictions, read_requests
from {{ cookiecutter.package_name }}.tracking import get_tracker
from {{ cookiecutter.package_name }}.train import train

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_status(channel: grpc.Channel, service: str = SERVICE_NAME) -> int:
    request = health_pb2.HealthCheckRequest(service=service)
    return health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status


def wait_until_serving(channel: grpc.Channel, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if health_status(channel) == SERVING:
                return
        except grpc.RpcError:
            pass  # not listening yet
        if time.monotonic() > deadline:
            raise AssertionError(f"not SERVING after {timeout} s")
        time.sleep(0.1)


def request_for(rows: pd.DataFrame, params: Params) -> prediction_pb2.PredictRequest:
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    return prediction_pb2.PredictRequest(instances=[instance_message(row, params.data) for row in records])


@dataclass
class Served:
    service: GrpcService
    port: int
    channel: grpc.Channel
    stopped: bool = False

    @property
    def stub(self) -> prediction_pb2_grpc.PredictionServiceStub:
        return prediction_pb2_grpc.PredictionServiceStub(self.channel)

    def stop(self) -> None:
        """Shut down as on SIGTERM: afterwards every logged request is in the store."""
        if not self.stopped:
            self.stopped = True
            self.channel.close()
            self.service.stop(grace=1.0)


@pytest.fixture
def serve(params: Params, store: str) -> Iterator[Callable[[Callable[[], Predictor]], Served]]:
    """Start a server on a free port whose champion comes from `load`; stopped at teardown."""
    started: list[Served] = []

    def start(load: Callable[[], Predictor]) -> Served:
        service = GrpcService(params.data, PredictionStore.writer(store), load)
        port = service.start("127.0.0.1", 0)
        started.append(Served(service, port, grpc.insecure_channel(f"127.0.0.1:{port}")))
        return started[-1]

    yield start
    for served in started:
        served.stop()


@pytest.fixture
def served(serve: Callable[[Callable[[], Predictor]], Served], predictor: Predictor) -> Served:
    running = serve(lambda: predictor)
    wait_until_serving(running.channel)
    return running


def test_stubs_are_current(tmp_path: Path) -> None:
    """The committed stubs are exactly what `make proto` writes from proto/ (run it after editing the .proto)."""
    pytest.importorskip("grpc_tools", reason="grpcio-tools comes with the dev extra")
    result = subprocess.run(  # noqa: S603 (our own script, fixed arguments)
        [sys.executable, str(PROJECT_ROOT / "proto" / "generate.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    committed = Path(prediction_pb2.__file__).parent
    generated = sorted(path.name for path in tmp_path.iterdir())
    assert generated == ["prediction_pb2.py", "prediction_pb2.pyi", "prediction_pb2_grpc.py"]
    stale = [name for name in generated if (tmp_path / name).read_bytes() != (committed / name).read_bytes()]
    assert not stale, f"stale gRPC stubs {stale}: run `make proto`"


@pytest.mark.classification
def test_predict_scores_like_the_core_and_logs_every_row(
    served: Served, predictor: Predictor, params: Params, store: str
) -> None:
    rows = parity_sample(params.data, rows=25)  # bounds, unknown categories and missing values
    response = served.stub.Predict(request_for(rows, params), timeout=10)

    expected = predictor.score_frame(validate_frame(rows, params.data, require_target=False))
    assert [label_value(p.label) for p in response.predictions] == expected.labels
    assert [p.probability for p in response.predictions] == pytest.approx(expected.probabilities, abs=1e-6)
    for answer, wanted in zip(response.predictions, expected.class_probabilities, strict=True):
        assert dict(answer.class_probabilities) == pytest.approx(wanted, abs=1e-6)
    ids = [p.prediction_id for p in response.predictions]
    assert len(set(ids)) == 25
    assert response.model_version == "7"

    served.stop()
    logged = read_predictions(store)
    assert logged["id"].tolist() == ids
    assert set(logged["model_version"]) == {"7"}
    assert logged[rows.columns].isna().sum().sum() == rows.isna().sum().sum()  # missing values logged as missing
    requests = read_requests(store)
    assert requests[["source", "status", "rows"]].values.tolist() == [["grpc", "ok", 25]]


BAD_INPUTS = ["empty", "unknown", "missing", "text-for-number", "number-for-text", "out-of-bounds", "not-a-number"]


def bad_request(case: str, data: DataParams) -> tuple[prediction_pb2.PredictRequest, str]:
    """A request whose second instance breaks the schema in one way, and what the error must say."""
    if case == "empty":
        return prediction_pb2.PredictRequest(), "instances: send at least one instance"
    number = next(iter(data.numeric_features), None)
    category = next(iter(data.categorical_features), None)
    bounded, high = next(((name, b.max) for name, b in data.numeric_features.items() if b.max is not None), (None, 0))
    needs = {"missing": number, "text-for-number": number, "not-a-number": number}
    needs |= {"number-for-text": category, "out-of-bounds": bounded}
    if case in needs and needs[case] is None:
        pytest.skip(f"the schema has no column for the {case} case")
    row = parity_sample(data, rows=1).iloc[0].to_dict()
    good, bad = instance_message(row, data), instance_message(row, data)
    if case == "unknown":
        bad.features["colour"].text = "red"
        message = "instances[1]: unknown feature(s) 'colour'"
    elif case == "missing":
        del bad.features[number]
        message = f"instances[1]: missing feature(s) '{number}'"
    elif case == "text-for-number":
        bad.features[number].text = "many"
        message = f"instances[1].{number} must be a number; got text 'many'"
    elif case == "number-for-text":
        bad.features[category].number = 3
        message = f"instances[1].{category} must be text"
    elif case == "out-of-bounds":
        bad.features[bounded].number = high + 1
        message = f"instances[1].{bounded} must lie within"
    else:
        bad.features[number].number = math.nan
        message = f"instances[1].{number} must be a finite number"
    return prediction_pb2.PredictRequest(instances=[good, bad]), message


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_refused_naming_the_field(served: Served, params: Params, store: str, case: str) -> None:
    request, message = bad_request(case, params.data)
    with pytest.raises(grpc.RpcError) as refused:
        served.stub.Predict(request, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith(message), refused.value.details()

    served.stop()
    assert read_predictions(store).empty
    assert read_requests(store)[["source", "status"]].values.tolist() == [["grpc", "invalid"]]


@pytest.mark.classification
def test_feedback_records_outcomes_of_known_predictions_only(
    served: Served, params: Params, store: str, wrong_class: tuple
) -> None:
    response = served.stub.Predict(request_for(parity_sample(params.data, rows=2), params), timeout=10)
    first, second = response.predictions
    served.stub.Feedback(prediction_pb2.FeedbackRequest(prediction_id=first.prediction_id, actual=first.label))
    as_text = prediction_pb2.Label(text=str(label_value(second.label)))  # the text form of a class works too
    served.stub.Feedback(prediction_pb2.FeedbackRequest(prediction_id=second.prediction_id, actual=as_text))

    refusals = {
        grpc.StatusCode.NOT_FOUND: prediction_pb2.FeedbackRequest(prediction_id="nope", actual=first.label),
        grpc.StatusCode.INVALID_ARGUMENT: prediction_pb2.FeedbackRequest(
            prediction_id=first.prediction_id, actual=label_message("no-such-class")
        ),
    }
    for code, request in refusals.items():
        with pytest.raises(grpc.RpcError) as refused:
            served.stub.Feedback(request)
        assert refused.value.code() == code, refused.value.details()
    wrong, message = wrong_class
    with pytest.raises(grpc.RpcError) as refused:  # an outcome that is no class would poison the monitor
        served.stub.Feedback(
            prediction_pb2.FeedbackRequest(prediction_id=first.prediction_id, actual=label_message(wrong))
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details() == message

    served.stop()
    outcomes = read_outcomes(store).set_index("id")
    assert outcomes.loc[first.prediction_id, "actual"] == label_value(first.label)
    assert outcomes.loc[second.prediction_id, "actual"] == label_value(second.label)  # stored as the class itself


def test_health_and_reflection(served: Served) -> None:
    assert health_status(served.channel, "") == SERVING
    assert health_status(served.channel) == SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(served.channel)
    answers = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
    names = {service.name for answer in answers for service in answer.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_without_a_champion_it_is_not_serving(serve: Callable[[Callable[[], Predictor]], Served]) -> None:
    def no_champion() -> Predictor:
        raise ModelNotFoundError("no champion yet (run `dvc repro` first)")

    running = serve(no_champion)
    grpc.channel_ready_future(running.channel).result(timeout=10)
    assert health_status(running.channel) == NOT_SERVING
    with pytest.raises(grpc.RpcError) as refused:
        running.stub.Predict(prediction_pb2.PredictRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.usefixtures("prepared")  # it scores the holdout split
def test_client_example_scores_a_csv(served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "scored.csv"
    target = f"127.0.0.1:{served.port}"
    assert grpc_client.main(["--target", target, "--input", str(TEST_FILE), "--output", str(output)]) == 0
    sent, scored = pd.read_csv(TEST_FILE), pd.read_csv(output)
    assert len(scored) == len(sent)
    assert scored["prediction_id"].is_unique
    if served.service.service.data.regression:
        assert "probability" not in scored.columns
        assert pd.api.types.is_float_dtype(scored["prediction"])
    else:
        assert scored["probability"].between(0, 1).all()
    assert set(scored["model_version"].astype(str)) == {"7"}

    capsys.readouterr()
    sent["prediction_id"] = scored["prediction_id"]
    sent["actual"] = sent[served.service.service.data.target]
    sent.to_csv(tmp_path / "outcomes.csv", index=False)
    assert grpc_client.main(["--target", target, "--outcomes", str(tmp_path / "outcomes.csv")]) == 0
    assert capsys.readouterr().out.strip() == f"{len(sent)} outcomes recorded"

    assert grpc_client.main(["--target", target, "--input", "nowhere.csv"]) == 2
    assert capsys.readouterr().err == "error: nowhere.csv: file not found\n"


def test_serve_drains_every_prediction_on_sigterm(
    params: Params, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` end to end, in this process: the real champion, metrics, then SIGTERM right after a burst."""
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    assert evaluate(params, get_tracker()).promoted
    port, metrics_port = free_port(), free_port()
    store = f"sqlite:///{workspace / 'served.db'}"
    monkeypatch.setenv("METRICS_PORT", str(metrics_port))
    monkeypatch.setenv("PREDICTION_STORE_URL", store)
    seen: dict[str, object] = {}

    def client() -> None:
        signalled = False
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                wait_until_serving(channel)
                stub = prediction_pb2_grpc.PredictionServiceStub(channel)
                request = request_for(parity_sample(params.data, rows=200), params)  # enough to keep the log busy
                burst = [stub.Predict.future(request, timeout=30) for _ in range(40)]
                burst[0].result()
                seen["metrics"] = urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
                os.kill(os.getpid(), signal.SIGTERM)
                signalled = True
                answered = [future.result() for future in burst if future.exception() is None]
                seen["ids"] = [p.prediction_id for response in answered for p in response.predictions]
        finally:
            if not signalled and signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
                os.kill(os.getpid(), signal.SIGTERM)  # never leave `run` waiting

    thread = threading.Thread(target=client)
    thread.start()
    run("127.0.0.1", port)  # returns once SIGTERM has been handled
    thread.join(timeout=60)

    assert "prediction-log" not in {t.name for t in threading.enumerate()}, "the prediction log was not closed"
    ids = seen["ids"]
    assert isinstance(ids, list)
    assert len(ids) >= 200  # at least the first request was answered
    logged = set(read_predictions(store)["id"])
    assert set(ids) <= logged, f"{len(set(ids) - logged)} answered predictions missing from the store"
    assert set(read_requests(store)["source"]) == {"grpc"}
    assert 'prediction_requests_total{status="ok"}' in str(seen["metrics"])


def test_a_regressor_answers_a_number_without_probabilities(regressor: Predictor, store: str) -> None:
    service = GrpcService(regressor.data, PredictionStore.writer(store), lambda: regressor)
    port = service.start("127.0.0.1", 0)
    served = Served(service, port, grpc.insecure_channel(f"127.0.0.1:{port}"))
    try:
        wait_until_serving(served.channel)
        rows = parity_sample(regressor.data, rows=5)
        params = Params.model_construct(data=regressor.data)
        response = served.stub.Predict(request_for(rows, params), timeout=10)
        expected = regressor.score_frame(validate_frame(rows, regressor.data, require_target=False))
        assert [p.label.WhichOneof("kind") for p in response.predictions] == ["number"] * 5
        assert [p.label.number for p in response.predictions] == pytest.approx(expected.labels)
        assert not any(p.HasField("probability") or p.class_probabilities for p in response.predictions)
        first = response.predictions[0].prediction_id
        outcome = prediction_pb2.FeedbackRequest(prediction_id=first, actual=prediction_pb2.Label(number=12.5))
        served.stub.Feedback(outcome, timeout=10)
        text = prediction_pb2.FeedbackRequest(prediction_id=first, actual=prediction_pb2.Label(text="high"))
        with pytest.raises(grpc.RpcError) as refused:
            served.stub.Feedback(text, timeout=10)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        served.stop()
