"""Delivery files agree with each other: one Python version, the image carries what it needs and nothing else,
CI deploys only after a promotion, and every third-party action or hook is pinned."""

from __future__ import annotations

import json
import re
import shlex
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from {{ cookiecutter.package_name }}.champion import MODEL_DIR_ENV, export_champion, load_champion
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import TEST_FILE, load_split, prepare, write_prepared
from {{ cookiecutter.package_name }}.errors import ConfigError, ModelNotFoundError
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.tracking import get_tracker
from {{ cookiecutter.package_name }}.train import train

ROOT = Path(__file__).resolve().parent.parent
PYTHON_VERSION = "{{ cookiecutter.python_version }}"
PACKAGE = "{{ cookiecutter.package_name }}"
WORKFLOWS = ROOT / ".github" / "workflows"
DEV_CONTAINER_DOCKERFILE = ROOT / ".devcontainer" / "Dockerfile"
DOCKERFILES = [ROOT / "Dockerfile", DEV_CONTAINER_DOCKERFILE{{ ', ROOT / "mlflow-server" / "Dockerfile"' if cookiecutter.tracking == "mlflow-server" else "" }}]
# The base image by tag and digest: python:<version>.<patch>-slim-bookworm@sha256:<64 hex digits>.
PINNED_BASE_IMAGE = re.compile(r"python:" + re.escape(PYTHON_VERSION) + r"\.\d+-slim-bookworm@sha256:[0-9a-f]{64}")
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            keyword, _, arguments = pending.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
            pending = ""
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    for pattern in patterns:
        negated = pattern.startswith("!")
        regex = _glob_regex(pattern.lstrip("!").strip("/"))
        if any(regex.fullmatch(candidate) for candidate in candidates):
            excluded = not negated
    return excluded


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def test_image_serves_the_exported_champion(params: Params, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`export-champion` writes what the image copies; with MODEL_DIR set, serving loads exactly that model."""
    write_prepared(prepare(params.data))
    train(params, get_tracker())
    assert evaluate(params, get_tracker()).promoted
    tracked = export_champion(tmp_path / "serving")
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "serving"))
    served = load_champion()
    assert served.version == tracked.version
    features, _ = load_split(TEST_FILE, params.data)
    # Trees are summed in parallel, so the last bits may differ between two calls on the same model.
    answer = "predict" if params.data.regression else "predict_proba"
    served_answer, tracked_answer = getattr(served.model, answer)(features), getattr(tracked.model, answer)(features)
    np.testing.assert_allclose(served_answer, tracked_answer, atol=1e-12, rtol=1e-12)

    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(ModelNotFoundError, match="no exported champion"):
        load_champion()


def test_without_the_tracker_installed_serving_asks_for_model_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime install holds no tracker: asking it for the champion is one line naming both ways out."""
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "{{ cookiecutter.package_name }}.tracking", None)  # as if not installed
    with pytest.raises(ConfigError) as missing:
        load_champion()
    assert "the tracking backend is not installed" in str(missing.value)
    assert f"set {MODEL_DIR_ENV}" in str(missing.value)
    assert len(str(missing.value).splitlines()) == 1


def test_one_python_version_everywhere() -> None:
    environment = load_yaml(ROOT / "environment.yml")
    assert f"python={PYTHON_VERSION}" in environment["dependencies"]
    images = set()
    for dockerfile in DOCKERFILES:
        found = [args.split()[0] for keyword, args in dockerfile_instructions(dockerfile) if keyword == "FROM"]
        assert found, dockerfile
        assert all(PINNED_BASE_IMAGE.fullmatch(image) for image in found), (dockerfile, found)
        images.update(found)
    assert len(images) == 1, images  # one base image: the service, the dev container and the tracking server alike
    ci = load_yaml(WORKFLOWS / "ci.yml")
    assert PYTHON_VERSION in ci["jobs"]["tests"]["strategy"]["matrix"]["python-version"]
    for path in workflow_files():
        for job in load_yaml(path)["jobs"].values():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("actions/setup-python@") and "matrix" not in str(step["with"]):
                    assert step["with"]["python-version"] == PYTHON_VERSION, path.name


