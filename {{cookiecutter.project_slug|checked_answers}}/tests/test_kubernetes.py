"""deploy/k8s/ agrees with the image and the code it runs: the manifests parse, each kustomization lists the files
beside it, ports, probes and commands are what the image and the CLI really serve and take, and the pods run as the
image's user on a read-only root, with volumes where it writes.

`kubectl kustomize deploy/k8s/overlays/dev` (or `kubectl apply -k ... --dry-run=server`) checks the rendered whole;
these tests need no cluster and no kustomize."""

from __future__ import annotations

import re
{%- if cookiecutter.serving == "grpc" %}
import time
{%- endif %}
from pathlib import Path
from typing import Any

{% if cookiecutter.serving == "grpc" -%}
import grpc
{% endif -%}
{% if cookiecutter.serving == "fastapi" -%}
import pytest
{% endif -%}
{% if cookiecutter.serving != "edge" -%}
import typer
{% endif -%}
import yaml
{%- if cookiecutter.serving == "fastapi" %}
from fastapi.testclient import TestClient
{%- elif cookiecutter.serving == "grpc" %}
from grpc_health.v1 import health_pb2, health_pb2_grpc
{%- endif %}
{%- if cookiecutter.serving != "edge" %}

from {{ cookiecutter.package_name }}.cli import app
{%- endif %}
{%- if cookiecutter.serving in ["fastapi", "grpc"] %}
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.predictor import Predictor
{%- endif %}
{%- if cookiecutter.serving == "fastapi" %}
from {{ cookiecutter.package_name }}.serving import rest
{%- elif cookiecutter.serving == "grpc" %}
from {{ cookiecutter.package_name }}.serving.grpc_server import DEFAULT_METRICS_PORT, GrpcService
from {{ cookiecutter.package_name }}.store import PredictionStore
{%- endif %}

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
PACKAGE = "{{ cookiecutter.package_name }}"
IMAGE_USER = 10001  # the Dockerfile's USER


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def resource(kind: str, suffix: str = "") -> dict[str, Any]:
    """The one resource of this kind (and name ending) among the base's{{ " and KServe's" if cookiecutter.serving == "fastapi" else "" }}."""
    found = [
        doc
        for path in sorted([*(K8S / "base").glob("*.yaml"), *(K8S / "kserve").glob("*.yaml")])
        for doc in documents(path)
        if doc.get("kind") == kind and doc["metadata"]["name"].endswith(suffix)
    ]
    assert len(found) == 1, (kind, suffix, found)
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def dockerfile_final_stage() -> list[str]:
    """The runtime stage's instructions, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    return [line.strip() for line in text.rsplit("\nFROM ", 1)[1].splitlines() if line.strip()]


def dockerfile(keyword: str) -> str:
    return [line for line in dockerfile_final_stage() if line.startswith(keyword + " ")][-1].partition(" ")[2]


def image_env() -> dict[str, str]:
    env = " ".join(line for line in dockerfile_final_stage() if line.startswith("ENV "))
    return dict(re.findall(r"(\w+)=(\S+)", env))


def test_manifests_parse_and_kustomizations_list_files_that_exist() -> None:
    kustomizations = sorted(K8S.rglob("kustomization.yaml"))
    directories = {path.parent.relative_to(K8S).as_posix() for path in kustomizations}
    assert directories >= {"base", "overlays/dev", "overlays/prod"}
    for path in kustomizations:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert spec["kind"] == "Kustomization"
        listed = {(path.parent / entry).resolve() for entry in spec.get("resources", [])}
        assert all(entry.exists() for entry in listed), path
        # Every manifest beside the kustomization is one of its resources: none lies around unused.
        beside = {p.resolve() for p in path.parent.glob("*.yaml") if p.name != "kustomization.yaml"}
        assert beside <= listed, path
    for path in K8S.rglob("*.yaml"):
        for doc in documents(path):
            assert {"apiVersion", "kind"} <= set(doc), path


def test_pods_run_as_the_image_user_with_a_read_only_root() -> None:
    assert dockerfile("USER") == f"{IMAGE_USER}:{IMAGE_USER}"
    workloads = [doc for path in sorted(K8S.rglob("*.yaml")) for doc in documents(path)]
    pods = [pod_spec(doc) for doc in workloads if doc["kind"] in {"Deployment", "Job", "CronJob"}]
    pods += [doc["spec"]["predictor"] for doc in workloads if doc["kind"] == "InferenceService"]
    assert pods
    for pod in pods:
        assert pod["securityContext"]["runAsUser"] == IMAGE_USER
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts  # noqa: S108  (a volume, not a file in /tmp)
{%- if cookiecutter.serving in ["fastapi", "grpc"] %}
            if container["name"] in {"server", "kserve-container"}:
                store = image_env()["PREDICTION_STORE_URL"].removeprefix("sqlite:///")
                assert str(Path(store).parent) in mounts  # the SQLite prediction log's directory
{%- else %}
            if container["name"] == "scoring":
                assert "/data" in mounts  # input, output{{ " and the default prediction log" if cookiecutter.serving == "batch" else "" }}
{%- endif %}
{%- if cookiecutter.serving in ["fastapi", "grpc"] %}


def test_ports_are_the_images() -> None:
    [container] = pod_spec(resource("Deployment"))["containers"]
    assert "command" not in container  # the image's CMD starts the service
    assert "args" not in container
    assert yaml.safe_load(dockerfile("CMD")) == ["python", "-m", PACKAGE, "serve"]
    env = image_env()
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert set(ports.values()) == {int(port) for port in dockerfile("EXPOSE").split()}
{%- if cookiecutter.serving == "fastapi" %}
    assert ports == {"http": int(env["PORT"])}
{%- else %}
    assert ports == {"grpc": int(env["PORT"]), "metrics": int(env["METRICS_PORT"])}
    assert int(env["METRICS_PORT"]) == DEFAULT_METRICS_PORT
{%- endif %}
    annotations = resource("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert int(annotations["prometheus.io/port"]) == ports["{{ 'http' if cookiecutter.serving == 'fastapi' else 'metrics' }}"]
    assert annotations["prometheus.io/path"] == "/metrics"
    service = resource("Service")
    assert {port["targetPort"] for port in service["spec"]["ports"]} == set(ports)
{%- endif %}
{%- if cookiecutter.serving == "fastapi" %}


@pytest.mark.parametrize("kind", ["Deployment", "InferenceService"])
def test_probes_ask_what_the_running_service_answers(
    kind: str, params: Params, predictor: Predictor, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workload = resource(kind)
    [container] = (workload["spec"]["predictor"] if kind == "InferenceService" else pod_spec(workload))["containers"]
    ports = {port.get("name"): port["containerPort"] for port in container["ports"]}
    monkeypatch.delenv(rest.API_KEY_ENV, raising=False)
    schema = params.model_copy(update={"data": predictor.data})  # the served model's
    application = rest.create_app(schema, predictor, prediction_store_url=store)
    with TestClient(application) as client:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            action = container[probe]["httpGet"]
            port = action["port"]
            assert (ports[port] if isinstance(port, str) else port) == int(image_env()["PORT"]), probe
            assert client.get(action["path"]).status_code == 200, probe
        assert client.get("/metrics").status_code == 200
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
{%- elif cookiecutter.serving == "grpc" %}


def test_readiness_asks_the_health_service_the_server_runs(params: Params, predictor: Predictor, store: str) -> None:
    [container] = pod_spec(resource("Deployment"))["containers"]
    probe = container["readinessProbe"]["grpc"]
    assert probe["port"] == int(image_env()["PORT"])
    service = GrpcService(params.data, PredictionStore.writer(store), lambda: predictor)
    port = service.start("127.0.0.1", 0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    request = health_pb2.HealthCheckRequest(service=probe.get("service", ""))  # what the kubelet asks
    try:
        deadline = time.monotonic() + 120
        while True:
            status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=5).status
            if status == health_pb2.HealthCheckResponse.SERVING or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == health_pb2.HealthCheckResponse.SERVING
    finally:
        channel.close()
        service.stop(grace=1.0)
{%- else %}


def test_the_job_passes_the_image_entrypoint_its_options() -> None:
    workload = resource("{{ 'CronJob' if cookiecutter.serving == 'batch' else 'Job' }}", "-scoring")
    [container] = pod_spec(workload)["containers"]
    assert "command" not in container  # the image's ENTRYPOINT stays
{%- if cookiecutter.serving == "batch" %}
    assert yaml.safe_load(dockerfile("ENTRYPOINT")) == ["python", "-m", PACKAGE, "predict"]
    options = {opt for param in typer.main.get_command(app).commands["predict"].params for opt in param.opts}
{%- else %}
    assert yaml.safe_load(dockerfile("ENTRYPOINT")) == ["python", "edge_runtime.py"]
    runtime = (ROOT / "src" / PACKAGE / "serving" / "edge_runtime.py").read_text(encoding="utf-8")
    options = set(re.findall(r'add_argument\("(--[\w-]+)"', runtime))
{%- endif %}
    args = container["args"]
    assert args == yaml.safe_load(dockerfile("CMD"))
    assert {arg for arg in args if arg.startswith("--")} <= options
{%- endif %}
{%- if cookiecutter.serving != "edge" %}


def test_monitoring_cronjob_runs_this_clis_checks() -> None:
    containers = pod_spec(resource("CronJob", "-monitoring"))["containers"]
    commands = set(typer.main.get_command(app).commands)
    checks = [container["command"] for container in containers]
    assert checks == [["python", "-m", PACKAGE, "drift"], ["python", "-m", PACKAGE, "performance"]]
    assert {command[-1] for command in checks} <= commands
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "for check in drift performance" in makefile  # `make monitor` runs the same two
{%- endif %}
