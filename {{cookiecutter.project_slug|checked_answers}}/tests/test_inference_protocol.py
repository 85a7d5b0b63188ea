"""The Open Inference Protocol (KServe v2) endpoints in process: metadata from the schema, the same answers and the
same logging as /predict, the protocol's errors."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.config import Bounds, DataParams, Params
from {{ cookiecutter.package_name }}.predictor import Predictor, parity_sample
from {{ cookiecutter.package_name }}.serving import rest
from {{ cookiecutter.package_name }}.serving.inference_protocol import MODEL_NAME
from {{ cookiecutter.package_name }}.store import read_predictions, read_requests

MODEL_VERSION = "7"  # the conftest predictor's
INFER = f"/v2/models/{MODEL_NAME}/infer"


def rows(data: DataParams, count: int, seed: int = 0) -> list[dict[str, object]]:
    frame = parity_sample(data, rows=count, seed=seed)
    return [{k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]


def tensors(data: DataParams, records: list[dict[str, object]]) -> list[dict[str, object]]:
    """One input tensor per feature, one element per row: what a v2 client sends."""
    numeric = [
        {"name": name, "shape": [len(records)], "datatype": "FP64", "data": [r[name] for r in records]}
        for name in data.numeric_features
    ]
    categorical = [
        {"name": name, "shape": [len(records)], "datatype": "BYTES", "data": [r[name] for r in records]}
        for name in data.categorical_features
    ]
    return numeric + categorical


def outputs(body: dict) -> dict[str, dict]:
    return {tensor["name"]: tensor for tensor in body["outputs"]}


def test_health_and_model_metadata_come_from_the_schema(client: TestClient, predictor: Predictor) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get(f"/v2/models/{MODEL_NAME}/ready").status_code == 200
    meta = client.get(f"/v2/models/{MODEL_NAME}")
    assert meta.status_code == 200, meta.text
    body = meta.json()
    assert body["name"] == MODEL_NAME
    assert body["versions"] == [MODEL_VERSION]
    assert body["platform"] == "onnxruntime_onnx"
    data = predictor.data
    expected = [{"name": n, "datatype": "FP64", "shape": [-1]} for n in data.numeric_features]
    expected += [{"name": n, "datatype": "BYTES", "shape": [-1]} for n in data.categorical_features]
    assert body["inputs"] == expected
    names = [tensor["name"] for tensor in body["outputs"]]
    assert names[0] == "predictions"
    assert names[-1] == "prediction_ids"
    if not data.regression:
        assert names[1:-1] == [f"probability_{label}" for label in predictor.class_names]
    assert client.get(f"/v2/models/{MODEL_NAME}/versions/{MODEL_VERSION}").json() == body
    paths = client.get("/openapi.json").json()["paths"]
    assert [p["schema"]["enum"] for p in paths["/v2/models/{name}/infer"]["post"]["parameters"]] == [[MODEL_NAME]]
    versioned = paths["/v2/models/{name}/versions/{version}"]["get"]["parameters"]
    assert [p["schema"]["enum"] for p in versioned] == [[MODEL_NAME], [MODEL_VERSION]]


@pytest.mark.classification
def test_infer_answers_like_predict_and_logs_identically(serve, predictor: Predictor, store: str) -> None:
    records = rows(predictor.data, 6)
    with serve() as client:  # leaving it shuts the app down, which drains the store
        predicted = client.post("/predict", json={"instances": records}).json()
        response = client.post(INFER, json={"id": "req-1", "inputs": tensors(predictor.data, records)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == MODEL_NAME
    assert body["model_version"] == MODEL_VERSION
    assert body["id"] == "req-1"
    out = outputs(body)
    assert out["predictions"]["data"] == predicted["predictions"]
    assert out["predictions"]["shape"] == [6]
    for label in predictor.class_names:
        tensor = out[f"probability_{label}"]
        assert tensor["datatype"] == "FP64"
        assert tensor["shape"] == [6]
        assert tensor["data"] == [spread[label] for spread in predicted["class_probabilities"]]
    ids = out["prediction_ids"]["data"]
    assert out["prediction_ids"]["datatype"] == "BYTES"
    assert len(set(ids)) == 6
    logged = read_predictions(store).set_index("id")
    features = list(predictor.data.features)
    by_predict = logged.loc[predicted["prediction_ids"], features].reset_index(drop=True)
    by_infer = logged.loc[ids, features].reset_index(drop=True)
    pd.testing.assert_frame_equal(by_predict, by_infer)
    assert logged.loc[ids, "prediction"].tolist() == logged.loc[predicted["prediction_ids"], "prediction"].tolist()
    requests = read_requests(store)
    assert requests["status"].tolist() == ["ok", "ok"]
    assert set(requests["source"]) == {"rest"}


def an_integer_within(bounds: Bounds) -> int | None:
    """The smallest whole number inside the feature's bounds (params.yaml), if it has one."""
    low = math.ceil(bounds.min) if bounds.min is not None else 0
    return low if bounds.max is None or low <= bounds.max else None


