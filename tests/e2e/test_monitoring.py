"""Monitoring on real traffic: each serving style that logs predictions fills the project's prediction store, then
the drift and performance jobs run through the project's CLI.

REST gets rows POSTed to /predict and outcomes to /feedback; gRPC gets the project's own client example; batch
scores a file. Undrifted traffic must pass the drift job (exit 0) and drifted traffic must fail it (exit 1, with
drift.json saying so); true outcomes must pass the performance job and degraded ones must alert (exit 1).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from .conftest import pair_params
from .container import Image
from .processes import free_port, port_open, running
from .projects import Project

PAIRS = [("fastapi", "mlflow"), ("grpc", "none"), ("batch", "wandb")]
ROWS = 300
NOISE = 0.45  # share of outcomes flipped: accuracy falls well below monitoring.min_accuracy
SOURCES = {"fastapi": "rest", "grpc": "grpc", "batch": "batch"}


Row = dict[str, str]


def read_rows(path: Path) -> list[Row]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[Row]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def json_value(text: str) -> float | str | None:
    """A CSV cell as a client would send it: empty is missing, numbers are numbers, the rest is text."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


class Traffic:
    """Sends a CSV of simulated rows through one serving style; returns (prediction_id, actual) per row, in order."""

    def __init__(self, project: Project, workdir: Path) -> None:
        self.project, self.workdir = project, workdir

    def send(self, rows: Path) -> list[Row]:
        raise NotImplementedError

    def report_outcomes(self, outcomes: list[Row]) -> list[str]:
        """CLI arguments that make `performance` read these outcomes (prediction_id, actual)."""
        labels = self.workdir / f"labels-{len(list(self.workdir.glob('labels-*')))}.csv"
        write_rows(labels, outcomes)
        return ["--labels", str(labels)]

    def __enter__(self) -> Traffic:
        return self

    def __exit__(self, *exc_info: object) -> None:
        pass


class RestTraffic(Traffic):
    def __enter__(self) -> RestTraffic:
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        env = self.project.env | {"HOST": "127.0.0.1", "PORT": str(port)}
        self._server = running(
            [str(self.project.python), "-m", self.project.package, "serve"],
            cwd=self.project.root,
            env=env,
            ready=lambda: port_open(port) and self._status("/ready") == 200,
            timeout=120,
            log=self.workdir / "rest.log",
        )
        self._server.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.__exit__(*exc_info)  # SIGTERM: the service drains its prediction log before exiting

    def send(self, rows: Path) -> list[Row]:
        table = read_rows(rows)
        records = [{k: json_value(v) for k, v in row.items() if k != "actual"} for row in table]
        ids: list[str] = []
        for start in range(0, len(records), 50):
            status, body = self._post("/predict", {"instances": records[start : start + 50]})
            assert status == 200, body
            ids.extend(body["prediction_ids"])
        return [{"prediction_id": id_, "actual": row["actual"]} for id_, row in zip(ids, table, strict=True)]

    def report_outcomes(self, outcomes: list[Row]) -> list[str]:
        for outcome in outcomes:
            payload = {"prediction_id": outcome["prediction_id"], "actual": int(outcome["actual"])}
            status, body = self._post("/feedback", payload)
            assert status == 202, body
        return []  # the job reads the outcomes /feedback stored

    def _post(self, path: str, payload: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.base + path, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, {"error": error.read().decode(errors="replace")}

    def _status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.base + path, timeout=2) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0


class GrpcTraffic(Traffic):
    def __enter__(self) -> GrpcTraffic:
        self.port = free_port()
        env = self.project.env | {"HOST": "127.0.0.1", "PORT": str(self.port)}
        self._server = running(
            [str(self.project.python), "-m", self.project.package, "serve"],
            cwd=self.project.root,
            env=env,
            ready=self._serving,
            timeout=120,
            log=self.workdir / "grpc.log",
        )
        self._server.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.__exit__(*exc_info)

    def _serving(self) -> bool:
        """The port opens before the champion loads; the image's own HEALTHCHECK says when it serves."""
        if not port_open(self.port):
            return False
        health = Image.parse(self.project.root / "Dockerfile").healthcheck
        assert health and health[0] == "python", health
        check = subprocess.run(
            [str(self.project.python), *health[1:]],
            env=self.project.env | {"PORT": str(self.port)},
            capture_output=True,
            check=False,
            timeout=30,
        )
        return check.returncode == 0

    def send(self, rows: Path) -> list[Row]:
        scored = rows.with_name(f"{rows.stem}-scored.csv")
        client = f"{self.project.package}.serving.grpc_client"
        target = f"127.0.0.1:{self.port}"
        self.project.run(self.project.python, "-m", client, "--target", target, "--input", rows, "--output", scored)
        return outcomes_of(scored)


