"""The shared platform of an `mlflow-server` project on real servers, wired as its docker-compose.yml wires them.

PostgreSQL holds MLflow's runs and registry and the service's prediction store; an S3 object store holds MLflow's
artifacts (proxied by the MLflow server) and DVC's `bucket` remote. Without Docker, each runs here on 127.0.0.1 and
is stopped by its process id: PostgreSQL from Debian's packages (`initdb` + `postgres`, as the package's `postgres`
user when the tests run as root, since postgres refuses root), the S3 store is moto's standalone server (pure Python,
from PyPI, pinned in the test extra; MinIO's server binary downloads from MinIO's own site, which CI cannot rely on),
and the MLflow server runs from a virtual environment holding exactly what `mlflow-server/Dockerfile` pip-installs,
with the flags of the compose file's `mlflow` command. One PostgreSQL, one moto and one bake for the whole module.

Then, as a user would: `dvc repro` trains against MLflow on PostgreSQL + bucket, the champion alias is read back
with MlflowClient, `dvc push`/`dvc pull` go through the bucket (the local cache removed in between), the service
loads the champion from that registry (no MODEL_DIR) and logs predictions and feedback to PostgreSQL (rows counted
with psycopg), and the monitors read them back. A wrong store URL and a stopped PostgreSQL are one line at start-up.
The test id, `platform-fastapi-mlflow-server`, puts it in the REST and gRPC half of `make test-e2e` (`-k "fastapi- or
grpc-"`), on purpose: the other half carries the update, orchestrator and Spark tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import boto3
import pytest
import yaml

from .postgres import PASSWORD, PostgresServer, Stoppable
from .processes import free_port, port_open, running
from .projects import UV, Project, bake, git_commit_all, install

SERVING, TRACKING = "fastapi", "mlflow-server"
BUCKET = "mlops"  # docker-compose.yml's bucket
KEYS = {"AWS_ACCESS_KEY_ID": "e2e-key", "AWS_SECRET_ACCESS_KEY": "e2e-secret", "AWS_DEFAULT_REGION": "us-east-1"}
ROWS = 120


def moto_server(workdir: Path) -> tuple[AbstractContextManager, str]:
    port = free_port()
    command = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)]
    server = running(command, cwd=workdir, env=os.environ, ready=lambda: port_open(port), log=workdir / "moto.log")
    return server, f"http://127.0.0.1:{port}"


def mlflow_server_env(project: Project, workdir: Path) -> Path:
    """A venv with exactly what mlflow-server/Dockerfile pip-installs (MLflow, psycopg, boto3); its python."""
    dockerfile = (project.root / "mlflow-server" / "Dockerfile").read_text(encoding="utf-8")
    pins = re.findall(r'"([A-Za-z0-9_.\-\[\]]+==[^"]+)"', dockerfile)
    assert {pin.split("==")[0].split("[")[0] for pin in pins} == {"mlflow", "psycopg", "boto3"}, pins
    venv = workdir / "mlflow-server-venv"
    project.run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    project.run(UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", *pins, timeout=900)
    return venv / "bin" / "python"


def compose_service(project: Project, name: str) -> dict:
    return yaml.safe_load((project.root / "docker-compose.yml").read_text(encoding="utf-8"))["services"][name]


def md5s(root: Path, paths: list[str]) -> dict[str, str]:
    files = [f for p in paths for f in ([root / p] if (root / p).is_file() else sorted((root / p).rglob("*")))]
    return {str(f.relative_to(root)): hashlib.md5(f.read_bytes()).hexdigest() for f in files if f.is_file()}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError:
        return 0, ""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The baked project, trained through MLflow on PostgreSQL + bucket, with the three servers running."""
    started = time.monotonic()
    workdir = tmp_path_factory.mktemp("platform")
    with ExitStack() as stack:
        postgres = stack.enter_context(PostgresServer())
        s3, endpoint = moto_server(workdir)
        stack.enter_context(s3)
        project = bake(SERVING, TRACKING, workdir)
        install(project)
        server_python = mlflow_server_env(project, workdir)

        # The compose file's one-shot `bucket` job, then its `mlflow` command with this machine's addresses.
        s3_env = project.env | KEYS | {"MLFLOW_S3_ENDPOINT_URL": endpoint}
        bucket_job = compose_service(project, "bucket")["command"]
        assert bucket_job[:2] == ["python", "-c"], bucket_job
        project.run(server_python, "-c", bucket_job[2], env=s3_env)
        mlflow_port = free_port()
        command = [str(server_python), "-m"]
        for arg in compose_service(project, "mlflow")["command"]:
            if arg.startswith("--backend-store-uri="):
                assert arg.endswith("@mlflow-db:5432/mlflow"), arg
                arg = f"--backend-store-uri={postgres.url('mlflow')}"
            elif arg.startswith("--host="):
                arg = "--host=127.0.0.1"
            elif arg.startswith("--port="):
                arg = f"--port={mlflow_port}"
            command.append(arg)
        assert f"--artifacts-destination=s3://{BUCKET}/mlflow" in command and "--serve-artifacts" in command
        mlflow = Stoppable(
            command,
            cwd=workdir,
            env=s3_env | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            ready=lambda: get(f"http://127.0.0.1:{mlflow_port}/health")[0] == 200,
            timeout=120,
            log=workdir / "mlflow-server.log",
        )
        stack.enter_context(mlflow)

        # The project's side: the tracking server, and DVC's bucket remote through botocore's endpoint variable.
        # No bucket keys reach MLflow's clients: artifacts go through the server (--serve-artifacts).
        project.env |= {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}"}
        dvc_env = project.env | KEYS | {"AWS_ENDPOINT_URL_S3": endpoint}
        git_commit_all(project, "generated")
        trained = time.monotonic()
        project.run(project.python, "-m", "dvc", "repro", timeout=900)
        yield {
            "project": project,
            "postgres": postgres,
            "s3": boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
                region_name=KEYS["AWS_DEFAULT_REGION"],
            ),
            "dvc_env": dvc_env,
            "workdir": workdir,
            "mlflow": mlflow,
            "timings": {"set up": trained - started, "dvc repro": time.monotonic() - trained},
        }


