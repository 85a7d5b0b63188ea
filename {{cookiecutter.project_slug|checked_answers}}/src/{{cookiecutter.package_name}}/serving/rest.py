"""The REST service: FastAPI over the shared prediction core, every prediction logged to the prediction store.

Built for a small request path: `async` endpoints, request bodies parsed and validated in one pass by pydantic's
Rust JSON parser against models generated from params.yaml, ONNX scoring without pandas, orjson responses, and
the database write left to the store's background thread. Endpoints: POST /predict, POST /feedback, GET /health
(alive), GET /ready (model loaded), GET /metrics (Prometheus), and the Open Inference Protocol's /v2 endpoints
(inference_protocol.py). Set API_KEY to require an `X-API-Key` header on /predict, /feedback and v2 inference.
Scoring, logging and telemetry are the PredictionService's (service.py): this module only speaks HTTP.

`serve` runs WEB_CONCURRENCY worker processes (default 1), each with its own store writer; with more than one, the
Prometheus metrics of every worker are summed through PROMETHEUS_MULTIPROC_DIR (see `run`).
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from time import perf_counter
from typing import Any

import orjson
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError

from .. import __version__
from ..config import Params, load_params, positive_int_from_env
from ..errors import ConfigError, DataValidationError
from ..predictor import Predictor
from ..store import PredictionStore
from . import inference_protocol
from .request_models import RequestModels, build_request_models, max_batch_size_from_env, typical_row
from .service import NotReadyError, PredictionService

API_KEY_ENV = "API_KEY"
API_KEY_HEADER = "x-api-key"
SOURCE = "rest"
ROW_BUDGET_BYTES = 4096  # request bodies may hold this much per allowed instance (pretty-printed JSON included)
WORKERS_ENV = "WEB_CONCURRENCY"  # uvicorn's and gunicorn's own name for it
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's: where each process writes its metrics
APP_FACTORY = "{{ cookiecutter.package_name }}.serving.rest:create_app"
logger = logging.getLogger(__name__)


class Message(BaseModel):
    detail: str


class ErrorItem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationFailure(BaseModel):
    message: str
    detail: list[ErrorItem]


class Accepted(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    model_version: str


def create_app(
    params: Params | None = None,
    predictor: Predictor | None = None,
    *,
    api_key: str | None = None,
    max_batch_size: int | None = None,
    prediction_store_url: str | None = None,
) -> FastAPI:
    """The service. Without `predictor` the champion is loaded at startup; if there is none the service still
    starts (so /health answers and the reason shows on /ready) and /predict answers 503 until restarted."""
    from . import telemetry  # not at import time: its metrics open their files once run() has readied the directory

    params = params or load_params()
    api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    models = build_request_models(params.data, max_batch_size or max_batch_size_from_env())
    body_limit = models.max_batch_size * ROW_BUDGET_BYTES
    # Opened here, not at startup: a wrong store URL fails `serve` in one line before uvicorn starts.
    store = PredictionStore.writer(prediction_store_url)
    service = PredictionService(params.data, SOURCE, store, predictor=predictor, telemetry=telemetry)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if service.predictor is None:
            await run_in_threadpool(service.load, lambda: Predictor.from_champion(params))
        try:
            yield
        finally:
            store.close()  # drains the queue: a graceful shutdown loses no logged prediction
            telemetry.process_exited()

    app = FastAPI(
        title="{{ cookiecutter.project_name }}",
        description="{{ cookiecutter.description }}",
        version=__version__,
        lifespan=lifespan,
    )
    protected: dict[int | str, Any] = (
        {401: {"model": Message, "description": "Missing or wrong X-API-Key header."}} if api_key else {}
    )

    def authorize(request: Request) -> Response | None:
        if api_key and not _authorized(request, api_key):
            return _message(401, "missing or wrong X-API-Key header")
        return None

    async def read_body(request: Request) -> bytes | Response:
        return await _json_body_of(request, body_limit)

    @app.post(
        "/predict",
        summary="Score instances with the champion model",
        openapi_extra=_json_body(models.predict_request),
        responses={
            200: {"model": models.predict_response, "description": "One prediction per instance."},
            **protected,
            413: {"model": Message, "description": f"More than {body_limit} bytes."},
            415: {"model": Message, "description": "The body is not JSON."},
            422: {"model": ValidationFailure, "description": "The body does not match the schema."},
            503: {"model": Message, "description": "No model loaded."},
        },
    )
    async def predict(request: Request) -> Response:
        started = perf_counter()
        refusal = authorize(request)
        if refusal is not None:
            return refusal
        if service.predictor is None:
            service.refused("error", started, 0)
            return _message(503, f"model not loaded: {service.not_ready}")
        body = await read_body(request)
        if isinstance(body, Response):
            service.refused("invalid", started, 0)
            return body
        try:
            payload = models.predict_request.model_validate_json(body)
        except ValidationError as error:
            service.refused("invalid", started, 0)
            return _invalid(error)
        records = payload.model_dump(by_alias=True)["instances"]
        try:
            scored = service.predict_records(records, started)
        except NotReadyError as error:
            return _message(503, str(error))
        except Exception:
            logger.exception("prediction failed")
            return _message(500, "prediction failed; the error is in the service log")
        body: dict[str, object] = {"predictions": scored.labels}
        if scored.probabilities is not None:  # a classifier's
            body |= {"probabilities": scored.probabilities, "class_probabilities": scored.class_probabilities}
        body |= {"prediction_ids": scored.ids, "model_version": scored.model_version}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.post(
        "/feedback",
        status_code=202,
        summary="Record the actual outcome of a prediction",
        openapi_extra=_json_body(models.feedback_request),
        responses={
            202: {"model": Accepted, "description": "Outcome recorded."},
            **protected,
            404: {"model": Message, "description": "Unknown prediction id."},
            413: {"model": Message, "description": f"More than {body_limit} bytes."},
            415: {"model": Message, "description": "The body is not JSON."},
            422: {
                "model": ValidationFailure,
                "description": "The body does not match the schema, or `actual` is not one of the model's classes.",
            },
            503: {"model": Message, "description": "No model loaded (its classes judge `actual`)."},
        },
    )
    async def feedback(request: Request) -> Response:
        refusal = authorize(request)
        if refusal is not None:
            return refusal
        body = await read_body(request)
        if isinstance(body, Response):
            return body
        try:
            outcome = models.feedback_request.model_validate_json(body)
        except ValidationError as error:
            return _invalid(error)
        try:
            known = await run_in_threadpool(service.record_feedback, outcome.prediction_id, outcome.actual)
        except NotReadyError as error:
            return _message(503, str(error))
        except DataValidationError as error:
            return _invalid_field(["actual"], str(error), "value_error.class")
        if not known:
            return _message(404, f"unknown prediction_id {outcome.prediction_id}")
        return Response(orjson.dumps({"status": "recorded"}), status_code=202, media_type="application/json")

    @app.get("/health", summary="Liveness: the process answers", responses={200: {"model": Accepted}})
    async def health() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @app.get(
        "/ready",
        summary="Readiness: a model is loaded",
        responses={200: {"model": Ready}, 503: {"model": Message, "description": "No model loaded."}},
    )
    async def ready() -> Response:
        if service.predictor is None:
            return _message(503, f"model not loaded: {service.not_ready}")
        body = {"status": "ready", "model_version": service.predictor.model_version}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)

    inference_protocol.add_routes(app, service, models, authorize, read_body, protected=protected)
    app.openapi = lambda: _openapi(app, models, api_key is not None, service)  # type: ignore[method-assign]
    return app


def run(host: str, port: int, workers: int | None = None) -> None:
    """Serve until SIGTERM/SIGINT; uvicorn then finishes open requests and the lifespan drains the store.

    One process by default. With `workers` (else WEB_CONCURRENCY) above 1, uvicorn's supervisor starts that many
    worker processes on one socket, each building the app from APP_FACTORY with its own prediction store writer;
    SIGTERM to the supervisor stops each worker gracefully. Their metrics go to PROMETHEUS_MULTIPROC_DIR (a fresh
    temporary directory unless set; emptied at start either way, since old files would add to new counts), so
    /metrics reports the sum over every worker whichever one answers the scrape.
    """
    workers = workers if workers is not None else workers_from_env()
    options: dict[str, Any] = {"access_log": False, "log_config": _log_config(), "server_header": False}
    given = os.environ.get(METRICS_DIR_ENV)
    if workers == 1 and not given:
        uvicorn.run(create_app(), host=host, port=port, **options)
        return
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="prometheus-"))
    _fresh_metrics_directory(directory)
    os.environ[METRICS_DIR_ENV] = str(directory)  # read when telemetry is imported, here or in each worker
    try:
        if workers == 1:
            uvicorn.run(create_app(), host=host, port=port, **options)
        else:
            _check_before_workers()
            uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, **options)
    finally:
        if not given:
            shutil.rmtree(directory, ignore_errors=True)


def _check_before_workers() -> None:
    """Fail in one line before any worker starts, as one process does (params, MAX_BATCH_SIZE, the store URL);
    this also creates the store's tables once, so the workers never race to create them."""
    params = load_params()
    max_batch_size_from_env()
    with PredictionStore.writer() as store:
        PredictionService(params.data, SOURCE, store)


