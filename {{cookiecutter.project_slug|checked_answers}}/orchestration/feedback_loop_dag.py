"""The feedback loop as an Airflow DAG: check drift and performance; on an alert retrain (prepare -> train ->
evaluate), let the gate decide, and export the new champion if it won.

    make flow        # one run now: `airflow dags test` on a local SQLite metadata database (.airflow/)

In a deployment, copy this file and loop_steps.py into the DAGs folder and set PROJECT_DIR (a checkout of this
project) and PROJECT_PYTHON (its environment's interpreter) for the workers. Each task calls the project's CLI
through loop_steps.py: the pipeline itself lives in dvc.yaml, nowhere else.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from airflow.sdk import chain, dag, task

# Airflow puts its DAGs folder on sys.path when it starts; a bare DagBag (as in tests) does not.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loop_steps import CHECKS, PACKAGE, STAGES, LoopRun, Verdict, check, export_champion, promoted, retrain

SCHEDULE = os.environ.get("LOOP_SCHEDULE", "17 5 * * *")
"""Cron, UTC: daily at 05:17, like the GitHub Actions monitor it replaces (LOOP_SCHEDULE overrides it)."""
DAG_ID = f"{PACKAGE}_feedback_loop"


@dag(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # one retraining at a time
    tags=["mlops", PACKAGE],
    doc_md=__doc__,
)
def feedback_loop() -> None:
    @task
    def check_task(name: str) -> str:
        return check(name).value

    @task.branch
    def on_alert(verdicts: list[str]) -> str:
        return "retrain_prepare" if Verdict.ALERT.value in verdicts else "summary"

    @task
    def retrain_task(stage: str) -> None:
        retrain(stage)

    @task
    def gate_task() -> bool:
        return promoted()

    @task.short_circuit(ignore_downstream_trigger_rules=False)  # skips the export only, never the summary
    def if_promoted(won: bool) -> bool:
        return won

    @task
    def export_task() -> None:
        export_champion()

    @task(trigger_rule="none_failed_min_one_success")  # after the branch it took, whichever
    def summary(verdicts: list[str], ti=None) -> None:  # Airflow passes the task instance as `ti`
        won = ti.xcom_pull(task_ids="gate_task")  # None when the branch skipped retraining
        run = LoopRun(verdicts=dict(zip(CHECKS, verdicts, strict=True)), retrained=won is not None, promoted=won)
        run.finish()

    verdicts = [check_task.override(task_id=f"check_{name}")(name) for name in CHECKS]
    branch = on_alert(verdicts)
    stages = [retrain_task.override(task_id=f"retrain_{stage}")(stage) for stage in STAGES]
    won = gate_task()
    exported = export_task()
    chain(branch, *stages, won)
    if_promoted(won) >> exported
    done = summary(verdicts)
    branch >> done
    exported >> done


feedback_loop()
