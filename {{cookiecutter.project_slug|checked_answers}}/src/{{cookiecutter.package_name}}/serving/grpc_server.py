"""The gRPC service: Predict and Feedback over the shared prediction core, with health, reflection and metrics.

- `grpc.health.v1.Health` says NOT_SERVING until the champion is loaded (in the background, retried every
  MODEL_RETRY_SECONDS while there is none), then SERVING; NOT_SERVING again while shutting down.
- Server reflection lists the services, so `grpcurl` and `grpcui` work without the .proto.
- Every request is logged to the prediction store (source "grpc"): predictions with their inputs, invalid
  requests with status "invalid", failures with status "error".
- Prometheus metrics (serving/telemetry.py) on http://HOST:METRICS_PORT/metrics (default port 9090).
- SIGTERM or SIGINT: stop taking requests, let those in flight finish (GRACE_SECONDS), then write every
  logged prediction to the store before exiting.

Configuration (environment): HOST, PORT (the CLI's options), METRICS_PORT, PREDICTION_STORE_URL, PARAMS_FILE.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from ..config import DataParams, load_params
from ..errors import ConfigError, DataValidationError
from ..predictor import Predictor
from ..store import PredictionStore
from . import prediction_pb2, prediction_pb2_grpc, telemetry
from .grpc_messages import label_message, label_value, records_from_request
from .service import NotReadyError, PredictionService

METRICS_PORT_ENV = "METRICS_PORT"
DEFAULT_METRICS_PORT = 9090
SERVICE_NAME = prediction_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name
WORKERS = 8  # concurrent RPCs; one prediction takes about a millisecond
GRACE_SECONDS = 10.0
MODEL_RETRY_SECONDS = 10.0
SOURCE = "grpc"
NOT_SERVING = "no model loaded yet: the health service says when it is"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
logger = logging.getLogger(__name__)


class PredictionServicer(prediction_pb2_grpc.PredictionServiceServicer):
    """Translates protobuf to the PredictionService and its errors to gRPC status codes; nothing else."""

    def __init__(self, service: PredictionService) -> None:
        self.service = service

    def Predict(
        self, request: prediction_pb2.PredictRequest, context: grpc.ServicerContext
    ) -> prediction_pb2.PredictResponse:
        started = time.perf_counter()
        rows = len(request.instances)
        if self.service.predictor is None:
            self.service.refused("error", started, rows)
            context.abort(grpc.StatusCode.UNAVAILABLE, NOT_SERVING)
        try:
            records = records_from_request(request, self.service.data)
        except DataValidationError as error:
            self.service.refused("invalid", started, rows)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        try:
            scored = self.service.predict_records(records, started)
        except NotReadyError:
            context.abort(grpc.StatusCode.UNAVAILABLE, NOT_SERVING)
        except Exception:  # a bug or a broken model: log it, answer without internals
            logger.exception("prediction request failed")
            context.abort(grpc.StatusCode.INTERNAL, "prediction failed; see the server log")
        if scored.probabilities is None:  # a regressor: the value alone
            predictions = [
                prediction_pb2.Prediction(prediction_id=id_, label=label_message(value))
                for id_, value in zip(scored.ids, scored.labels, strict=True)
            ]
        else:
            predictions = [
                prediction_pb2.Prediction(
                    prediction_id=id_, label=label_message(label), probability=probability, class_probabilities=spread
                )
                for id_, label, probability, spread in zip(
                    scored.ids, scored.labels, scored.probabilities, scored.class_probabilities or [], strict=True
                )
            ]
        return prediction_pb2.PredictResponse(predictions=predictions, model_version=scored.model_version)

    def Feedback(
        self, request: prediction_pb2.FeedbackRequest, context: grpc.ServicerContext
    ) -> prediction_pb2.FeedbackResponse:
        if not request.prediction_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "prediction_id: required")
        actual = label_value(request.actual)
        if actual is None:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT, "actual: set the integer, the text or the number of the real outcome"
            )
        try:
            known = self.service.record_feedback(request.prediction_id, actual)
        except NotReadyError:
            context.abort(grpc.StatusCode.UNAVAILABLE, NOT_SERVING)
        except DataValidationError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        if not known:
            context.abort(grpc.StatusCode.NOT_FOUND, f"prediction_id {request.prediction_id!r}: no such prediction")
        return prediction_pb2.FeedbackResponse()


class GrpcService:
    """The server, its health and its model loader: `start()` returns at once, `stop()` drains everything."""

    def __init__(self, data: DataParams, store: PredictionStore, load: Callable[[], Predictor]) -> None:
        self.store = store
        self.service = PredictionService(data, SOURCE, store, telemetry=telemetry)
        self.servicer = PredictionServicer(self.service)
        self.health = health.HealthServicer()
        self._load = load
        self._stopping = threading.Event()
        self._loader = threading.Thread(target=self._load_champion, name="champion-loader", daemon=True)
        self._executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="grpc")
        # No SO_REUSEPORT: a second server on a busy port must fail, not share it silently.
        self.server = grpc.server(self._executor, options=[("grpc.so_reuseport", 0)])
        prediction_pb2_grpc.add_PredictionServiceServicer_to_server(self.servicer, self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection((SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
        self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)

    def start(self, host: str, port: int) -> int:
        """Listen on host:port (port 0: any free port) and return the port."""
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = self.server.add_insecure_port(address)
        except RuntimeError:
            bound = 0
        if not bound:
            raise ConfigError(f"cannot listen on {address}: the port is in use or the address is not this machine's")
        self.server.start()
        self._loader.start()
        return bound

    def stop(self, grace: float = GRACE_SECONDS) -> None:
        """Refuse new requests, give those in flight `grace` seconds, then write every logged prediction."""
        self._stopping.set()
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()
        self._executor.shutdown(wait=True)  # handlers still running after the grace period log their requests too
        self.store.close()

    def _load_champion(self) -> None:
        while not self._stopping.is_set():
            if not self.service.load(self._load):  # no champion yet, registry unreachable, ...: retry
                logger.warning("retrying in %.0f s", MODEL_RETRY_SECONDS)
                self._stopping.wait(MODEL_RETRY_SECONDS)
                continue
            if not self._stopping.is_set():
                self._set_health(health_pb2.HealthCheckResponse.SERVING)
            return

    def _set_health(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for name in ("", SERVICE_NAME):  # "" is the whole server, as load balancers ask
            self.health.set(name, status)


def metrics_port() -> int:
    raw = os.environ.get(METRICS_PORT_ENV, str(DEFAULT_METRICS_PORT))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{METRICS_PORT_ENV}={raw!r}: expected a port number between 1 and 65535")
    return int(raw)


@contextmanager
def stop_signals() -> Iterator[Callable[[], signal.Signals]]:
    """Yield a function that blocks until SIGTERM or SIGINT arrives, whichever thread the kernel hands it to.

    A Python signal handler runs only in the main thread, and only when that thread runs Python code again: a
    signal delivered to one of gRPC's threads would leave a main thread blocked on a lock asleep. The C-level
    handler always writes the signal number to the wakeup fd, so the main thread waits on that pipe instead.
    """
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in STOP_SIGNALS}

    def wait() -> signal.Signals:
        while (number := os.read(read_end, 1)[0]) not in STOP_SIGNALS:
            pass  # another signal with a Python handler: keep waiting
        return signal.Signals(number)

    try:
        yield wait
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(read_end)
        os.close(write_end)


def run(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully (the CLI's `serve`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    params = load_params()
    metrics_at = metrics_port()
    store = PredictionStore.writer()  # a wrong store URL fails here, in one line, before anything listens
    with stop_signals() as wait_for_signal:
        try:
            metrics, _ = start_http_server(metrics_at, addr=host)
        except OSError as error:
            store.close()
            raise ConfigError(f"cannot serve metrics on {host}:{metrics_at}: {error.strerror}") from None
        service = GrpcService(params.data, store, lambda: Predictor.from_champion(params))
        try:
            bound = service.start(host, port)
            logger.info("gRPC on %s:%d, metrics on http://%s:%d/metrics", host, bound, host, metrics_at)
            received = wait_for_signal()
            logger.info("%s: finishing requests in flight, then writing the prediction log", received.name)
        finally:
            service.stop()
            metrics.shutdown()
            metrics.server_close()
        logger.info("stopped")
