"""serving=grpc, end to end: `python -m <package> serve` on a free port, called through the project's own stubs.

The gRPC calls run in the project's virtual environment (a small driver script, below), so they use exactly the
grpcio, protobuf and stubs a user gets; this process only starts, watches and signals the server.
"""

from __future__ import annotations

import csv
import json
import re
import textwrap
from pathlib import Path
from urllib.request import urlopen

import pytest

from .conftest import pair_params
from .processes import free_port, port_open, running
from .projects import TRACKINGS, Project

DRIVER = textwrap.dedent(
    '''
    """Talks to the project's gRPC server with the project's stubs; prints one JSON document."""
    import importlib
    import json
    import os
    import signal
    import sys
    import time

    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    package, command, port = sys.argv[1], sys.argv[2], sys.argv[3]
    pb2 = importlib.import_module(f"{package}.serving.prediction_pb2")
    pb2_grpc = importlib.import_module(f"{package}.serving.prediction_pb2_grpc")
    params = importlib.import_module(f"{package}.config").load_params()
    SERVICE = "prediction.v1.PredictionService"


    def good_rows():
        """Rows built from params.yaml: mid-range numbers and known categories; then missing and unknown values."""
        data = params.data
        first, second = pb2.Instance(), pb2.Instance()
        for name, bounds in data.numeric_features.items():
            low = bounds.min if bounds.min is not None else 0.0
            high = bounds.max if bounds.max is not None else low + 100.0
            first.features[name].number = (low + high) / 2
            second.features[name].CopyFrom(pb2.Value())  # missing
        for name, known in data.categorical_features.items():
            first.features[name].text = known[0]
            second.features[name].text = "never-seen-before"
        return [first, second]


    def refused(call):
        try:
            call()
        except grpc.RpcError as error:
            return [error.code().name, error.details()]
        return ["OK", ""]


    def check(channel):
        stub = pb2_grpc.PredictionServiceStub(channel)
        data = params.data
        number = next(iter(data.numeric_features))
        bounded, bounds = next((n, b) for n, b in data.numeric_features.items() if b.max is not None)
        category = next(iter(data.categorical_features))
        response = stub.Predict(pb2.PredictRequest(instances=good_rows()), timeout=30)
        predictions = [
            {"id": p.prediction_id, "label": getattr(p.label, p.label.WhichOneof("kind")), "probability": p.probability}
            for p in response.predictions
        ]

        def bad(change):
            instance = good_rows()[0]
            change(instance)
            return lambda: stub.Predict(pb2.PredictRequest(instances=[instance]), timeout=30)

        invalid = {
            "unknown": refused(bad(lambda i: i.features["no_such_feature"].CopyFrom(pb2.Value(number=1)))),
            "missing": refused(bad(lambda i: i.features.pop(number))),
            "wrong_type": refused(bad(lambda i: i.features[category].CopyFrom(pb2.Value(number=1)))),
            "out_of_bounds": refused(bad(lambda i: i.features[bounded].CopyFrom(pb2.Value(number=bounds.max + 1)))),
            "empty": refused(lambda: stub.Predict(pb2.PredictRequest(), timeout=30)),
        }
        first = response.predictions[0]
        known = pb2.FeedbackRequest(prediction_id=first.prediction_id, actual=first.label)
        unknown = pb2.FeedbackRequest(prediction_id="f" * 32, actual=first.label)
        feedback = {"known": refused(lambda: stub.Feedback(known)), "unknown": refused(lambda: stub.Feedback(unknown))}
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        services = sorted(s.name for a in answers for s in a.list_services_response.service)
        return {
            "model_version": response.model_version,
            "predictions": predictions,
            "invalid": invalid,
            "invalid_names": {"number": number, "bounded": bounded, "category": category},
            "feedback": feedback,
            "services": services,
        }


    def wait(channel):
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline:
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service=SERVICE), timeout=5).status
            except grpc.RpcError as error:
                status = error.code().name
            if status == health_pb2.HealthCheckResponse.SERVING:
                overall = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5).status
                return {"service": "SERVING", "overall": health_pb2.HealthCheckResponse.ServingStatus.Name(overall)}
            time.sleep(0.2)
        return {"service": str(status)}


    def burst(channel, pid, count):
        """Many requests in flight, SIGTERM as soon as the first is answered; report what was answered."""
        stub = pb2_grpc.PredictionServiceStub(channel)
        futures = [stub.Predict.future(pb2.PredictRequest(instances=good_rows()), timeout=60) for _ in range(count)]
        futures[0].result()
        os.kill(pid, signal.SIGTERM)
        answered = [f.result() for f in futures if f.exception() is None]
        failed = sorted({f.exception().code().name for f in futures if f.exception() is not None})
        return {"ids": [p.prediction_id for r in answered for p in r.predictions], "failed": failed}


    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        if command == "wait":
            result = wait(channel)
        elif command == "check":
            result = check(channel)
        else:
            result = burst(channel, int(sys.argv[4]), int(sys.argv[5]))
    print(json.dumps(result))
    '''
)

