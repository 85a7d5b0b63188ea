"""The feedback loop on a real orchestrator: a project generated with `orchestrator=prefect` or `airflow` is trained,
its REST service takes drifted traffic and poorly predicted outcomes through the project's own clients, and then
`make flow` runs the loop once: Prefect on its temporary local API, Airflow with `airflow dags test` on a SQLite
metadata database. Both must see the alert, retrain stage by stage, let the gate decide, and record the run in the
orchestrator's own database.

Each orchestrator gets a pair and environment manager the rest of the tier does not build with it, so the loop is
checked with uv (Prefect) and with pip (Airflow). The orchestrator is installed by `make flow` itself, into
.venv-orchestrator, as a user's first run would.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import group_name
from .processes import free_port, port_open, running
from .projects import UV, Project, bake, git_commit_all, install

# `make test-e2e` runs ids holding "fastapi-" or "grpc-" in one process and the rest in the other: one case each.
CASES = [
    pytest.param("prefect", "fastapi", "mlflow", "uv", id="prefect-" + group_name("fastapi", "mlflow")),
    pytest.param("airflow", "fastapi", "none", "conda", id="airflow-rest-none"),
]
ROWS = 400


def fill_store_with_drift(project: Project, workdir: Path) -> None:
    """Drifted rows through the running service (`send`), their outcomes through `/feedback` (`send-outcomes`)."""
    rows = workdir / "drifted.csv"
    project.cli("simulate", "--rows", str(ROWS), "--drift", "--labels", "--label-noise", "0.45", "--output", rows)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = project.env | {"PORT": str(port), "HOST": "127.0.0.1"}
    command = [str(project.python), "-m", project.package, "serve"]
    with running(command, cwd=project.root, env=env, ready=lambda: port_open(port), timeout=120):
        scored = workdir / "scored.csv"
        deadline = time.monotonic() + 60
        while project.cli("send", rows, "--output", scored, "--url", url, check=False).returncode != 0:
            assert time.monotonic() < deadline, "the service never became ready to predict"
            time.sleep(1)
        project.cli("send-outcomes", scored, "--url", url)


def sqlite_rows(database: Path, query: str) -> list[tuple]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(query).fetchall()


def assert_prefect_recorded_the_run(prefect_home: Path) -> None:
    database = prefect_home / "prefect.db"
    assert database.is_file(), f"Prefect's local API kept no database in {prefect_home}"
    flows = sqlite_rows(database, "SELECT state_type FROM flow_run")
    assert flows == [("COMPLETED",)], flows
    tasks = dict(sqlite_rows(database, "SELECT name, state_type FROM task_run"))
    for name in (
        "check drift",
        "check performance",
        "dvc repro prepare",
        "dvc repro train",
        "dvc repro evaluate",
        "gate",
    ):
        assert tasks.get(name) == "COMPLETED", (name, tasks)


def assert_airflow_recorded_the_run(airflow_home: Path, dag_id: str) -> None:
    database = airflow_home / "airflow.db"
    assert sqlite_rows(database, f"SELECT state FROM dag_run WHERE dag_id = '{dag_id}'") == [("success",)]
    states = dict(sqlite_rows(database, f"SELECT task_id, state FROM task_instance WHERE dag_id = '{dag_id}'"))
    for task_id in ("check_drift", "check_performance", "on_alert", "retrain_prepare", "retrain_train"):
        assert states.get(task_id) == "success", (task_id, states)
    for task_id in ("retrain_evaluate", "gate_task", "summary"):
        assert states.get(task_id) == "success", (task_id, states)
    assert states.get("export_task") in ("success", "skipped"), states


@pytest.mark.parametrize(("orchestrator", "serving", "tracking", "env_manager"), CASES)
def test_the_loop_retrains_on_an_alert_and_the_gate_decides(
    orchestrator: str, serving: str, tracking: str, env_manager: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp(f"{orchestrator}-loop")
    project = bake(serving, tracking, workdir, orchestrator=orchestrator, env_manager=env_manager)
    assert not (project.root / ".github" / "workflows" / "monitor.yml").exists(), "the orchestrator replaces it"
    install(project)
    git_commit_all(project, "generated")
    project.run(project.python, "-m", "dvc", "repro", timeout=900)
    trained = json.loads((project.root / "reports" / "promotion.json").read_text(encoding="utf-8"))
    fill_store_with_drift(project, workdir)

    env = project.env | {"PREFECT_HOME": str(workdir / "prefect-home")}
    env |= {"UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}  # as install() runs `make setup`
    started = time.time()
    flow = project.run("make", "flow", f"UV={UV}", env=env, timeout=1500)

    loop = json.loads((project.root / "reports" / "loop.json").read_text(encoding="utf-8"))
    log = flow.stdout + flow.stderr  # Prefect and Airflow log to stderr, the steps print to stdout
    assert loop["verdicts"]["drift"] == "alert", log[-3000:]
    assert loop["verdicts"]["performance"] in ("alert", "ok"), loop  # judged, on enough outcomes
    assert loop["retrained"] is True
    assert isinstance(loop["promoted"], bool), "the gate decided"
    decision = project.root / "reports" / "promotion.json"
    assert decision.stat().st_mtime > started, "evaluate ran again: the gate judged a new challenger"
    assert json.loads(decision.read_text(encoding="utf-8"))["promoted"] is loop["promoted"]
    assert trained["promoted"] is True, "the first training promoted its model: the loop's challenger met a champion"
    assert "dvc repro --force --single-item train" in log, "retraining ran through the project's DVC pipeline"
    project.run(project.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_orchestration.py")

    if orchestrator == "prefect":
        assert_prefect_recorded_the_run(workdir / "prefect-home")
        schedule = project.run(
            project.root / ".venv-orchestrator" / "bin" / "python",
            "-c",
            "import sys; sys.path.insert(0, 'orchestration'); from feedback_loop import SCHEDULE, feedback_loop; "
            "d = feedback_loop.to_deployment(name='daily', cron=SCHEDULE); print(d.schedules[0].schedule.cron)",
            env=env,
        )
        assert schedule.stdout.strip().splitlines()[-1] == "17 5 * * *"
    else:
        dag_id = f"{project.package}_feedback_loop"
        assert_airflow_recorded_the_run(project.root / ".airflow", dag_id)
        bag = project.run(
            project.root / ".venv-orchestrator" / "bin" / "python",
            "-c",
            "from airflow.dag_processing.dagbag import DagBag; b = DagBag('orchestration'); "
            "crons = [d.schedule for d in b.dags.values()]; "
            "print(len(b.import_errors), sorted(b.dags), crons)",
            env=env | {"AIRFLOW_HOME": str(project.root / ".airflow")},
        )
        assert bag.stdout.strip().splitlines()[-1] == f"0 ['{dag_id}'] ['17 5 * * *']"
