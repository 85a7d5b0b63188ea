"""The generated `deploy/k8s/`, per rendering: its kustomize base and both overlays render (tests/kustomize.py, the
subset of kustomize they use), every resource is valid against the Kubernetes JSON schemas in strict mode
(kubernetes-validate, offline), and the manifests agree with what the image really does: the ports its Dockerfile
sets, the routes the REST service declares, the gRPC health service, the image's own CMD or ENTRYPOINT, the CLI's
monitoring commands, its user and the places it writes.

The KServe InferenceService is a custom resource the Kubernetes schemas do not hold: its predictor is a pod spec
(KServe inlines PodSpec), validated here as a Pod, plus the few KServe fields it uses, checked by name.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.conftest import Matrix
from tests.kustomize import KustomizeError, build, split_image, strategic_merge
from tests.platforms import needs_template_dir
from tests.render import COMBINATIONS, combination_id, resolve_answers

KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate 1.37 ships
IMAGE_USER = 10001
DIRECTORIES = ["base", "overlays/dev", "overlays/prod"]
KINDS = {
    "fastapi": {"Deployment", "Service", "HorizontalPodAutoscaler", "CronJob"},
    "grpc": {"Deployment", "Service", "HorizontalPodAutoscaler", "CronJob"},
    "batch": {"PersistentVolumeClaim", "CronJob"},
    "edge": {"PersistentVolumeClaim", "Job"},
}
KSERVE_COMPONENT_FIELDS = {"minReplicas", "maxReplicas", "scaleMetric", "scaleTarget"}


def renderings(*servings: str) -> pytest.MarkDecorator:
    """Each rendering of these serving styles (all when none is named) once; they need the template directory,
    which a Windows checkout leaves out (tests/platforms.py)."""
    return pytest.mark.parametrize(
        "key",
        [
            pytest.param(combination_id(answers), id=combination_id(answers), marks=needs_template_dir)
            for answers in COMBINATIONS
            if not servings or answers["serving"] in servings
        ],
    )


every_rendering = renderings()


# --------------------------------------------------------------------------------------------------------------------
# Reading a rendering


def project(matrix: Matrix, key: str) -> tuple[Path, dict[str, str]]:
    rendering = matrix[key]
    return rendering.root("cookiecutter"), resolve_answers(rendering.answers)


def dockerfile_env(root: Path) -> dict[str, str]:
    """The final stage's ENV, continuation lines joined."""
    text = (root / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    final = text.rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for line in final.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def dockerfile_instruction(root: Path, keyword: str) -> str | None:
    """The arguments of the last `keyword` instruction."""
    lines = [
        line for line in (root / "Dockerfile").read_text(encoding="utf-8").splitlines() if line.startswith(keyword)
    ]
    return lines[-1].partition(" ")[2].strip() if lines else None


def rest_routes(root: Path, package: str) -> set[str]:
    """GET paths the REST service declares (`@app.get("/path"`), read from its source: the template's environment
    cannot import the generated package."""
    source = (root / "src" / package / "serving" / "rest.py").read_text(encoding="utf-8")
    return set(re.findall(r'@app\.get\(\s*"([^"]+)"', source))


def pod_specs(resource: dict[str, Any]) -> list[dict[str, Any]]:
    spec = resource.get("spec", {})
    if resource["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if resource["kind"] in {"Deployment", "Job"}:
        return [spec["template"]["spec"]]
    if resource["kind"] == "InferenceService":
        return [spec["predictor"]]
    return []


def named(resources: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    matches = [r for r in resources if r["kind"] == kind and r["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, (kind, suffix, [r["metadata"]["name"] for r in resources])
    return matches[0]


def validation_error(resource: dict[str, Any]) -> str | None:
    try:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        where = "/".join(str(part) for part in error.path)
        return f"{resource['kind']} {resource['metadata'].get('name')}: {where}: {error.message}"
    return None


# --------------------------------------------------------------------------------------------------------------------
# The renderer and the validator themselves


def test_the_validator_refuses_what_kubernetes_does() -> None:
    """Strict mode refuses an unknown field and a wrong type, so a passing manifest means something."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}}
    assert validation_error(pod) is None
    assert validation_error(
        strategic_merge(pod, {"spec": {"containers": [{"name": "c", "livenessProbe": {"gprc": {}}}]}})
    )
    assert validation_error(
        strategic_merge(pod, {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "x"}]}]}})
    )


def test_the_renderer_merges_as_kustomize_does(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (base / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [pod.yaml]\n", encoding="utf-8"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "r.example:5000/a/b", "env": [{"name": "A", "value": "1"}]}]},
    }
    (base / "pod.yaml").write_text(yaml.safe_dump(pod), encoding="utf-8")
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    patch = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    patch["spec"] = {"containers": [{"name": "c", "env": [{"name": "B", "value": "2"}]}]}
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": "n",
                "resources": ["../base"],
                "images": [{"name": "r.example:5000/a/b", "newTag": "v1"}],
                "patches": [{"patch": yaml.safe_dump(patch)}],
                "labels": [{"pairs": {"env": "x"}, "includeSelectors": False}],
            }
        ),
        encoding="utf-8",
    )
    [rendered] = build(overlay)
    assert rendered["metadata"] == {"name": "p", "namespace": "n", "labels": {"env": "x"}}
    container = rendered["spec"]["containers"][0]
    assert container["image"] == "r.example:5000/a/b:v1"
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert split_image("r.example:5000/a/b:v1@sha256:0") == ("r.example:5000/a/b", "v1", "sha256:0")
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [../base]\nreplicas: []\n",
        encoding="utf-8",
    )
    with pytest.raises(KustomizeError, match="replicas"):
        build(overlay)


# --------------------------------------------------------------------------------------------------------------------
# Every rendering


@every_rendering
def test_base_and_overlays_render_to_valid_kubernetes_resources(matrix: Matrix, key: str) -> None:
    root, answers = project(matrix, key)
    k8s = root / "deploy" / "k8s"
    serving = answers["serving"]
    rendered = {directory: build(k8s / directory) for directory in DIRECTORIES}
    for directory, resources in rendered.items():
        errors = [error for resource in resources if (error := validation_error(resource))]
        assert not errors, f"{directory}:\n" + "\n".join(errors)
        kinds = {r["kind"] for r in resources}
        expected = KINDS[serving] | ({"Namespace"} if directory != "base" else set())
        if directory == "overlays/prod" and serving in {"fastapi", "grpc"}:
            expected |= {"PodDisruptionBudget"}
        assert kinds == expected, directory
    assert (k8s / "kserve").is_dir() == (serving == "fastapi")

    for overlay in ("overlays/dev", "overlays/prod"):
        resources = rendered[overlay]
        namespace = named(resources, "Namespace")["metadata"]["name"]
        assert namespace.endswith("-dev") == (overlay == "overlays/dev")
        for resource in resources:
            if resource["kind"] != "Namespace":
                assert resource["metadata"]["namespace"] == namespace
            for pod in pod_specs(resource):
                for container in pod["containers"]:
                    name, tag, digest = split_image(container["image"])
                    assert tag or digest, f"{overlay}: {container['image']} has no tag"  # the overlay chose the image
                    assert name.startswith(f"ghcr.io/OWNER/{answers['project_slug']}")
    dev, prod = rendered["overlays/dev"], rendered["overlays/prod"]
    assert dev != prod
    if serving in {"fastapi", "grpc"}:
        assert named(prod, "HorizontalPodAutoscaler")["spec"]["minReplicas"] >= 2  # several replicas in prod
        assert named(dev, "CronJob", "-monitoring")["spec"]["suspend"] is True  # no shared store to read in dev
        [server] = pod_specs(named(prod, "Deployment"))[0]["containers"]
        store = next(env for env in server["env"] if env["name"] == "PREDICTION_STORE_URL")
        assert store["valueFrom"]["secretKeyRef"]["optional"] is False  # prod needs the shared store
        [server] = pod_specs(named(dev, "Deployment"))[0]["containers"]
        store = next(env for env in server["env"] if env["name"] == "PREDICTION_STORE_URL")
        assert store["valueFrom"]["secretKeyRef"]["optional"] is True  # dev: the emptyDir SQLite default


@every_rendering
def test_pods_run_as_the_image_user_on_a_read_only_root(matrix: Matrix, key: str) -> None:
    root, answers = project(matrix, key)
    user = dockerfile_instruction(root, "USER")
    assert user == f"{IMAGE_USER}:{IMAGE_USER}"
    env = dockerfile_env(root)
    resources = build(root / "deploy" / "k8s" / "base")
    if answers["serving"] == "fastapi":
        resources += build(root / "deploy" / "k8s" / "kserve")
    # Where the image writes: the SQLite store's directory (its ENV default), or /data for the jobs, and /tmp.
    store = env.get("PREDICTION_STORE_URL", "sqlite:////data/x")  # the edge image logs nothing; it writes /data
    written = {str(Path(store.removeprefix("sqlite:///")).parent), "/tmp"}
    assert {"/app/var", "/tmp"} <= written or {"/data", "/tmp"} <= written
    pods = [pod for resource in resources for pod in pod_specs(resource)]
    assert pods
    for pod in pods:
        security = pod["securityContext"]
        assert security["runAsNonRoot"] is True
        assert security["runAsUser"] == IMAGE_USER
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert {"requests", "limits"} <= set(container["resources"])
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert set(mounts.values()) <= set(volumes)
            if container["name"] in {"server", "kserve-container", "scoring"}:
                assert written <= set(mounts), container["name"]  # every place the app writes is a volume


@renderings("fastapi", "grpc")
def test_probes_ports_and_metrics_match_what_the_service_serves(matrix: Matrix, key: str) -> None:
    root, answers = project(matrix, key)
    serving, package = answers["serving"], answers["package_name"]
    env = dockerfile_env(root)
    port = int(env["PORT"])
    exposed = {int(p) for p in (dockerfile_instruction(root, "EXPOSE") or "").split()}
    resources = build(root / "deploy" / "k8s" / "base")
    deployment = named(resources, "Deployment")
    template = deployment["spec"]["template"]
    [container] = template["spec"]["containers"]
    # No command or args: the image's CMD (`python -m <package> serve`) starts the service.
    assert "command" not in container and "args" not in container
    assert dockerfile_instruction(root, "CMD") == f'["python", "-m", "{package}", "serve"]'
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert set(ports.values()) == exposed
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    service = named(resources, "Service")
    assert service["spec"]["selector"] == selector
    assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)
    hpa = named(resources, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"

    def probe_port(probe: dict[str, Any]) -> int:
        action = next(iter(set(probe) & {"httpGet", "tcpSocket", "grpc"}))
        value = probe[action]["port"]
        return ports[value] if isinstance(value, str) else value

    probes = {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    if serving == "fastapi":
        routes = rest_routes(root, package)
        assert ports == {"http": port}
        assert int(annotations["prometheus.io/port"]) == port
        assert "/metrics" in routes
        for kind, probe in probes.items():
            assert probe["httpGet"]["path"] in routes, kind
            assert probe_port(probe) == port, kind
        assert probes["livenessProbe"]["httpGet"]["path"] == "/health"
        assert probes["readinessProbe"]["httpGet"]["path"] == "/ready"
        service_ports = {p["port"] for p in service["spec"]["ports"]}
        assert service_ports == {port}
    else:
        metrics_port = int(env["METRICS_PORT"])
        server = (root / "src" / package / "serving" / "grpc_server.py").read_text(encoding="utf-8")
        assert f"DEFAULT_METRICS_PORT = {metrics_port}" in server
        assert ports == {"grpc": port, "metrics": metrics_port}
        assert int(annotations["prometheus.io/port"]) == metrics_port
        readiness = probes["readinessProbe"]["grpc"]
        assert readiness["port"] == port
        # No service name: the probe asks for "" (the whole server), which the server sets SERVING with its own.
        assert "service" not in readiness
        assert 'for name in ("", SERVICE_NAME)' in server
        assert "add_HealthServicer_to_server" in server  # grpc.health.v1
        assert all(probe_port(probe) == port for probe in probes.values())


@every_rendering
def test_jobs_run_the_image_entrypoint_and_the_monitoring_commands(matrix: Matrix, key: str) -> None:
    root, answers = project(matrix, key)
    serving, package = answers["serving"], answers["package_name"]
    resources = build(root / "deploy" / "k8s" / "base")
    if serving in {"batch", "edge"}:
        scoring = named(resources, "CronJob" if serving == "batch" else "Job", "-scoring")
        [container] = pod_specs(scoring)[0]["containers"]
        assert "command" not in container  # the ENTRYPOINT stays the image's
        entrypoint = dockerfile_instruction(root, "ENTRYPOINT")
        expected = (
            f'["python", "-m", "{package}", "predict"]' if serving == "batch" else '["python", "edge_runtime.py"]'
        )
        assert entrypoint == expected
        args = container["args"]
        assert args == yaml.safe_load(dockerfile_instruction(root, "CMD") or "[]")  # the same files the image names
        data = {m["mountPath"] for m in container["volumeMounts"]}
        assert {str(Path(args[args.index(option) + 1]).parent) for option in ("--input", "--output")} <= data
        pvc = named(resources, "PersistentVolumeClaim", "-data")
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in pod_specs(scoring)[0]["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert claims == [pvc["metadata"]["name"]]
    if serving == "edge":
        assert not (root / "deploy" / "k8s" / "base" / "monitoring-cronjob.yaml").exists()  # the runtime logs nothing
        return
    monitoring = named(resources, "CronJob", "-monitoring")
    assert len(monitoring["metadata"]["name"]) <= 52  # a CronJob's name limit
    pod = pod_specs(monitoring)[0]
    assert pod["restartPolicy"] == "Never"
    assert monitoring["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    makefile = (root / "Makefile").read_text(encoding="utf-8")
    checks = re.search(r"for check in ([\w ]+); do", makefile).group(1).split()
    cli = (root / "src" / package / "cli.py").read_text(encoding="utf-8")
    assert [c["command"] for c in pod["containers"]] == [["python", "-m", package, check] for check in checks]
    for container in pod["containers"]:
        assert f"def {container['name']}(" in cli
        assert split_image(container["image"])[0] == f"ghcr.io/OWNER/{answers['project_slug']}-monitoring"
        assert {"/app/reports", "/tmp"} <= {m["mountPath"] for m in container["volumeMounts"]}
    # The serving image has no Evidently: the monitoring image is built with the extra (the manifest says how).
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(spec.startswith("evidently") for spec in pyproject["project"]["optional-dependencies"]["monitoring"])
    dockerfile = (root / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    installs = [
        line for line in dockerfile.splitlines() if line.startswith("RUN") and re.search(r"uv sync|pip install", line)
    ]
    assert installs
    assert not [line for line in installs if re.search(r"monitoring|evidently|all-extras|\[dev", line)]
    manifest = (root / "deploy" / "k8s" / "base" / "monitoring-cronjob.yaml").read_text(encoding="utf-8")
    assert "evidently" in manifest and "train.csv" in manifest


@renderings("fastapi")
def test_kserve_inference_service_runs_the_same_image(matrix: Matrix, key: str) -> None:
    root, answers = project(matrix, key)
    [service] = build(root / "deploy" / "k8s" / "kserve")
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    assert service["kind"] == "InferenceService"
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", service["metadata"]["name"])
    predictor = dict(service["spec"]["predictor"])
    assert set(service["spec"]) == {"predictor"}
    extension = {field: predictor.pop(field) for field in list(predictor) if field in KSERVE_COMPONENT_FIELDS}
    assert extension["minReplicas"] <= extension["maxReplicas"]
    # What is left is a pod spec (KServe inlines PodSpec): the Kubernetes schema checks it as a Pod's.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": service["metadata"]["name"]}, "spec": predictor}
    assert validation_error(pod) is None, validation_error(pod)
    [container] = predictor["containers"]
    assert container["name"] == "kserve-container"
    assert "command" not in container and "args" not in container
    port = int(dockerfile_env(root)["PORT"])
    assert [p["containerPort"] for p in container["ports"]] == [port]  # KServe routes to the one container port
    routes = rest_routes(root, answers["package_name"])
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[kind]["httpGet"]["path"] in routes
        assert container[kind]["httpGet"]["port"] == port
    deployment = build(root / "deploy" / "k8s" / "base")[0]
    [server] = deployment["spec"]["template"]["spec"]["containers"]
    assert split_image(container["image"])[0] == split_image(server["image"])[0]