def test_every_tested_python_is_supported() -> None:
    project = pyproject()["project"]
    supported = SpecifierSet(project["requires-python"])
    tested = load_yaml(WORKFLOWS / "ci.yml")["jobs"]["tests"]["strategy"]["matrix"]["python-version"]
    assert sorted(tested) == ["3.11", "3.12", "3.13"]
    for version in tested:
        assert f"{version}.0" in supported
        assert f"Programming Language :: Python :: {version}" in project["classifiers"]


def test_conda_environment_installs_the_project_with_dev_tools() -> None:
    environment = load_yaml(ROOT / "environment.yml")
    pip = next(item["pip"] for item in environment["dependencies"] if isinstance(item, dict))
    assert pip == ['-e ".[dev]"']
    assert "pre-commit" in str(pyproject()["project"]["optional-dependencies"]["dev"])


def test_serving_install_leaves_training_and_monitoring_out() -> None:
    base = {Requirement(spec).name for spec in pyproject()["project"]["dependencies"]}
    assert not base & {"dvc", "mlflow", "evidently", "wandb", "pytest", "ruff", "pre-commit", "psycopg"}


def test_postgres_extra_is_the_driver_the_monitors_install_too() -> None:
    extras = pyproject()["project"]["optional-dependencies"]
    assert [Requirement(spec).name for spec in extras["postgres"]] == ["psycopg"]
    assert "binary" in Requirement(extras["postgres"][0]).extras  # a wheel with libpq: no compiler, no libpq-dev
    monitoring = [Requirement(spec) for spec in extras["monitoring"]]
    assert any(r.name == pyproject()["project"]["name"] and r.extras == {"postgres"} for r in monitoring)


def test_image_installs_runtime_dependencies_only_and_runs_as_non_root() -> None:
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
{%- if cookiecutter.env_manager == "uv" %}
    copied = " ".join(args for keyword, args in instructions if keyword == "COPY")
    assert "uv.lock" in copied  # the image installs from the lock, not from pyproject's ranges
{%- if cookiecutter.serving == "edge" %}
    installs = [args for keyword, args in instructions if keyword == "RUN" and "uv pip install" in args]
    assert len(installs) == 1
    assert "uv export --frozen" in installs[0]  # the lock's versions become the constraints
    words = shlex.split(installs[0].partition("uv pip install")[2])
    valued = {"--python", "--constraints"}
    requested = [w for i, w in enumerate(words) if not w.startswith("-") and words[i - 1] not in valued]
    assert sorted(requested) == ["numpy", "onnxruntime"]  # the runtime's two, nothing else
    assert {"numpy", "onnxruntime"} <= {Requirement(spec).name for spec in pyproject()["project"]["dependencies"]}
{%- else %}
    installs = [args for keyword, args in instructions if keyword == "RUN" and "uv sync" in args]
    assert len(installs) == 1
    words = shlex.split(installs[0].partition("uv sync")[2])
    assert "--frozen" in words  # exactly the lock's versions
    assert "--no-editable" in words  # the package itself, not a link into the discarded source tree
    extras = [words[i + 1] for i, word in enumerate(words) if word == "--extra"]
    assert extras == ["postgres"]  # the store's driver; no training, monitoring or development extra
    assert not [w for w in words if w.startswith(("--all-extras", "--group", "--dev"))]
{%- endif %}
{%- else %}
    installs = [args for keyword, args in instructions if keyword == "RUN" and "pip install" in args]
    assert len(installs) == 1
    requested = [word for word in shlex.split(installs[0].partition("pip install")[2]) if not word.startswith("-")]
{%- if cookiecutter.serving == "edge" %}
    dependencies = {Requirement(spec).name: Requirement(spec) for spec in pyproject()["project"]["dependencies"]}
    for spec in map(Requirement, requested):  # the runtime's two, with pyproject.toml's ranges
        assert spec.name in {"numpy", "onnxruntime"}
        assert spec.specifier == dependencies[spec.name].specifier
{%- else %}
    assert requested == [".[postgres]"]  # the base install and the store's driver: no other extra
{%- endif %}
{%- endif %}
{%- if cookiecutter.serving != "edge" %}
    apt = " ".join(args for keyword, args in final_stage(instructions) if keyword == "RUN" and "apt-get" in args)
    assert "libgomp1" in apt  # LightGBM's OpenMP runtime
{%- endif %}
    runtime = final_stage(instructions)
    user = [args for keyword, args in runtime if keyword == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}
{%- if cookiecutter.env_manager == "uv" %}


