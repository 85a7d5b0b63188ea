"""The Open Inference Protocol (KServe's "v2" REST protocol, also spoken by MLServer and Triton) beside /predict.

One model, named after the package, with one named input tensor per feature of the schema in params.yaml (shape
[N] or [N, 1], one row per element; BYTES for a categorical feature, FP64 for a numeric one, which also takes
FP32 and INT64/INT32 data) and these outputs: `predictions` (the class, INT64, BYTES or BOOL like the target; a
regressor's FP64 value), for a classifier one `probability_<class>` (FP64) per class, and `prediction_ids`
(BYTES, for /feedback). A null element is a missing value, as in /predict (an extension: the protocol has no nulls).

The tensors become the same records /predict builds, are validated by the same generated request model and go
through the same PredictionService: scored, logged to the prediction store and counted once, like /predict's.
Errors are the protocol's `{"error": "..."}`, one line: 404 for a model or version this server does not serve,
400 for a request it cannot take (naming the tensor and element), 503 while no model is loaded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config import DataParams
from .request_models import RequestModels
from .service import NotReadyError, PredictionService

MODEL_NAME = "{{ cookiecutter.package_name }}"
PLATFORM = "onnxruntime_onnx"
NUMERIC_TYPES = frozenset({"FP64", "FP32", "INT64", "INT32"})
logger = logging.getLogger(__name__)

Authorize = Callable[[Request], Response | None]
"""None when the request may score (the API key, as for /predict), else the 401 that refuses it."""
ReadBody = Callable[[Request], Awaitable[bytes | Response]]
"""The JSON body within /predict's size limit, or the 413/415 that refuses it."""