class BatchTraffic(Traffic):
    def send(self, rows: Path) -> list[Row]:
        scored = rows.with_name(f"{rows.stem}-scored.csv")
        self.project.cli("predict", "--input", rows, "--output", scored)
        return outcomes_of(scored)


TRAFFIC = {"fastapi": RestTraffic, "grpc": GrpcTraffic, "batch": BatchTraffic}


def outcomes_of(scored: Path) -> list[Row]:
    """The scored file keeps the input's other columns (here `actual`) next to each prediction id."""
    return [{"prediction_id": row["prediction_id"], "actual": row["actual"]} for row in read_rows(scored)]


def logged_predictions(store: Path, expected: int, timeout: float = 30.0) -> int:
    """Wait until the service's background writer has stored `expected` predictions; return how many it has."""
    deadline = time.monotonic() + timeout
    while True:
        with closing(sqlite3.connect(store)) as db:
            count = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


@pytest.mark.parametrize(("serving", "tracking"), pair_params(PAIRS))
def test_monitors_judge_real_traffic(project, serving: str, tracking: str, tmp_path: Path) -> None:
    base = project(serving, tracking)
    store = tmp_path / "predictions.db"  # this test's own store, so other tests' traffic does not count
    env = {k: v for k, v in base.env.items() if k != "API_KEY"} | {"PREDICTION_STORE_URL": f"sqlite:///{store}"}
    p = dataclasses.replace(base, env=env)

    def simulate(name: str, *options: str) -> Path:
        path = tmp_path / name
        p.cli("simulate", "--rows", str(ROWS), "--labels", "--output", path, *options)
        return path

    def job(*args: str) -> tuple[int, dict]:
        result = p.cli(*args, check=False)
        assert result.returncode in (0, 1), f"{args} exited {result.returncode}: {result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr
        report = json.loads((p.root / "reports" / f"{args[0]}.json").read_text(encoding="utf-8"))
        return result.returncode, report

    normal = simulate("normal.csv", "--seed", "11")
    degraded = read_rows(simulate("degraded.csv", "--seed", "11", "--label-noise", str(NOISE)))  # same rows
    drifted = simulate("drifted.csv", "--seed", "12", "--drift")

    with TRAFFIC[serving](p, tmp_path) as traffic:
        served = traffic.send(normal)
        assert len({row["prediction_id"] for row in served}) == ROWS
        assert logged_predictions(store, ROWS) == ROWS
        code, drift = job("drift", "--window", str(ROWS))
        assert (code, drift["drift_detected"], drift["current_rows"]) == (0, False, ROWS), drift

        code, performance = job("performance", *traffic.report_outcomes(served))
        assert (code, performance["alert"], performance["outcomes"]) == (0, False, ROWS), performance

        flipped = [row | {"actual": wrong["actual"]} for row, wrong in zip(served, degraded, strict=True)]
        code, performance = job("performance", *traffic.report_outcomes(flipped))
        assert (code, performance["alert"]) == (1, True), performance
        assert performance["metrics"]["accuracy"] < 0.65
        assert performance["health"]["requests"] >= 1 and performance["health"]["error_rate"] == 0.0

        traffic.send(drifted)
        assert logged_predictions(store, 2 * ROWS) == 2 * ROWS
        code, drift = job("drift", "--window", str(ROWS))
        assert (code, drift["drift_detected"]) == (1, True), drift
        assert drift["share_drifted_columns"] >= drift["drift_share_threshold"]

        # `make monitor` runs performance even though drift alerts; the worse exit decides (make shows it)
        alone = {check: p.cli(check, check=False) for check in ("drift", "performance")}
        assert alone["drift"].returncode == 1, alone["drift"].stdout + alone["drift"].stderr
        made = p.run("make", "--no-print-directory", "monitor", f"PYTHON={p.python}", check=False)
        worst = max(result.returncode for result in alone.values())
        assert made.returncode != 0 and f"monitor] Error {worst}" in made.stderr, made.stdout + made.stderr
        for check, result in alone.items():
            said = (result.stdout + result.stderr).strip().splitlines()[-1]
            assert said in made.stdout + made.stderr, f"make monitor did not run {check}:\n{made.stdout}{made.stderr}"

    with closing(sqlite3.connect(store)) as db:
        sources = {source for (source,) in db.execute("SELECT DISTINCT source FROM requests")}
    assert sources == {SOURCES[serving]}
    assert logged_predictions(store, 2 * ROWS, timeout=0) == 2 * ROWS  # nothing lost or doubled at shutdown