def test_one_uv_version_everywhere() -> None:
    """The image and every workflow install the uv that pyproject.toml requires at least, so the lock they read is
    one that version wrote."""
    required = pyproject()["tool"]["uv"]["required-version"]
    pins: set[str] = set()
    for dockerfile in DOCKERFILES:  # the image and the dev container
        pins |= set(re.findall(r"uv==([\w.]+)", dockerfile.read_text(encoding="utf-8")))
    for path in workflow_files():
        pins |= set(re.findall(r"uv==([\w.]+)", path.read_text(encoding="utf-8")))
    assert len(pins) == 1, pins
    assert required == f">={pins.pop()}"


def test_uv_lock_is_committed_not_ignored() -> None:
    assert not dockerignore_excludes(dockerignore_patterns(), "uv.lock")
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert not {"uv.lock", "/uv.lock"} & set(ignored)
{%- endif %}


def test_image_starts_the_{{ cookiecutter.serving }}_entry_point() -> None:
    runtime = dict(final_stage(dockerfile_instructions(ROOT / "Dockerfile")))
{%- if cookiecutter.serving in ["fastapi", "grpc"] %}
    assert yaml.safe_load(runtime["CMD"]) == ["python", "-m", PACKAGE, "serve"]
    assert "HOST=0.0.0.0" in runtime["ENV"]
    assert "MODEL_DIR=/app/models/serving" in runtime["ENV"]
    assert runtime["HEALTHCHECK"].split("CMD", 1)[1].strip().startswith('["python", "-c",')
{%- elif cookiecutter.serving == "batch" %}
    assert yaml.safe_load(runtime["ENTRYPOINT"]) == ["python", "-m", PACKAGE, "predict"]
    assert yaml.safe_load(runtime["CMD"])[0] == "--input"
    assert "MODEL_DIR=/app/models/serving" in runtime["ENV"]
    assert runtime["HEALTHCHECK"] == "NONE"  # a job: it exits when done
{%- else %}
    assert yaml.safe_load(runtime["ENTRYPOINT"]) == ["python", "edge_runtime.py"]
    assert yaml.safe_load(runtime["CMD"])[0] == "--input"
    assert runtime["HEALTHCHECK"] == "NONE"  # a job: it exits when done
{%- endif %}


def test_build_context_holds_what_the_image_copies_and_no_local_state() -> None:
    patterns = dockerignore_patterns()
    copied = [
        args.split()[:-1]
        for keyword, args in dockerfile_instructions(ROOT / "Dockerfile")
        if keyword == "COPY" and not args.startswith("--from")
    ]
    sources = [source.rstrip("/") for sources in copied for source in sources]
    assert sources
    for source in sources:
        inside = f"{source}/x.py" if source in {"src", "models/serving"} else source
        assert not dockerignore_excludes(patterns, inside), source
    for state in [
        ".venv/bin/python", ".git/HEAD", ".dvc/cache/files/md5/ab", "data/raw/churn.csv", "data/prepared/test.csv",
        "mlflow.db", "mlruns/1/meta.yaml", "wandb/latest-run/files", "reports/metrics.json", "predictions.db",
        "models/challenger.skops", "models/champion.skops", ".env", "tests/test_cli.py", "src/x/__pycache__/a.pyc",
    ]:  # fmt: skip
        assert dockerignore_excludes(patterns, state), state


def test_compose_runs_the_image{{ "_with_prometheus" if cookiecutter.serving in ["fastapi", "grpc"] else "" }}() -> None:
    compose = load_yaml(ROOT / "docker-compose.yml")
    services = compose["services"]
    used_volumes = {
        mount.split(":")[0]
        for service in services.values()
        for mount in service.get("volumes", [])
        if not mount.startswith(".")
    }
    assert used_volumes == set(compose.get("volumes") or {})
{%- if cookiecutter.serving in ["fastapi", "grpc"] %}
    assert services["app"]["build"] == "."
    env = dict(final_stage(dockerfile_instructions(ROOT / "Dockerfile")))["ENV"]
    metrics_port = re.search(r"{{ 'PORT' if cookiecutter.serving == 'fastapi' else 'METRICS_PORT' }}=(\d+)", env).group(1)
    mount = next(m for m in services["prometheus"]["volumes"] if m.endswith("/etc/prometheus/prometheus.yml:ro"))
    config = load_yaml(ROOT / mount.split(":")[0])
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"app:{metrics_port}"]
    assert config["scrape_configs"][0]["metrics_path"] == "/metrics"
{%- else %}
    assert services["{{ cookiecutter.serving }}"]["build"] == "."
    assert "./data:/data" in services["{{ cookiecutter.serving }}"]["volumes"]
{%- endif %}
{%- if cookiecutter.tracking == "mlflow-server" %}