@pytest.mark.parametrize("pair", [pytest.param((SERVING, TRACKING), id=f"platform-{SERVING}-{TRACKING}")])
def test_train_serve_and_monitor_on_postgres_and_a_bucket(platform: dict, pair: tuple[str, str]) -> None:
    project: Project = platform["project"]
    postgres: PostgresServer = platform["postgres"]
    s3 = platform["s3"]
    timings: dict[str, float] = platform["timings"]

    # MLflow: runs and registry in PostgreSQL, the champion alias readable by any MlflowClient, artifacts on the bucket.
    read_champion = (
        f"import json, mlflow; c = mlflow.MlflowClient(); name = {project.package!r};"
        " v = c.get_registered_model(name).aliases['champion']; mv = c.get_model_version(name, v);"
        " print(json.dumps({'version': str(v), 'run': mv.run_id,"
        " 'artifact_uri': c.get_run(mv.run_id).info.artifact_uri}))"
    )
    champion = json.loads(project.run(project.python, "-c", read_champion).stdout)
    assert champion["artifact_uri"].startswith("mlflow-artifacts:"), champion  # proxied by the server
    assert postgres.count("mlflow", "SELECT count(*) FROM registered_models") == 1
    assert postgres.count("mlflow", "SELECT count(*) FROM model_versions") >= 1
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="mlflow/").get("Contents", [])]
    assert any(key.endswith("/model.skops") for key in stored), stored

    # DVC: push to the bucket, lose the cache and the outputs, pull them back byte for byte.
    started = time.monotonic()
    dvc = [project.python, "-m", "dvc"]
    env = platform["dvc_env"]
    project.run(*dvc, "push", "-r", "bucket", env=env)
    pushed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="dvc/").get("Contents", [])]
    assert pushed, "dvc push wrote nothing to the bucket"
    outputs = ["data/prepared", "models/challenger.skops"]  # the pipeline's cached outputs
    before = md5s(project.root, outputs)
    assert len(before) >= 3, before
    shutil.rmtree(project.root / ".dvc" / "cache")
    shutil.rmtree(project.root / "data" / "prepared")
    (project.root / "models" / "challenger.skops").unlink()
    project.run(*dvc, "pull", "-r", "bucket", env=env)
    assert md5s(project.root, outputs) == before
    assert "up to date" in project.run(*dvc, "status", env=env).stdout
    timings["dvc push/pull"] = time.monotonic() - started

    # The service: the champion from the registry (no MODEL_DIR), predictions and feedback into PostgreSQL.
    started = time.monotonic()
    store = postgres.url("predictions")
    port = free_port()
    service_env = {k: v for k, v in project.env.items() if k != "MODEL_DIR"} | {
        "PREDICTION_STORE_URL": store,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SERVICE_URL": f"http://127.0.0.1:{port}",
    }
    workdir: Path = platform["workdir"]
    traffic, scored = workdir / "traffic.csv", workdir / "scored.csv"
    project.cli("simulate", "--output", traffic, "--rows", str(ROWS), "--labels")
    with running(
        [str(project.python), "-m", project.package, "serve"],
        cwd=project.root,
        env=service_env,
        ready=lambda: get(f"http://127.0.0.1:{port}/ready")[0] == 200,
        timeout=120,
        log=workdir / "service.log",
    ):
        sent = project.cli("send", traffic, "--output", scored, env=service_env).stdout
        assert f"{ROWS} predictions by model version {champion['version']}" in sent, sent
        assert f"{ROWS} outcomes recorded" in project.cli("send-outcomes", scored, env=service_env).stdout
    # Stopped by SIGTERM: the service drained its queue before exiting.
    assert postgres.count("predictions", "SELECT count(*) FROM predictions") == ROWS
    assert postgres.count("predictions", "SELECT count(*) FROM feedback") == ROWS
    assert postgres.count("predictions", "SELECT count(DISTINCT model_version) FROM predictions") == 1
    champion_rows = f"SELECT count(*) FROM predictions WHERE model_version = '{champion['version']}'"
    assert postgres.count("predictions", champion_rows) == ROWS
    assert not (project.root / "predictions.db").exists()  # no silent SQLite beside it
    timings["serve + traffic"] = time.monotonic() - started

    # The monitors read them back from PostgreSQL.
    started = time.monotonic()
    monitor_env = project.env | {"PREDICTION_STORE_URL": store}
    drift = project.cli("drift", env=monitor_env)
    assert "from the prediction store" in drift.stdout, drift.stdout
    performance = project.cli("performance", env=monitor_env)
    assert f"on {ROWS} outcomes from /feedback" in performance.stdout, performance.stdout
    timings["drift + performance"] = time.monotonic() - started

    # A wrong URL, then a stopped PostgreSQL: one line at start-up, exit 2, no traceback, no SQLite file instead.
    started = time.monotonic()
    for url in (postgres.url("predictions", port=free_port()), None):
        if url is None:
            platform["mlflow"].stop()  # the database's clients first
            postgres.stop()
            url = store
        for args in (["serve"], ["drift"]) if url == store else (["serve"],):
            failed = project.cli(*args, check=False, env=service_env | {"PREDICTION_STORE_URL": url}, timeout=120)
            assert failed.returncode == 2, failed.stdout + failed.stderr
            lines = failed.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: cannot open the prediction store"), failed.stderr
            assert PASSWORD not in failed.stderr and "postgresql+psycopg://***@127.0.0.1:" in lines[0]
    assert not (project.root / "predictions.db").exists()
    timings["failures"] = time.monotonic() - started
    print("platform timings (s):", {name: round(seconds, 1) for name, seconds in timings.items()})