class _Tensor(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    shape: list[int] = Field(min_length=1, max_length=2)
    datatype: str
    parameters: dict[str, Any] | None = None
    data: list[Any]


class _RequestedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    parameters: dict[str, Any] | None = None


class _InferenceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: list[_Tensor] = Field(min_length=1)
    outputs: list[_RequestedOutput] | None = None


class ProtocolError(Exception):
    """A request the protocol refuses; the message is the one line of `{"error": ...}`."""


def add_routes(
    app: FastAPI,
    service: PredictionService,
    models: RequestModels,
    authorize: Authorize,
    read_body: ReadBody,
    *,
    protected: dict[int | str, Any],
) -> None:
    """Register the v2 endpoints on `app`; infer takes /predict's API key, media type and size checks."""
    data = service.data
    infer_responses: dict[int | str, dict[str, Any]] = {
        200: {"description": "One output tensor per output, one element per row."},
        **protected,
        400: {"description": "The request does not match the model's inputs (one line, in `error`)."},
        404: {"description": "No such model or version here."},
        413: {"description": "The body is too large."},
        415: {"description": "The body is not JSON."},
        503: {"description": "No model loaded."},
    }

    @app.get("/v2/health/live", summary="Open Inference Protocol: server live", tags=["v2"])
    async def live() -> Response:
        return _json(200, {"live": True})

    @app.get(
        "/v2/health/ready",
        summary="Open Inference Protocol: server ready (a model is loaded)",
        tags=["v2"],
        responses={400: {"description": "Not ready: no model loaded."}},
    )
    async def ready() -> Response:
        if service.predictor is None:
            return _json(400, {"ready": False, "error": f"model not loaded: {service.not_ready}"})
        return _json(200, {"ready": True})

    @app.get("/v2", summary="Open Inference Protocol: server metadata", tags=["v2"])
    async def server_metadata() -> Response:
        from .. import __version__

        return _json(200, {"name": MODEL_NAME, "version": __version__, "extensions": []})

    async def check_ready(name: str, version: str | None) -> Response:
        unknown = _unknown(service, name, version)
        if unknown is not None:
            return unknown
        if service.predictor is None:
            return _json(400, {"name": name, "ready": False, "error": f"model not loaded: {service.not_ready}"})
        return _json(200, {"name": name, "ready": True})

    async def describe(name: str, version: str | None) -> Response:
        unknown = _unknown(service, name, version)
        return unknown if unknown is not None else _json(200, metadata(service, name))

    async def score(request: Request, name: str, version: str | None) -> Response:
        started = perf_counter()
        unknown = _unknown(service, name, version)
        if unknown is not None:
            return unknown
        refusal = authorize(request)
        if refusal is not None:
            return _as_error(refusal)
        if service.predictor is None:
            service.refused("error", started, 0)
            return _json(503, {"error": f"model not loaded: {service.not_ready}"})
        body = await read_body(request)
        if isinstance(body, Response):
            service.refused("invalid", started, 0)
            return _as_error(body)
        try:
            parsed = _parse(body)
            records = to_records(parsed, data)
            wanted = _wanted_outputs(parsed, service)
            instances = models.predict_request.model_validate({"instances": records})
        except ProtocolError as error:
            service.refused("invalid", started, 0)
            return _json(400, {"error": str(error)})
        except ValidationError as error:
            service.refused("invalid", started, 0)
            return _json(400, {"error": _first_problem(error)})
        try:
            scored = service.predict_records(instances.model_dump(by_alias=True)["instances"], started)
        except NotReadyError as error:
            return _json(503, {"error": str(error)})
        except Exception:
            logger.exception("prediction failed")
            return _json(500, {"error": "prediction failed; the error is in the service log"})
        outputs = [tensor for tensor in output_tensors(scored, data) if tensor["name"] in wanted]
        answer = {
            "model_name": name,
            "model_version": scored.model_version,
            "id": parsed.id if parsed.id is not None else uuid.uuid4().hex,
            "outputs": outputs,
        }
        return Response(orjson.dumps(answer), media_type="application/json")

    # One route per path, each with only its own path parameters (no `version` query parameter on the unversioned).
    async def model_ready(name: str) -> Response:
        return await check_ready(name, None)

    async def version_ready(name: str, version: str) -> Response:
        return await check_ready(name, version)

    async def model_metadata(name: str) -> Response:
        return await describe(name, None)

    async def version_metadata(name: str, version: str) -> Response:
        return await describe(name, version)

    async def infer(request: Request, name: str) -> Response:
        return await score(request, name, None)

    async def version_infer(request: Request, name: str, version: str) -> Response:
        return await score(request, name, version)

    unknown: dict[int | str, dict[str, Any]] = {404: {"description": "No such model or version here."}}
    not_ready: dict[int | str, dict[str, Any]] = {400: {"description": "Not ready: no model loaded."}, **unknown}
    body = {"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}}
    for prefix, ready_route, metadata_route, infer_route in (
        ("/v2/models/{name}", model_ready, model_metadata, infer),
        ("/v2/models/{name}/versions/{version}", version_ready, version_metadata, version_infer),
    ):
        app.get(f"{prefix}/ready", summary="Open Inference Protocol: model ready", tags=["v2"], responses=not_ready)(
            ready_route
        )
        app.get(prefix, summary="Open Inference Protocol: model metadata", tags=["v2"], responses=unknown)(
            metadata_route
        )
        app.post(
            f"{prefix}/infer",
            summary="Open Inference Protocol: score named input tensors (one per feature)",
            tags=["v2"],
            openapi_extra=body,
            responses=infer_responses,
        )(infer_route)


def document(schema: dict[str, Any], service: PredictionService) -> None:
    """Give /openapi.json the one model name (and, once loaded, the one version) the v2 paths take, so clients and
    API fuzzers see which values are served; any other value still answers the protocol's 404."""
    values = {"name": MODEL_NAME, "version": service.model_version}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v2/models/"):
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                value = values.get(parameter["name"])
                if parameter["in"] == "path" and value is not None:
                    parameter["schema"] = {"type": "string", "enum": [value], "title": parameter["name"].title()}


def metadata(service: PredictionService, name: str = MODEL_NAME) -> dict[str, Any]:
    """The model's metadata: its versions (the loaded one), platform and every input and output tensor."""
    data = service.data
    inputs = [{"name": feature, "datatype": "FP64", "shape": [-1]} for feature in data.numeric_features]
    inputs += [{"name": feature, "datatype": "BYTES", "shape": [-1]} for feature in data.categorical_features]
    versions = [service.model_version] if service.model_version is not None else []
    return {"name": name, "versions": versions, "platform": PLATFORM, "inputs": inputs, "outputs": _outputs(service)}


def _outputs(service: PredictionService) -> list[dict[str, Any]]:
    """The output tensors' metadata: the prediction, one probability per class (a classifier's), the ids."""
    outputs = [{"name": "predictions", "datatype": _label_datatype(service.data), "shape": [-1]}]
    classes = service.predictor.class_names if service.predictor is not None else []
    outputs += [{"name": f"probability_{label}", "datatype": "FP64", "shape": [-1]} for label in classes]
    return [*outputs, {"name": "prediction_ids", "datatype": "BYTES", "shape": [-1]}]


def to_records(request: _InferenceRequest, data: DataParams) -> list[dict[str, object]]:
    """One record per row from one tensor per feature; every problem is a ProtocolError naming the tensor."""
    expected = {name: "FP64" for name in data.numeric_features} | {name: "BYTES" for name in data.categorical_features}
    columns: dict[str, list[Any]] = {}
    rows: int | None = None
    for tensor in request.inputs:
        if tensor.name not in expected:
            raise ProtocolError(f"unexpected input {tensor.name!r}: the inputs are the features {list(expected)}")
        if tensor.name in columns:
            raise ProtocolError(f"input {tensor.name!r} is given twice")
        wanted = expected[tensor.name]
        if not (tensor.datatype == wanted or (wanted == "FP64" and tensor.datatype in NUMERIC_TYPES)):
            raise ProtocolError(f"input {tensor.name!r}: datatype {tensor.datatype} should be {wanted}")
        if tensor.shape[0] < 1 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise ProtocolError(f"input {tensor.name!r}: shape {tensor.shape} should be [N] or [N, 1], N >= 1")
        values = _flatten(tensor.data, tensor.name)
        if len(values) != tensor.shape[0]:
            raise ProtocolError(f"input {tensor.name!r}: {len(values)} elements for shape {tensor.shape}")
        if rows is not None and tensor.shape[0] != rows:
            raise ProtocolError(f"input {tensor.name!r} has {tensor.shape[0]} rows, the others {rows}")
        rows = tensor.shape[0]
        columns[tensor.name] = values
    missing = [name for name in expected if name not in columns]
    if missing:
        raise ProtocolError(f"missing input {missing[0]!r}: send one tensor per feature ({len(expected)})")
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def output_tensors(scored: Any, data: DataParams) -> list[dict[str, Any]]:
    """Every output tensor of a scored request (ScoredRows), in the metadata's order."""
    rows = len(scored.ids)
    labels = scored.labels
    outputs = [{"name": "predictions", "datatype": _label_datatype(data), "shape": [rows], "data": labels}]
    if scored.class_probabilities is not None:
        for label in scored.class_probabilities[0] if rows else []:
            values = [spread[label] for spread in scored.class_probabilities]
            outputs.append({"name": f"probability_{label}", "datatype": "FP64", "shape": [rows], "data": values})
    outputs.append({"name": "prediction_ids", "datatype": "BYTES", "shape": [rows], "data": scored.ids})
    return outputs


def _parse(body: bytes) -> _InferenceRequest:
    try:
        return _InferenceRequest.model_validate_json(body)
    except ValidationError as error:
        raise ProtocolError(_first_problem(error, envelope=True)) from None


def _wanted_outputs(request: _InferenceRequest, service: PredictionService) -> set[str]:
    known = {tensor["name"] for tensor in _outputs(service)}
    if request.outputs is None:
        return known
    asked = {output.name for output in request.outputs}
    unknown = sorted(asked - known)
    if unknown:
        raise ProtocolError(f"unknown output {unknown[0]!r}: the outputs are {sorted(known)}")
    return asked


def _flatten(data: list[Any], name: str) -> list[Any]:
    """Tensor data in row-major order: flat, or nested one level ([[x], [y]] for shape [N, 1])."""
    flat: list[Any] = []
    for item in data:
        if isinstance(item, list):
            if any(isinstance(inner, list | dict) for inner in item):
                raise ProtocolError(f"input {name!r}: data nested deeper than its shape")
            flat.extend(item)
        elif isinstance(item, dict):
            raise ProtocolError(f"input {name!r}: data holds an object, not a value")
        else:
            flat.append(item)
    return flat


def _first_problem(error: ValidationError, *, envelope: bool = False) -> str:
    """One line for the first validation error: `age[3]: Input should be ...`, or where in the envelope."""
    errors = error.errors(include_url=False, include_context=False, include_input=False)
    first = errors[0]
    loc = list(first["loc"])
    if envelope:
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    elif len(loc) >= 3 and loc[0] == "instances" and isinstance(loc[1], int):
        where = f"input {loc[2]!r}[{loc[1]}]"
    else:
        where = "inputs"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'body'}: {first['msg']}{more}"


def _unknown(service: PredictionService, name: str, version: str | None) -> Response | None:
    if name != MODEL_NAME:
        return _json(404, {"error": f"model {name!r} not found: this server serves {MODEL_NAME!r}"})
    if version is not None and version != service.model_version:
        served = service.model_version or "none yet"
        return _json(404, {"error": f"version {version!r} of model {name!r} not found: it serves {served}"})
    return None


def _label_datatype(data: DataParams) -> str:
    if data.regression:
        return "FP64"
    if isinstance(data.positive_label, bool):
        return "BOOL"
    return "INT64" if isinstance(data.positive_label, int) else "BYTES"


def _as_error(response: Response) -> Response:
    """/predict's refusal (`{"detail": ...}`) in the protocol's shape (`{"error": ...}`), same status."""
    detail = orjson.loads(response.body).get("detail", "request refused")
    return _json(response.status_code, {"error": detail})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