def test_compose_runs_an_mlflow_server_on_postgres_and_a_bucket() -> None:
    services = load_yaml(ROOT / "docker-compose.yml")["services"]
    command = services["mlflow"]["command"]
    assert any(arg.startswith("--backend-store-uri=postgresql+psycopg://") for arg in command)  # the psycopg it has
    assert any(arg.endswith("@mlflow-db:5432/mlflow") for arg in command)
    assert "--artifacts-destination=s3://mlops/mlflow" in command
    assert "--serve-artifacts" in command  # clients reach artifacts through the server, never the bucket's keys
    environment = services["mlflow"]["environment"]
    assert environment["MLFLOW_S3_ENDPOINT_URL"] == "http://object-store:9000"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(environment)
    assert services["mlflow"]["depends_on"]["mlflow-db"]["condition"] == "service_healthy"
    assert services["mlflow"]["depends_on"]["bucket"]["condition"] == "service_completed_successfully"
    bucket_client = {key: value for key, value in environment.items() if key != "MLFLOW_SERVER_ENABLE_JOB_EXECUTION"}
    assert services["bucket"]["environment"] == bucket_client
    assert services["mlflow-db"]["image"].startswith("postgres:")
    assert services["object-store"]["image"].startswith("quay.io/minio/minio:RELEASE.")
    for service in services.values():  # every third-party image by tag and digest
        if "build" not in service:
            assert re.fullmatch(r"[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}", service["image"]), service["image"]
    init = next(m for m in services["mlflow-db"]["volumes"] if "/docker-entrypoint-initdb.d/" in m)
    assert (ROOT / init.split(":")[0]).read_text(encoding="utf-8").strip().endswith("CREATE DATABASE predictions;")
{%- if cookiecutter.serving in ["fastapi", "grpc", "batch"] %}
    logging = services["{{ "app" if cookiecutter.serving in ["fastapi", "grpc"] else cookiecutter.serving }}"]
    store = next(item.partition("=")[2] for item in logging["environment"] if item.startswith("PREDICTION_STORE_URL="))
    assert store.startswith("postgresql+psycopg://")
    assert store.endswith("@mlflow-db:5432/predictions")
    assert logging["depends_on"]["mlflow-db"]["condition"] == "service_healthy"
{%- endif %}


def test_dvc_bucket_remote_is_the_compose_bucket() -> None:
    config = (ROOT / ".dvc" / "config").read_text(encoding="utf-8")
    assert re.search(r"""\['remote "bucket"'\]\s+url = s3://mlops/dvc""", config)
    training = pyproject()["project"]["optional-dependencies"]["train"]
    assert "dvc-s3" in {Requirement(spec).name for spec in training}


def test_mlflow_server_image_matches_the_client_version() -> None:
    dockerfile = (ROOT / services_build("mlflow") / "Dockerfile").read_text(encoding="utf-8")
    server = re.search(r'"mlflow==([^"]+)"', dockerfile).group(1)
    training = pyproject()["project"]["optional-dependencies"]["train"]  # the tracker is a training dependency
    client = next(Requirement(spec) for spec in training if Requirement(spec).name == "mlflow")
    assert server in client.specifier
    driver = re.search(r'"psycopg\[binary\]==([^"]+)"', dockerfile).group(1)
    assert driver in Requirement(pyproject()["project"]["optional-dependencies"]["postgres"][0]).specifier


def services_build(name: str) -> str:
    return load_yaml(ROOT / "docker-compose.yml")["services"][name]["build"]
{%- endif %}