def workers_from_env() -> int:
    return positive_int_from_env(WORKERS_ENV, 1, "worker processes")


def _fresh_metrics_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    except OSError as error:
        raise ConfigError(f"{METRICS_DIR_ENV}={directory}: {error.strerror}") from None


def _authorized(request: Request, api_key: str) -> bool:
    given = request.headers.get(API_KEY_HEADER)
    # Headers arrive as latin-1; compare bytes in constant time so timing leaks nothing about the key.
    return given is not None and secrets.compare_digest(given.encode("latin-1"), api_key.encode("utf-8"))


async def _json_body_of(request: Request, limit: int) -> bytes | Response:
    """The body, or the JSON error to answer with: 415 unless it is JSON, 413 past `limit` bytes.

    Only JSON bodies: a browser page cannot send those cross-site without a CORS preflight. The size is checked
    against Content-Length first, then while reading (a chunked body has no length), so a huge body is never held.
    """
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not (media == "application/json" or (media.startswith("application/") and media.endswith("+json"))):
        return _message(415, "send the body as JSON with the header Content-Type: application/json")
    too_large = _message(413, f"the body is larger than {limit} bytes; send fewer instances per request")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return too_large
    return bytes(body)


def _message(status: int, detail: str) -> Response:
    return Response(orjson.dumps({"detail": detail}), status_code=status, media_type="application/json")


