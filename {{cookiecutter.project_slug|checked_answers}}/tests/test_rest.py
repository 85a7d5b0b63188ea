"""The REST service in process (FastAPI's TestClient runs its lifespan): contract, validation, logging, auth.

A small champion is trained once for the session (conftest.py); each test serves it from a scratch workspace with
its own prediction store, which it reads back after the app has shut down.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.config import DataParams, Params
from {{ cookiecutter.package_name }}.data import prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.monitoring.simulate import simulate
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.schema import validate_frame
from {{ cookiecutter.package_name }}.serving import rest
from {{ cookiecutter.package_name }}.serving.request_models import MAX_BATCH_SIZE_ENV, max_batch_size_from_env
from {{ cookiecutter.package_name }}.store import read_outcomes, read_predictions, read_requests
from {{ cookiecutter.package_name }}.tracking import get_tracker
from {{ cookiecutter.package_name }}.train import train

MODEL_VERSION = "7"  # the conftest predictor's
JSON = {"Content-Type": "application/json"}


def rows(data: DataParams, count: int, seed: int = 0) -> list[dict[str, object]]:
    """Rows spread over the schema (missing values and unseen categories included), as JSON-ready records."""
    frame = parity_sample(data, rows=count, seed=seed)
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


@pytest.mark.classification
def test_predict_scores_every_instance_like_the_prediction_core(client: TestClient, predictor: Predictor) -> None:
    instances = rows(predictor.data, 5)
    response = client.post("/predict", json={"instances": instances})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"predictions", "probabilities", "class_probabilities", "prediction_ids", "model_version"}
    assert body["model_version"] == MODEL_VERSION
    expected = predictor.score_frame(validate_frame(pd.DataFrame(instances), predictor.data, require_target=False))
    assert body["predictions"] == expected.labels
    assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-6)
    for sent, wanted in zip(body["class_probabilities"], expected.class_probabilities, strict=True):
        assert sent == pytest.approx(wanted, abs=1e-6)
    assert len(set(body["prediction_ids"])) == 5
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in body["prediction_ids"])


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model_version": MODEL_VERSION}


def test_openapi_documents_every_feature_with_its_type_and_bounds(serve, params: Params) -> None:
    with serve(max_batch_size=50) as client:
        schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    instances = components["PredictRequest"]["properties"]["instances"]
    assert (instances["minItems"], instances["maxItems"]) == (1, 50)
    instance = components["Instance"]
    assert instance["additionalProperties"] is False
    assert set(instance["required"]) == set(params.data.features)
    for name, bounds in params.data.numeric_features.items():
        number = next(t for t in instance["properties"][name]["anyOf"] if t["type"] != "null")
        assert number["type"] == "number"
        if bounds.min is not None:
            assert number["minimum"] == bounds.min
        if bounds.max is not None:
            assert number["maximum"] == bounds.max
    for name, known in params.data.categorical_features.items():
        field = instance["properties"][name]
        assert {t["type"] for t in field["anyOf"]} == {"string", "null"}
        assert all(value in field["description"] for value in known)
    assert "FeedbackRequest" in components


def test_the_documented_example_is_the_training_medians_and_valid(client: TestClient, predictor: Predictor) -> None:
    """The example in /openapi.json reads like the data (medians the imputer learned), and the service accepts it."""
    schema = client.get("/openapi.json").json()
    example = schema["components"]["schemas"]["PredictRequest"]["examples"][0]
    row = example["instances"][0]
    assert set(row) == set(predictor.data.features)
    for name in predictor.data.numeric_features:
        assert row[name] == pytest.approx(predictor.medians[name], rel=1e-5)
    assert client.post("/predict", json=example).status_code == 200


@pytest.mark.classification
def test_boolean_classes_are_json_booleans(serve, boolean_predictor: Predictor) -> None:
    with serve(predictor=boolean_predictor) as client:
        body = {"instances": rows(boolean_predictor.data, 3)}
        answer = client.post("/predict", json=body).json()
        assert {type(label) for label in answer["predictions"]} == {bool}
        prediction_id = answer["prediction_ids"][0]
        assert client.post("/feedback", json={"prediction_id": prediction_id, "actual": True}).status_code == 202
        refused = client.post("/feedback", json={"prediction_id": prediction_id, "actual": 1})
        assert refused.status_code == 422, refused.text
        actual = client.get("/openapi.json").json()["components"]["schemas"]["FeedbackRequest"]["properties"]["actual"]
        assert actual["type"] == "boolean"


def bad_requests(data: DataParams) -> list[tuple[str, object, str]]:
    """(case, body, text the 422 message must contain); every one must be refused without a 500.

    Cases about a kind of column the schema does not have (no categorical feature, no bound) are left out.
    """
    good = rows(data, 1)[0]
    some = next(iter(good))
    cases: list[tuple[str, object, str]] = [
        ("missing feature", {"instances": [{k: v for k, v in good.items() if k != some}]}, some),
        ("unknown feature", {"instances": [good | {"no_such_feature": 1}]}, "no_such_feature"),
        ("empty batch", {"instances": []}, "instances"),
        ("no instances", {}, "instances"),
        ("extra top-level field", {"instances": [good], "debug": True}, "debug"),
        ("instance not an object", {"instances": [1]}, "instances[0]"),
        ("body not an object", [good], "body"),
    ]
    for number in list(data.numeric_features)[:1]:
        cases += [
            ("number as text", {"instances": [good | {number: "12"}]}, f"instances[0].{number}"),
            ("boolean as number", {"instances": [good | {number: True}]}, f"instances[0].{number}"),
        ]
    for bounded, bounds in [(n, b) for n, b in data.numeric_features.items() if b.max is not None][:1]:
        cases += [
            ("out of bounds", {"instances": [good | {bounded: bounds.max + 1}]}, f"instances[0].{bounded}"),
            ("second row bad", {"instances": [good, good | {bounded: -1e30}]}, f"instances[1].{bounded}"),
        ]
    for category in list(data.categorical_features)[:1]:
        cases += [
            ("number as category", {"instances": [good | {category: 3}]}, f"instances[0].{category}"),
            ("huge category", {"instances": [good | {category: "x" * 10_000}]}, f"instances[0].{category}"),
        ]
    return cases


def test_bad_input_is_a_422_naming_the_field_and_is_logged_as_invalid(serve, params: Params, store: str) -> None:
    cases = bad_requests(params.data)
    with serve() as client:
        for case, body, where in cases:
            response = client.post("/predict", json=body)
            assert response.status_code == 422, (case, response.text)
            assert where in response.json()["message"], (case, response.json())
    requests = read_requests(store)
    assert (requests["status"] == "invalid").sum() == len(cases)
    assert (requests["rows"] == 0).all()


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"{", 422),  # malformed JSON
        (b"", 422),  # no body
        (b'{"instances": [{"x": NaN}]}', 422),  # NaN is not JSON
        (b"\xff\xfe", 422),  # not UTF-8
        (b'"instances"', 422),  # JSON, but not an object
    ],
)
def test_malformed_bodies_are_refused(client: TestClient, raw: bytes, status: int) -> None:
    response = client.post("/predict", content=raw, headers=JSON)
    assert response.status_code == status, response.text
    assert response.json()["message"]


def test_non_finite_and_huge_numbers_are_refused(client: TestClient, predictor: Predictor) -> None:
    good = rows(predictor.data, 1)[0]
    number = next(iter(predictor.data.numeric_features))
    template = json.dumps({"instances": [good | {number: "NUMBER"}]})
    for literal in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400):
        raw = template.replace('"NUMBER"', literal)
        response = client.post("/predict", content=raw, headers=JSON)
        assert response.status_code == 422, (literal, response.text)
        message = response.json()["message"]
        assert message.startswith(f"instances[0].{number}: ") or "Invalid JSON" in message, (literal, message)


def test_non_json_content_type_and_oversized_batches_are_refused(serve, predictor: Predictor) -> None:
    with serve(max_batch_size=3) as client:
        text = client.post("/predict", content=b"{}", headers={"Content-Type": "text/plain"})
        assert text.status_code == 415
        too_many = client.post("/predict", json={"instances": rows(predictor.data, 4)})
        assert too_many.status_code == 422
        assert "instances" in too_many.json()["message"]
        limit = 3 * rest.ROW_BUDGET_BYTES
        huge = client.post("/predict", content=b" " * (limit + 1), headers=JSON)  # with Content-Length
        assert huge.status_code == 413
        assert huge.headers["content-type"] == "application/json"
        assert huge.json() == {"detail": f"the body is larger than {limit} bytes; send fewer instances per request"}
        chunked = client.post("/predict", content=iter([b" " * limit, b" "]), headers=JSON)  # no length given
        assert chunked.status_code == 413
        assert chunked.json()["detail"].startswith("the body is larger than")
        feedback = client.post("/feedback", content=b" " * (limit + 1), headers=JSON)
        assert (feedback.status_code, feedback.headers["content-type"]) == (413, "application/json")


def test_every_prediction_reaches_the_store_by_shutdown(serve, predictor: Predictor, store: str) -> None:
    ids = []
    with serve() as client:
        for seed in range(20):
            response = client.post("/predict", json={"instances": rows(predictor.data, 15, seed=seed)})
            ids += response.json()["prediction_ids"]
    predictions = read_predictions(store)
    assert sorted(predictions["id"]) == sorted(ids)
    assert set(predictor.data.features) <= set(predictions.columns)
    assert (predictions["model_version"] == MODEL_VERSION).all()
    requests = read_requests(store)
    assert len(requests) == 20
    assert set(requests["source"]) == {"rest"}
    assert set(requests["status"]) == {"ok"}
    assert requests["rows"].sum() == 300


@pytest.mark.classification
def test_feedback_records_the_actual_outcome(client: TestClient, predictor: Predictor, store: str) -> None:
    answer = client.post("/predict", json={"instances": rows(predictor.data, 2)}).json()
    first = answer["prediction_ids"][0]
    # Straight after the prediction (it may still be queued for the store) and again to correct it.
    label, other = answer["predictions"]
    assert client.post("/feedback", json={"prediction_id": first, "actual": label}).status_code == 202
    assert client.post("/feedback", json={"prediction_id": first, "actual": other}).status_code == 202
    unknown = client.post("/feedback", json={"prediction_id": "0" * 32, "actual": label})
    assert unknown.status_code == 404
    for bad in ({"prediction_id": first}, {"prediction_id": "not-an-id", "actual": 1}, {"actual": 1}, [first]):
        response = client.post("/feedback", json=bad)
        assert response.status_code == 422, (bad, response.text)
    outcomes = read_outcomes(store)
    for _ in range(50):  # the prediction itself reaches the store with the writer's next batch
        if len(outcomes):
            break
        time.sleep(0.05)
        outcomes = read_outcomes(store)
    assert outcomes["id"].tolist() == [first]
    assert outcomes["actual"].tolist() == [other]


@pytest.mark.classification
def test_feedback_that_is_not_a_class_is_a_422_naming_the_classes(
    client: TestClient, predictor: Predictor, classes: list, wrong_class: tuple
) -> None:
    """One `{"actual": 7}` on a 0/1 target would break the performance monitor until someone deleted it."""
    wrong, message = wrong_class
    first = client.post("/predict", json={"instances": rows(predictor.data, 1)}).json()["prediction_ids"][0]
    response = client.post("/feedback", json={"prediction_id": first, "actual": wrong})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"] == message
    assert body["detail"][0]["loc"] == ["body", "actual"]
    other_type = str(classes[0]) if isinstance(classes[0], int) else 1
    for mistyped in (other_type, True, 1.0, None):  # strict: the class's own JSON type only
        assert client.post("/feedback", json={"prediction_id": first, "actual": mistyped}).status_code == 422


def test_api_key_guards_predict_and_feedback_only(serve, predictor: Predictor) -> None:
    body = {"instances": rows(predictor.data, 1)}
    key = "s3cret-ключ"  # not ASCII on purpose: compared as bytes
    with serve(api_key=key) as client:
        assert client.post("/predict", json=body).status_code == 401
        assert client.post("/predict", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
        assert client.post("/feedback", json={}, headers={"X-API-Key": "wrong"}).status_code == 401
        right = {"X-API-Key": key.encode()}
        assert client.post("/predict", json=body, headers=right).status_code == 200
        for path in ("/health", "/ready", "/metrics"):
            assert client.get(path).status_code == 200, path
        schema = client.get("/openapi.json").json()
        assert schema["paths"]["/predict"]["post"]["security"] == [{"APIKey": []}]


def test_api_key_comes_from_the_environment(serve, predictor: Predictor, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rest.API_KEY_ENV, "from-env")
    with serve() as client:
        body = {"instances": rows(predictor.data, 1)}
        assert client.post("/predict", json=body).status_code == 401
        assert client.post("/predict", json=body, headers={"X-API-Key": "from-env"}).status_code == 200


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


@pytest.mark.classification
def test_metrics_count_requests_by_outcome_and_predictions_by_class(client: TestClient, predictor: Predictor) -> None:
    before = client.get("/metrics").text
    client.post("/predict", json={"instances": rows(predictor.data, 4)})
    client.post("/predict", json={"instances": []})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    ok, invalid = 'prediction_requests_total{status="ok"}', 'prediction_requests_total{status="invalid"}'
    assert metric(text, ok) == metric(before, ok) + 1
    assert metric(text, invalid) == metric(before, invalid) + 1
    assert metric(text, "predictions_total{") == metric(before, "predictions_total{") + 4
    count = "prediction_request_duration_seconds_count"
    assert metric(text, count) == metric(before, count) + 2
    assert 'model_info{version="' + MODEL_VERSION + '"} 1.0' in text


@pytest.mark.usefixtures("workspace")
def test_without_a_champion_the_service_starts_but_is_not_ready(params: Params, store: str, monkeypatch) -> None:
    monkeypatch.delenv(rest.API_KEY_ENV, raising=False)
    app = rest.create_app(params, prediction_store_url=store)
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "dvc repro" in ready.json()["detail"]
        predict = client.post("/predict", json={"instances": rows(params.data, 1)})
        assert predict.status_code == 503
        assert "model not loaded" in predict.json()["detail"]
    assert read_requests(store)["status"].tolist() == ["error"]


def test_max_batch_size_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_BATCH_SIZE_ENV, "25")
    assert max_batch_size_from_env() == 25
    for bad in ("0", "-3", "many", ""):
        monkeypatch.setenv(MAX_BATCH_SIZE_ENV, bad)
        with pytest.raises(ConfigError, match=MAX_BATCH_SIZE_ENV):
            max_batch_size_from_env()


@pytest.mark.classification
def test_probabilities_are_finite(client: TestClient, predictor: Predictor) -> None:
    body = client.post("/predict", json={"instances": rows(predictor.data, 50, seed=9)}).json()
    assert all(math.isfinite(p) and 0.0 <= p <= 1.0 for p in body["probabilities"])


@pytest.mark.usefixtures("workspace")
def test_ready_and_the_log_never_show_credentials(
    params: Params, store: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """/ready answers anyone: a tracking URL with user and password must come out as ***."""

    def unreachable(*_: object) -> Predictor:
        raise ConfigError("the MLflow registry at http://admin:hunter2@mlflow:5000 cannot be used: connection refused")

    monkeypatch.delenv(rest.API_KEY_ENV, raising=False)
    monkeypatch.setattr(Predictor, "from_champion", unreachable)
    with TestClient(rest.create_app(params, prediction_store_url=store)) as client:
        ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["detail"] == (
        "model not loaded: the MLflow registry at http://***@mlflow:5000 cannot be used: connection refused"
    )
    assert "hunter2" not in caplog.text
    assert "http://***@mlflow:5000" in caplog.text


def test_a_regressor_answers_one_number_per_instance_and_takes_numbers_as_outcomes(
    serve, regressor: Predictor, store: str
) -> None:
    instances = rows(regressor.data, 4)
    with serve(predictor=regressor) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["PredictResponse"]
        assert set(schema["properties"]) == {"predictions", "prediction_ids", "model_version"}
        body = client.post("/predict", json={"instances": instances}).json()
        assert set(body) == {"predictions", "prediction_ids", "model_version"}
        frame = validate_frame(pd.DataFrame(instances), regressor.data, require_target=False)
        assert body["predictions"] == pytest.approx(regressor.score_frame(frame).labels)
        first = body["prediction_ids"][0]
        assert client.post("/feedback", json={"prediction_id": first, "actual": 12.5}).status_code == 202
        for wrong in ("12.5", True, None):
            response = client.post("/feedback", json={"prediction_id": first, "actual": wrong})
            assert response.status_code == 422, (wrong, response.text)
    assert read_outcomes(store)["actual"].tolist() == [12.5]


def test_send_and_send_outcomes_talk_to_the_running_service(params: Params, store: str, cli, tmp_path) -> None:
    """The shipped client against the real `serve` command: rows in, predictions out, outcomes recorded."""
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    assert evaluate(params, get_tracker()).promoted
    simulate(params, Path("rows.csv"), rows=120, drift=False, labels=True, label_noise=0.0, seed=3)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = os.environ | {"HOST": "127.0.0.1", "PORT": str(port)}
    server = subprocess.Popen([sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"], env=env)
    try:
        deadline = time.monotonic() + 120
        while not _ready(url):
            assert server.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "the service never got ready"
            time.sleep(0.3)
        sent = cli("send", "rows.csv", "--output", "scored.csv", "--url", url)
        assert sent.returncode == 0, sent.stderr
        scored = pd.read_csv("scored.csv")
        assert len(scored) == 120
        assert scored["prediction_id"].str.fullmatch("[0-9a-f]{32}").all()
        assert "actual" in scored.columns  # other columns pass through
        posted = cli("send-outcomes", "scored.csv", "--url", url)
        assert posted.returncode == 0, posted.stderr
        assert posted.stdout.strip() == "120 outcomes recorded"
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert len(read_outcomes(store)) == 120
    nobody = cli("send", "rows.csv", "--output", "x.csv", "--url", "http://127.0.0.1:9")
    assert nobody.returncode == 2
    assert nobody.stderr.startswith("error: no service at http://127.0.0.1:9")
    assert len(nobody.stderr.strip().splitlines()) == 1


def test_two_workers_log_every_prediction_and_sum_their_metrics(params: Params, store: str, tmp_path: Path) -> None:
    """WEB_CONCURRENCY=2: two worker processes, each with its own store writer, on one SQLite file; every answered
    prediction is logged, and /metrics (whichever worker answers it) counts the requests of both."""
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    assert evaluate(params, get_tracker()).promoted
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    metrics_dir = tmp_path / "metrics"
    env = os.environ | {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        rest.WORKERS_ENV: "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    env.pop(rest.API_KEY_ENV, None)
    sent = 60
    body = json.dumps({"instances": rows(params.data, 1)}).encode()
    server = subprocess.Popen([sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve"], env=env)
    try:
        deadline = time.monotonic() + 180
        while not _ready(url):
            assert server.poll() is None, "the service exited"
            assert time.monotonic() < deadline, "the service never got ready"
            time.sleep(0.3)

        def predict(_: int) -> str:
            request = urllib.request.Request(f"{url}/predict", data=body, headers=JSON)  # noqa: S310
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  (a local http URL)
                return json.loads(response.read())["prediction_ids"][0]

        with ThreadPoolExecutor(max_workers=8) as pool:
            answered = list(pool.map(predict, range(sent)))
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310
            text = response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert server.returncode == 0
    assert metric(text, 'prediction_requests_total{status="ok"}') == sent
    assert metric(text, "prediction_request_duration_seconds_count") == sent
    assert len(list(metrics_dir.glob("histogram_*.db"))) == 2  # one file per worker process
    assert sorted(read_predictions(store)["id"]) == sorted(answered)
    assert len(read_requests(store)) == sent


def test_workers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rest.WORKERS_ENV, raising=False)
    assert rest.workers_from_env() == 1
    monkeypatch.setenv(rest.WORKERS_ENV, "3")
    assert rest.workers_from_env() == 3
    for bad in ("0", "-1", "two", ""):
        monkeypatch.setenv(rest.WORKERS_ENV, bad)
        with pytest.raises(ConfigError, match=rest.WORKERS_ENV):
            rest.workers_from_env()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=2) as response:  # noqa: S310  (a local http URL)
            return response.status == 200
    except OSError:
        return False