@pytest.mark.parametrize("path", workflow_files(), ids=lambda path: path.name)
def test_workflow_grants_permissions_per_job_and_pins_every_action(path: Path) -> None:
    workflow = load_yaml(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, name
        for step in job.get("steps", []):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False
    for line in path.read_text(encoding="utf-8").splitlines():
        uses = line.strip().removeprefix("- ").removeprefix("uses:").strip() if "uses:" in line else None
        if uses and not uses.startswith("$/"):
            assert PINNED_USES.match(uses), line


def test_ci_publishes_only_after_a_promotion() -> None:
    jobs = load_yaml(WORKFLOWS / "ci.yml")["jobs"]
    assert "steps.gate.outputs.promoted" in jobs["pipeline"]["outputs"]["promoted"]
    gate = next(step for step in jobs["pipeline"]["steps"] if step.get("id") == "gate")
    assert f"python -m {PACKAGE} promoted" in gate["run"]
    assert jobs["deploy"]["needs"] == "pipeline"
    assert jobs["deploy"]["if"].startswith("needs.pipeline.outputs.promoted == 'true' && ")
    assert jobs["deploy"]["permissions"] == {"contents": "read", "packages": "write"}
    build = next(step for step in jobs["deploy"]["steps"] if "build-push-action" in step.get("uses", ""))
    assert build["with"]["push"] is True
    assert build["with"]["context"] == "."  # the checkout with the downloaded model, not the bare git tree


{% if cookiecutter.orchestrator == "github-actions" -%}
def test_retrain_trains_and_publishes_exactly_like_ci() -> None:
    ci, retrain = (load_yaml(WORKFLOWS / name)["jobs"] for name in ("ci.yml", "retrain.yml"))
    for job in ("pipeline", "deploy"):
        assert retrain[job]["steps"] == ci[job]["steps"], job
        assert retrain[job]["permissions"] == ci[job]["permissions"], job
        assert retrain[job].get("env") == ci[job].get("env"), job


def test_monitor_retrains_on_an_alert_without_extra_permissions() -> None:
    jobs = load_yaml(WORKFLOWS / "monitor.yml")["jobs"]
    assert jobs["retrain"]["uses"] == "$/.github/workflows/retrain.yml"
    assert "needs.monitor.outputs.alert == 'true'" in jobs["retrain"]["if"]
    assert jobs["retrain"]["permissions"] == {"contents": "read", "packages": "write"}  # what retrain.yml needs
    checks = next(step for step in jobs["monitor"]["steps"] if step.get("id") == "checks")
    assert "drift performance" in checks["run"]


{% endif -%}
def test_dependabot_updates_python_actions_and_docker() -> None:
    updates = load_yaml(ROOT / ".github" / "dependabot.yml")["updates"]
    assert {"pip", "github-actions", "docker", "docker-compose"} <= {update["package-ecosystem"] for update in updates}
    docker = next(update for update in updates if update["package-ecosystem"] == "docker")
    watched = {ROOT / directory.lstrip("/") for directory in docker["directories"]}
    assert {dockerfile.parent for dockerfile in DOCKERFILES} == watched  # every pinned base image, and only those


def test_dev_container_builds_the_project_python_and_forwards_the_image_ports() -> None:
    """The dev container's Dockerfile is one of DOCKERFILES (same base image, see above); it sets the environment up
    with `make setup` and forwards exactly the ports the service image exposes."""
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text(encoding="utf-8"))
    assert ROOT / ".devcontainer" / config["build"]["dockerfile"] == DEV_CONTAINER_DOCKERFILE
    assert config["postCreateCommand"] == "make setup"
    instructions = dockerfile_instructions(ROOT / "Dockerfile")
    exposed = [int(port) for keyword, args in instructions if keyword == "EXPOSE" for port in args.split()]
    assert config.get("forwardPorts", []) == exposed
    assert set(config.get("portsAttributes", {})) == {str(port) for port in exposed}
    users = [args for keyword, args in dockerfile_instructions(DEV_CONTAINER_DOCKERFILE) if keyword == "USER"]
    assert users, "the dev container runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_pre_commit_hooks_install_pinned_from_pypi() -> None:
    config = load_yaml(ROOT / ".pre-commit-config.yaml")
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert {repo["repo"] for repo in config["repos"]} == {"local"}
    assert {"ruff-check", "ruff-format", "check-yaml", "end-of-file-fixer", "hadolint", "zizmor"} <= {
        hook["id"] for hook in hooks
    }
    for hook in hooks:
        assert hook["language"] == "python", hook["id"]
        assert all("==" in dependency for dependency in hook["additional_dependencies"]), hook["id"]