def _invalid_field(loc: list[str | int], message: str, kind: str) -> Response:
    """422 for a value the schema accepts but the model does not know; `message` names the field itself."""
    body = {"message": message, "detail": [{"loc": ["body", *loc], "msg": message, "type": kind}]}
    return Response(orjson.dumps(body), status_code=422, media_type="application/json")


def _invalid(error: ValidationError) -> Response:
    """422 whose `message` names the first offending field, e.g. `instances[0].age: Input should be ...`."""
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    detail = [{"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]} for item in errors]
    first = errors[0]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
    message = f"{where or 'body'}: {first['msg']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
    return Response(
        orjson.dumps({"message": message, "detail": detail}), status_code=422, media_type="application/json"
    )


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The request body as OpenAPI sees it; the endpoint parses it itself (one Rust pass, see _openapi)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": ref}}}}


def _openapi(app: FastAPI, models: RequestModels, secured: bool, service: PredictionService) -> dict[str, Any]:
    """FastAPI's schema plus the generated request models, so clients see every field, type and bound. The example
    request is the champion's training medians once it serves (the schema's bounds before: kept only till then)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (models.predict_request, models.feedback_request):
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(body.pop("$defs", {}))
            components[model.__name__] = body
        if secured:
            schema["components"]["securitySchemes"] = {
                "APIKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
            }
            for path in ("/predict", "/feedback"):
                schema["paths"][path]["post"]["security"] = [{"APIKey": []}]
        inference_protocol.document(schema, service)
        if service.predictor is None:
            return schema
        example = typical_row(service.data, service.predictor.medians)
        components["PredictRequest"]["examples"] = [{"instances": [example]}]
        app.openapi_schema = schema
    return app.openapi_schema


def _log_config() -> dict[str, Any]:
    """uvicorn's logging, extended to this package's loggers (model loading, prediction errors)."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    config["loggers"]["{{ cookiecutter.package_name }}"] = {"handlers": ["default"], "level": "INFO"}
    return config