READ_STORE = textwrap.dedent(
    """
    import json, sys
    from {package}.store import read_predictions, read_requests
    predictions, requests = read_predictions(sys.argv[1]), read_requests(sys.argv[1])
    print(json.dumps({{
        "ids": predictions["id"].tolist(),
        "requests": requests[["source", "status"]].value_counts().reset_index().values.tolist(),
    }}))
    """
)


def drive(project: Project, driver: Path, *args: object) -> dict:
    result = project.run(project.python, driver, project.package, *map(str, args), timeout=600)
    return json.loads(result.stdout.strip().splitlines()[-1])


def metric(text: str, name: str, labels: str = "") -> float:
    """One sample's value from Prometheus text, 0 when absent."""
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def scrape(port: int) -> str:
    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return response.read().decode()


@pytest.mark.parametrize(("serving", "tracking"), pair_params([("grpc", tracking) for tracking in TRACKINGS]))
def test_grpc_service_end_to_end(project, serving: str, tracking: str, tmp_path: Path) -> None:
    p: Project = project(serving, tracking)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    port, metrics_port = free_port(), free_port()
    store = f"sqlite:///{tmp_path / 'predictions.db'}"
    env = p.env | {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "METRICS_PORT": str(metrics_port),
        "PREDICTION_STORE_URL": store,
    }
    log = tmp_path / "server.log"
    command = [str(p.python), "-m", p.package, "serve"]

    with running(command, cwd=p.root, env=env, ready=lambda: port_open(port), timeout=120, log=log) as server:
        health = drive(p, driver, "wait", port)
        assert health == {"service": "SERVING", "overall": "SERVING"}, log.read_text()[-3000:]

        before = scrape(metrics_port)
        checked = drive(p, driver, "check", port)
        after = scrape(metrics_port)

        # Real predictions, one per instance, with ids, probabilities and the version the metrics also report.
        predictions = checked["predictions"]
        assert len(predictions) == 2
        assert len({pred["id"] for pred in predictions}) == 2
        assert all(re.fullmatch(r"[0-9a-f]{32}", pred["id"]) for pred in predictions)
        assert all(0.0 <= pred["probability"] <= 1.0 for pred in predictions)
        assert checked["model_version"]
        assert metric(after, "model_info", f'version="{checked["model_version"]}"') == 1.0

        # Bad input: INVALID_ARGUMENT with a message naming the field, never a server error.
        names = checked["invalid_names"]
        expected_fields = {
            "unknown": "no_such_feature",
            "missing": names["number"],
            "wrong_type": names["category"],
            "out_of_bounds": names["bounded"],
            "empty": "instances",
        }
        for case, (code, details) in checked["invalid"].items():
            assert code == "INVALID_ARGUMENT", (case, code, details)
            assert expected_fields[case] in details, (case, details)
        assert checked["feedback"] == {"known": ["OK", ""], "unknown": ["NOT_FOUND", checked["feedback"]["unknown"][1]]}
        assert {"prediction.v1.PredictionService", "grpc.health.v1.Health"} <= set(checked["services"])

        # The metrics moved: one good request, five refused ones, all six timed.
        def moved(name: str, labels: str = "") -> float:
            return metric(after, name, labels) - metric(before, name, labels)

        assert moved("prediction_requests_total", 'status="ok"') == 1
        assert moved("prediction_requests_total", 'status="invalid"') == 5
        assert moved("prediction_request_duration_seconds_count") == 6

        # The client example scores the holdout file.
        scored = tmp_path / "scored.csv"
        p.run(
            p.python, "-m", f"{p.package}.serving.grpc_client",
            "--target", f"127.0.0.1:{port}", "--input", "data/prepared/test.csv", "--output", scored,
        )  # fmt: skip
        with (p.root / "data/prepared/test.csv").open(newline="") as sent, scored.open(newline="") as got:
            sent_rows, got_rows = list(csv.DictReader(sent)), list(csv.DictReader(got))
        assert len(got_rows) == len(sent_rows) > 0
        assert len({row["prediction_id"] for row in got_rows}) == len(got_rows)
        client_ids = [row["prediction_id"] for row in got_rows]

        # A burst, then SIGTERM by pid while requests are in flight: whatever was answered must be stored.
        burst = drive(p, driver, "burst", port, server.pid, 60)
        assert server.wait(timeout=60) == 0, log.read_text()[-3000:]  # exited by itself, cleanly

    server_log = log.read_text()
    assert "Traceback" not in server_log, server_log[-3000:]
    assert "SIGTERM" in server_log
    stored = json.loads(
        p.run(p.python, "-c", READ_STORE.format(package=p.package), store).stdout.strip().splitlines()[-1]
    )
    stored_ids = set(stored["ids"])
    answered = [pred["id"] for pred in predictions] + client_ids + burst["ids"]
    assert len(burst["ids"]) >= 2
    missing = [prediction_id for prediction_id in answered if prediction_id not in stored_ids]
    assert not missing, f"{len(missing)} of {len(answered)} answered predictions are not in the store"
    by_status = {(source, status): count for source, status, count in stored["requests"]}
    assert {source for source, _ in by_status} == {"grpc"}
    assert by_status[("grpc", "invalid")] == 5
