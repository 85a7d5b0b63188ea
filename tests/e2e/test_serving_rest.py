"""serving=fastapi, end to end: `python -m <package> serve` on a free port, called over real HTTP.

Requests are built from the project's own params.yaml. The server is stopped with SIGTERM by pid; the prediction
store is then read with the project's own `read_predictions` / `read_requests` (in its virtual environment) and
must hold every prediction the service answered, including a burst still in flight when the signal arrived. One
backend is also fuzzed from the service's OpenAPI schema with schemathesis: no input may produce a 5xx. On that
backend too: the Open Inference Protocol (/v2) answers the same rows exactly as /predict does, and two worker
processes (WEB_CONCURRENCY=2) log every answered prediction and sum their metrics.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import pytest
import yaml

from .conftest import pair_params
from .processes import free_port, running, stop
from .projects import TRACKINGS, Project

PAIRS = [("fastapi", tracking) for tracking in TRACKINGS]
API_KEY = "e2e-secret"
FUZZ_TRACKING = "mlflow"

READ_STORE = textwrap.dedent(
    """
    import json, sys
    from {package}.store import read_outcomes, read_predictions, read_requests
    url = sys.argv[1]
    predictions, requests, outcomes = read_predictions(url), read_requests(url), read_outcomes(url)
    print(json.dumps({{
        "ids": predictions["id"].tolist(),
        "statuses": requests["status"].value_counts().to_dict(),
        "sources": sorted(set(requests["source"])),
        "rows": int(requests["rows"].sum()),
        "outcomes": outcomes["id"].tolist(),
    }}))
    """
)


def call(method: str, url: str, body: object = None, headers: dict[str, str] | None = None, raw: bytes | None = None):
    """(status, parsed JSON or text) of one HTTP request; error statuses are answers too."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urlopen(request, timeout=60) as response:  # local server started by this test
            status, text = response.status, response.read().decode()
    except HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


def ready(base: str) -> bool:
    try:
        return call("GET", f"{base}/ready")[0] == 200
    except (URLError, OSError):
        return False


def schema_rows(project: Project) -> tuple[dict, list[dict[str, object]]]:
    """The schema of params.yaml and two rows built from it: mid-range/known values, then missing/unseen ones."""
    data = yaml.safe_load((project.root / "params.yaml").read_text())["data"]
    first: dict[str, object] = {}
    second: dict[str, object] = {}
    for name, bounds in data["numeric_features"].items():
        low = bounds.get("min", 0.0)
        first[name] = (low + bounds.get("max", low + 100.0)) / 2
        second[name] = None
    for name, known in data["categorical_features"].items():
        first[name] = known[0]
        second[name] = "never-seen-before"
    return data, [first, second]


