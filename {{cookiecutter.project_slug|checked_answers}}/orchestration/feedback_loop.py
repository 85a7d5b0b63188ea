"""The feedback loop as a Prefect flow: check drift and performance; on an alert retrain (prepare -> train ->
evaluate), let the gate decide, and export the new champion if it won.

    make flow                                        # once, now, on a temporary local Prefect API
    .venv-orchestrator/bin/python orchestration/feedback_loop.py --serve   # the deployment, on its schedule

With PREFECT_API_URL unset, Prefect starts a temporary local API for the run; point PREFECT_API_URL at your Prefect
server (or Prefect Cloud) and the same command records the run there, and `--serve` registers the deployment.
Each task calls the project's CLI through loop_steps.py: the pipeline itself lives in dvc.yaml, nowhere else.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict

from loop_steps import CHECKS, PACKAGE, STAGES, LoopRun, check, export_champion, promoted, retrain
from prefect import flow, task

SCHEDULE = os.environ.get("LOOP_SCHEDULE", "17 5 * * *")
"""Cron, UTC: daily at 05:17, like the GitHub Actions monitor it replaces (LOOP_SCHEDULE overrides it)."""


@task(task_run_name="check {name}")
def check_task(name: str) -> str:
    return check(name).value


@task(task_run_name="dvc repro {stage}")
def retrain_task(stage: str) -> None:
    retrain(stage)


@task(task_run_name="gate")
def gate_task() -> bool:
    return promoted()


@task(task_run_name="export champion")
def export_task() -> None:
    export_champion()


@flow(name=f"{PACKAGE.replace('_', '-')}-feedback-loop", log_prints=True)
def feedback_loop() -> dict:
    """One pass of monitor -> alert -> retrain -> gate -> export; the summary is also in reports/loop.json."""
    run = LoopRun()
    for name in CHECKS:  # one after the other: both read the same store, and a second CPU would not make it faster
        run.verdicts[name] = check_task(name)
    if run.alert:
        for stage in STAGES:
            retrain_task(stage)
        run.retrained = True
        run.promoted = gate_task()
        if run.promoted:
            export_task()
    run.finish()
    return asdict(run)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the feedback loop once, or serve it on its schedule.")
    parser.add_argument("--serve", action="store_true", help=f"Serve the deployment on its schedule ({SCHEDULE}).")
    if parser.parse_args().serve:
        feedback_loop.serve(name="daily", cron=SCHEDULE)
    else:
        feedback_loop()


if __name__ == "__main__":
    main()