def test_shape_n_by_1_integer_numbers_and_requested_outputs(client: TestClient, predictor: Predictor) -> None:
    data = predictor.data
    whole = {name: an_integer_within(bounds) for name, bounds in data.numeric_features.items()}
    records = [{name: whole.get(name) for name in data.features} for _ in range(2)]
    sent = tensors(data, records)
    for tensor in sent:
        tensor["shape"] = [2, 1]
        tensor["data"] = [[value] for value in tensor["data"]]
        if tensor["datatype"] == "FP64" and whole.get(tensor["name"]) is not None:
            tensor["datatype"] = "INT64"
    response = client.post(INFER, json={"inputs": sent, "outputs": [{"name": "predictions"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [tensor["name"] for tensor in body["outputs"]] == ["predictions"]
    assert len(body["outputs"][0]["data"]) == 2
    assert len(body["id"]) == 32


def test_unknown_model_or_version_is_a_404_with_the_protocols_error(client: TestClient, predictor: Predictor) -> None:
    sent = {"inputs": tensors(predictor.data, rows(predictor.data, 1))}
    for response in (
        client.post("/v2/models/no-such-model/infer", json=sent),
        client.get("/v2/models/no-such-model"),
        client.get("/v2/models/no-such-model/ready"),
        client.post(f"/v2/models/{MODEL_NAME}/versions/999/infer", json=sent),
    ):
        assert response.status_code == 404
        assert set(response.json()) == {"error"}


def test_malformed_requests_are_a_400_in_one_line_and_logged_as_invalid(
    serve, predictor: Predictor, store: str
) -> None:
    data = predictor.data
    good = tensors(data, rows(data, 2))
    numeric = next(iter(data.numeric_features))
    bounded = next((n for n, b in data.numeric_features.items() if b.max is not None), None)
    index = next(i for i, tensor in enumerate(good) if tensor["name"] == numeric)

    def changed(**fields: object) -> list[dict[str, object]]:
        copy = [dict(tensor) for tensor in good]
        copy[index] = copy[index] | fields
        return copy

    cases: list[tuple[object, str]] = [
        ({"inputs": changed(datatype="BYTES")}, numeric),
        ({"inputs": changed(shape=[3])}, numeric),
        ({"inputs": changed(data=["1", "2"])}, numeric),
        ({"inputs": good[1:] if index == 0 else good[:index] + good[index + 1 :]}, numeric),
        ({"inputs": [*good, good[0] | {"name": "no_such_feature"}]}, "no_such_feature"),
        ({"inputs": good, "outputs": [{"name": "nothing"}]}, "nothing"),
        ({"inputs": []}, "inputs"),
        ({"instances": []}, "inputs"),  # /predict's body is not a v2 request
    ]
    if bounded is not None:
        top = data.numeric_features[bounded].max
        at = next(i for i, tensor in enumerate(good) if tensor["name"] == bounded)
        wrong = [dict(tensor) for tensor in good]
        wrong[at] = wrong[at] | {"data": [top + 1, top + 1]}
        cases.append(({"inputs": wrong}, f"{bounded!r}[0]"))
    with serve() as client:
        for body, named in cases:
            response = client.post(INFER, json=body)
            assert response.status_code == 400, (body, response.text)
            error = response.json()["error"]
            assert named in error, error
            assert "\n" not in error, error
        invalid_json = client.post(INFER, content=b'{"inputs": [', headers={"Content-Type": "application/json"})
        assert invalid_json.status_code == 400
        assert "\n" not in invalid_json.json()["error"]
        assert client.post(INFER, content=b"inputs", headers={"Content-Type": "text/plain"}).status_code == 415
    assert read_requests(store)["status"].tolist() == ["invalid"] * (len(cases) + 2)


def test_api_key_guards_infer(serve, predictor: Predictor) -> None:
    sent = {"inputs": tensors(predictor.data, rows(predictor.data, 1))}
    with serve(api_key="s3cret") as client:
        refused = client.post(INFER, json=sent)
        assert refused.status_code == 401
        assert set(refused.json()) == {"error"}
        assert client.post(INFER, json=sent, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get(f"/v2/models/{MODEL_NAME}").status_code == 200


@pytest.mark.usefixtures("workspace")
def test_without_a_champion_v2_is_live_but_not_ready(params: Params, store: str, monkeypatch) -> None:
    monkeypatch.delenv(rest.API_KEY_ENV, raising=False)
    with TestClient(rest.create_app(params, prediction_store_url=store)) as client:
        assert client.get("/v2/health/live").status_code == 200
        ready = client.get("/v2/health/ready")
        assert ready.status_code == 400
        assert ready.json()["ready"] is False
        assert client.get(f"/v2/models/{MODEL_NAME}").json()["versions"] == []
        infer = client.post(INFER, json={"inputs": tensors(params.data, rows(params.data, 1))})
        assert infer.status_code == 503
        assert "model not loaded" in infer.json()["error"]


def test_a_regressor_answers_fp64_values(serve, regressor: Predictor) -> None:
    records = rows(regressor.data, 3)
    with serve(predictor=regressor) as client:
        predicted = client.post("/predict", json={"instances": records}).json()
        body = client.post(INFER, json={"inputs": tensors(regressor.data, records)}).json()
        meta = client.get(f"/v2/models/{MODEL_NAME}").json()
    assert [tensor["name"] for tensor in meta["outputs"]] == ["predictions", "prediction_ids"]
    out = outputs(body)
    assert set(out) == {"predictions", "prediction_ids"}
    assert out["predictions"]["datatype"] == "FP64"
    assert out["predictions"]["data"] == predicted["predictions"]


def test_infer_is_counted_in_the_metrics_like_predict(client: TestClient, predictor: Predictor) -> None:
    def ok(text: str) -> float:
        line = 'prediction_requests_total{status="ok"}'
        return sum(float(row.rsplit(" ", 1)[1]) for row in text.splitlines() if row.startswith(line))

    before = ok(client.get("/metrics").text)
    client.post(INFER, json={"inputs": tensors(predictor.data, rows(predictor.data, 3))})
    assert ok(client.get("/metrics").text) == before + 1