def metric(text: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def read_store(project: Project, url: str) -> dict:
    result = project.run(project.python, "-c", READ_STORE.format(package=project.package), url)
    return json.loads(result.stdout.strip().splitlines()[-1])


def serve_command(project: Project) -> list[str]:
    return [str(project.python), "-m", project.package, "serve"]


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_rest_service_answers_logs_everything_and_shuts_down_cleanly(
    project, serving: str, tracking: str, tmp_path: Path
) -> None:
    p = project(serving, tracking)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = f"sqlite:///{tmp_path / 'predictions.db'}"
    env = p.env | {"HOST": "127.0.0.1", "PORT": str(port), "API_KEY": API_KEY, "PREDICTION_STORE_URL": store}
    key = {"X-API-Key": API_KEY}
    data, rows = schema_rows(p)
    bounded = next(name for name, bounds in data["numeric_features"].items() if "max" in bounds)
    category = next(iter(data["categorical_features"]))
    answered: list[str] = []

    with running(
        serve_command(p), cwd=p.root, env=env, ready=lambda: ready(base), timeout=300, log=tmp_path / "serve.log"
    ) as server:
        assert call("GET", f"{base}/health")[0] == 200
        status, body = call("GET", f"{base}/ready")
        assert status == 200 and body["status"] == "ready", body
        metrics_before = call("GET", f"{base}/metrics")[1]

        status, body = call("POST", f"{base}/predict", {"instances": rows}, key)
        assert status == 200, body
        assert set(body) == {"predictions", "probabilities", "class_probabilities", "prediction_ids", "model_version"}
        assert len(body["predictions"]) == len(body["probabilities"]) == len(set(body["prediction_ids"])) == 2
        assert all(0.0 <= x <= 1.0 for x in body["probabilities"])
        for spread, probability in zip(body["class_probabilities"], body["probabilities"], strict=True):
            assert set(spread) == {"0", "1"}  # the bundled churn target's classes, keyed as text
            assert abs(spread["1"] - probability) < 1e-9 and abs(sum(spread.values()) - 1.0) < 1e-5
        assert body["model_version"] == call("GET", f"{base}/ready")[1]["model_version"]
        answered += body["prediction_ids"]
        first_id, first_label = body["prediction_ids"][0], body["predictions"][0]

        # Auth: predict and feedback need the key; health, ready and metrics stay open.
        assert call("POST", f"{base}/predict", {"instances": rows})[0] == 401
        assert call("POST", f"{base}/predict", {"instances": rows}, {"X-API-Key": "wrong"})[0] == 401
        assert call("POST", f"{base}/feedback", {"prediction_id": first_id, "actual": first_label})[0] == 401

        # Bad input: a 422 naming the field, never a 500.
        too_big = data["numeric_features"][bounded]["max"] + 1
        for instances, where in [
            ([rows[0] | {bounded: too_big}], f"instances[0].{bounded}"),
            ([rows[0] | {category: 7}], f"instances[0].{category}"),
            ([rows[0] | {"no_such_feature": 1}], "no_such_feature"),
            ([], "instances"),
        ]:
            status, body = call("POST", f"{base}/predict", {"instances": instances}, key)
            assert status == 422, body
            assert where in body["message"], body
        status, body = call("POST", f"{base}/predict", headers=key, raw=b'{"instances": [')
        assert status == 422 and "Invalid JSON" in body["message"], body
        status, body = call("POST", f"{base}/predict", headers=key, raw=b"[1, 2]")
        assert status == 422, body

        # Feedback: recorded (202), unknown id (404), bad body (422).
        assert call("POST", f"{base}/feedback", {"prediction_id": first_id, "actual": first_label}, key)[0] == 202
        assert call("POST", f"{base}/feedback", {"prediction_id": "f" * 32, "actual": first_label}, key)[0] == 404
        assert call("POST", f"{base}/feedback", {"prediction_id": first_id}, key)[0] == 422

        metrics = call("GET", f"{base}/metrics")[1]
        ok, invalid = 'prediction_requests_total{status="ok"}', 'prediction_requests_total{status="invalid"}'
        assert metric(metrics, ok) == metric(metrics_before, ok) + 1
        assert metric(metrics, invalid) == metric(metrics_before, invalid) + 6
        assert metric(metrics, "predictions_total{") == metric(metrics_before, "predictions_total{") + 2
        assert "prediction_request_duration_seconds_bucket" in metrics
        assert 'model_info{version="' in metrics

        # A burst of 300 rows (30 requests, 10 at a time); SIGTERM while the last ones are still in flight.
        batch = [rows[i % 2] for i in range(10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            futures = [pool.submit(call, "POST", f"{base}/predict", {"instances": batch}, key) for _ in range(30)]
            for done, future in enumerate(as_completed(futures), start=1):
                if done == 25:
                    os.kill(server.pid, signal.SIGTERM)
                try:
                    status, body = future.result()
                except (URLError, OSError):
                    continue  # sent after the listener closed: never answered, nothing to log
                if status == 200:
                    answered += body["prediction_ids"]
        returncode = server.wait(timeout=60)

    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log[-4000:]
    assert "Application shutdown complete" in log, log[-4000:]
    # uvicorn re-raises the signal it handled once shutdown is complete, so the parent sees "terminated by SIGTERM".
    assert returncode in (0, -signal.SIGTERM), (returncode, log[-4000:])
    assert len(answered) >= 2 + 250, f"only {len(answered) - 2} burst rows were answered"

    stored = read_store(p, store)
    assert set(answered) <= set(stored["ids"]), f"{len(set(answered) - set(stored['ids']))} answered predictions lost"
    assert stored["sources"] == ["rest"]
    assert stored["statuses"]["invalid"] == 6
    assert stored["rows"] == len(stored["ids"])
    assert stored["outcomes"] == [first_id]


def schemathesis_command() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: install the template's test dependencies")
    return found


@pytest.mark.parametrize(("serving", "tracking"), pair_params([("fastapi", FUZZ_TRACKING)]))
def test_rest_api_survives_fuzzing_from_its_own_openapi_schema(
    project, serving: str, tracking: str, tmp_path: Path
) -> None:
    p = project(serving, tracking)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = p.env | {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "API_KEY": API_KEY,
        "MAX_BATCH_SIZE": "20",  # keeps generated batches small: the fuzzer's time goes to variety, not volume
        "PREDICTION_STORE_URL": f"sqlite:///{tmp_path / 'predictions.db'}",
    }
    checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
    command = [
        schemathesis_command(), "run", f"{base}/openapi.json", "--checks", checks, "--max-examples", "50",
        "--seed", "20261126", "--workers", "1", "--header", f"X-API-Key: {API_KEY}", "--no-color",
        "--generation-database", "none", "--request-timeout", "30",
        # The Open Inference Protocol's infer takes one tensor per feature whose lengths agree: beyond JSON Schema,
        # so nearly every generated body is a (documented) 400; its refusals are tested in test_inference_protocol.py.
        "--exclude-path-regex", "/infer$",
    ]  # fmt: skip
    with running(
        serve_command(p), cwd=p.root, env=env, ready=lambda: ready(base), timeout=300, log=tmp_path / "serve.log"
    ):
        result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "No issues found" in result.stdout, result.stdout[-6000:]
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def v2_inputs(data: dict, rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """The rows as the Open Inference Protocol's named tensors: one per feature, one element per row."""
    numeric = [
        {"name": name, "shape": [len(rows)], "datatype": "FP64", "data": [row[name] for row in rows]}
        for name in data["numeric_features"]
    ]
    categorical = [
        {"name": name, "shape": [len(rows)], "datatype": "BYTES", "data": [row[name] for row in rows]}
        for name in data["categorical_features"]
    ]
    return numeric + categorical


@pytest.mark.parametrize(("serving", "tracking"), pair_params([("fastapi", FUZZ_TRACKING)]))
def test_open_inference_protocol_answers_like_predict(project, serving: str, tracking: str, tmp_path: Path) -> None:
    p = project(serving, tracking)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = f"sqlite:///{tmp_path / 'predictions.db'}"
    env = p.env | {"HOST": "127.0.0.1", "PORT": str(port), "PREDICTION_STORE_URL": store}
    env.pop("API_KEY", None)
    data, rows = schema_rows(p)
    rows = [rows[i % 2] for i in range(6)]  # known and unseen values, numbers and nulls
    with running(
        serve_command(p), cwd=p.root, env=env, ready=lambda: ready(base), timeout=300, log=tmp_path / "serve.log"
    ):
        assert call("GET", f"{base}/v2/health/live") == (200, {"live": True})
        assert call("GET", f"{base}/v2/health/ready") == (200, {"ready": True})
        status, meta = call("GET", f"{base}/v2/models/{p.package}")
        assert status == 200, meta
        features = [*data["numeric_features"], *data["categorical_features"]]
        assert [tensor["name"] for tensor in meta["inputs"]] == features
        status, predicted = call("POST", f"{base}/predict", {"instances": rows})
        assert status == 200, predicted
        infer = f"{base}/v2/models/{p.package}/infer"
        status, inferred = call("POST", infer, {"id": "e2e", "inputs": v2_inputs(data, rows)})
        assert status == 200, inferred
        status, missing = call("POST", f"{base}/v2/models/no-such-model/infer", {"inputs": v2_inputs(data, rows)})
        assert status == 404
        assert set(missing) == {"error"}
        status, bad = call("POST", infer, {"inputs": v2_inputs(data, rows)[1:]})
        assert status == 400
        assert "\n" not in bad["error"]
    outputs = {tensor["name"]: tensor for tensor in inferred["outputs"]}
    assert inferred["model_name"] == p.package
    assert inferred["id"] == "e2e"
    assert inferred["model_version"] == predicted["model_version"] == meta["versions"][0]
    assert outputs["predictions"]["data"] == predicted["predictions"]
    for label in ("0", "1"):
        assert outputs[f"probability_{label}"]["data"] == [spread[label] for spread in predicted["class_probabilities"]]
    stored = read_store(p, store)
    assert set(stored["ids"]) == set(predicted["prediction_ids"]) | set(outputs["prediction_ids"]["data"])
    assert stored["statuses"] == {"ok": 2, "invalid": 1}


WORKER_COUNTS = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from prometheus_client.multiprocess import MultiProcessCollector
    counts = {}
    for path in sorted(Path(sys.argv[1]).glob("counter_*.db")):
        families = MultiProcessCollector.merge([str(path)], accumulate=True)
        counts[path.stem] = sum(
            sample.value for family in families if family.name == "prediction_requests"
            for sample in family.samples if sample.name == "prediction_requests_total"
        )
    print(json.dumps(counts))
    """
)


@pytest.mark.parametrize(("serving", "tracking"), pair_params([("fastapi", FUZZ_TRACKING)]))
def test_two_workers_log_every_answer_and_sum_their_metrics(
    project, serving: str, tracking: str, tmp_path: Path
) -> None:
    """WEB_CONCURRENCY=2 on one SQLite store: every answered prediction is logged once, whichever worker answered,
    and one scrape of /metrics counts the requests of both workers; SIGTERM stops both gracefully."""
    p = project(serving, tracking)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    store = f"sqlite:///{tmp_path / 'predictions.db'}"
    metrics_dir = tmp_path / "metrics"
    env = p.env | {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PREDICTION_STORE_URL": store,
        "WEB_CONCURRENCY": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    env.pop("API_KEY", None)
    data, rows = schema_rows(p)
    sent = 200
    log = tmp_path / "serve.log"

    def one(number: int) -> list[str]:
        if number % 2:
            status, body = call("POST", f"{base}/predict", {"instances": [rows[number % 2]]})
            assert status == 200, body
            return body["prediction_ids"]
        status, body = call("POST", f"{base}/v2/models/{p.package}/infer", {"inputs": v2_inputs(data, rows[:1])})
        assert status == 200, body
        return next(tensor["data"] for tensor in body["outputs"] if tensor["name"] == "prediction_ids")

    def during_shutdown(number: int) -> list[str]:
        """One /predict while the service may be stopping: an answer's ids, or nothing when it was refused."""
        try:
            status, body = call("POST", f"{base}/predict", {"instances": [rows[number % 2]]})
        except (URLError, OSError):  # the workers closed their sockets
            return []
        return body["prediction_ids"] if status == 200 else []

    def both_ready() -> bool:  # a worker takes connections only once its startup (the model's loading) is done
        return ready(base) and log.read_text().count("Application startup complete") == 2

    with running(serve_command(p), cwd=p.root, env=env, ready=both_ready, timeout=300, log=log) as server:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answered = [pid for ids in pool.map(one, range(sent)) for pid in ids]
        metrics = call("GET", f"{base}/metrics")[1]
        # Load again, and SIGTERM by pid in the middle of it: every request answered 200 must be logged.
        with ThreadPoolExecutor(max_workers=8) as pool:
            late = [pool.submit(during_shutdown, number) for number in range(400)]
            while sum(future.done() for future in late) < 50:
                time.sleep(0.01)
            returncode = stop(server)
        during = [pid for future in late for pid in future.result()]
    assert 50 <= len(during) < 400, len(during)  # the signal did arrive in the middle of the load
    answered += during

    text = log.read_text()
    assert "Traceback" not in text, text[-4000:]
    assert text.count("Application shutdown complete") == 2, text[-4000:]  # each worker drained its store writer
    assert returncode == 0, (returncode, text[-4000:])
    assert metric(metrics, 'prediction_requests_total{status="ok"}') == sent
    assert metric(metrics, "prediction_request_duration_seconds_count") == sent
    per_worker = json.loads(p.run(p.python, "-c", WORKER_COUNTS, metrics_dir).stdout.strip().splitlines()[-1])
    assert len(per_worker) == 2, per_worker  # both workers answered requests
    assert sum(per_worker.values()) == sent + len(during), per_worker  # the counters saw the late answers too
    stored = read_store(p, store)
    assert len(answered) == len(set(answered)) == sent + len(during)
    assert sorted(stored["ids"]) == sorted(answered), "an answered prediction was lost at shutdown"
    assert stored["statuses"].get("ok") == len(answered), stored["statuses"]
