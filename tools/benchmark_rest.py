"""Benchmark the generated REST service against `mlflow models serve` on the same champion model.

Bakes the fastapi + mlflow variant into a temporary directory, installs it with uv, trains it (`dvc repro`), starts
our service (`python -m <package> serve`) and MLflow's scoring server (`mlflow models serve -m
models:/<package>@champion --env-manager local`) on free 127.0.0.1 ports, then loads each with the same single-row
request: wrk (Lua script for the POST body) when it is installed, else a threaded keep-alive client at the same
concurrency. Prints requests/s, latency p50/p99 and the server's CPU time per request, and the ratios the
template aims for: our /predict >= 4x MLflow's /invocations and >= 60% of our own /health. Then a workers round:
our service alone with WEB_CONCURRENCY=1, then 2 (`--workers`), single-row /predict, requests/s and CPU per request,
once per prediction store (`--stores sqlite,postgres`: the project's SQLite file, and a PostgreSQL server from
Debian's packages started on 127.0.0.1 for the run and stopped by its pid, as the e2e tier starts it).

Run by a human (not a test):
`python tools/benchmark_rest.py [--duration 15] [--connections 32] [--family random_forest] [--regression]
[--project DIR] [--workers 1,2] [--stores sqlite,postgres] [--workers-only]` (`--regression`: scikit-learn's
diabetes data through `init-data`, a regressor per family; `--workers-only`: skip the MLflow comparison, run only
the workers round).
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.postgres import PostgresServer  # noqa: E402
from tests.e2e.processes import free_port, running  # noqa: E402  (the e2e tier's helpers, reused)
from tests.e2e.projects import Project, bake, git_commit_all, install, project_env  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float
    errors: int
    tool: str


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15, help="Seconds of load per target.")
    parser.add_argument("--connections", type=int, default=32, help="Concurrent keep-alive connections.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (one per core here).")
    parser.add_argument("--project", type=Path, help="Reuse this baked and trained fastapi+mlflow project.")
    parser.add_argument(
        "--family", default="random_forest", help="train.family of the baked project (random_forest, ...)."
    )
    parser.add_argument(
        "--regression", action="store_true", help="Train on scikit-learn's diabetes data (a regression target)."
    )
    parser.add_argument("--keep", action="store_true", help="Keep the baked project (its path is printed).")
    parser.add_argument("--no-wrk", action="store_true", help="Use the Python client even when wrk is installed.")
    parser.add_argument("--batch-rows", type=int, default=100, help="Rows per request of the batch round (0: skip).")
    parser.add_argument(
        "--workers", default="1,2", help="WEB_CONCURRENCY values of the workers round, comma-separated ('': skip)."
    )
    parser.add_argument("--workers-only", action="store_true", help="Only the workers round (no MLflow comparison).")
    parser.add_argument(
        "--stores", default="sqlite", help="Prediction stores of the workers round, comma-separated: sqlite, postgres."
    )
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]

    workdir = Path(tempfile.mkdtemp(prefix="benchmark-rest-"))
    try:
        project = reuse(args.project) if args.project else build(workdir, args.family, regression=args.regression)
        row = first_complete_row(project)
        wrk = None if args.no_wrk else shutil.which("wrk")
        if not args.workers_only:
            results = measure(project, row, args, wrk, workdir)
            report(results, args, wrk, row)
        if worker_counts:
            results = []
            for store in [name.strip() for name in args.stores.split(",") if name.strip()]:
                results += measure_store(store, project, row, args, wrk, workdir, worker_counts)
            report_workers(results, args, wrk)
    finally:
        if args.keep:
            print(f"kept in {workdir} (baked project, server logs)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)  # with --project it holds only logs and the Lua script


DIABETES = (
    "import sys; from sklearn.datasets import load_diabetes;"
    " load_diabetes(as_frame=True, scaled=False).frame.to_csv(sys.argv[1], index=False)"
)


def build(workdir: Path, family: str, *, regression: bool = False) -> Project:
    print(f"baking fastapi + mlflow into {workdir} ...", flush=True)
    project = bake("fastapi", "mlflow", workdir)
    install(project)
    git_commit_all(project, "generated")  # DVC (init-data's `dvc add`) needs the repository
    if regression:
        csv_file = workdir / "diabetes.csv"
        project.run(project.python, "-c", DIABETES, csv_file)
        print(project.run("make", "init-data", f"CSV={csv_file}", "TARGET=target").stdout, flush=True)
    params = project.root / "params.yaml"
    text, count = re.subn(r"(?m)^(  family: )random_forest", rf"\g<1>{family}", params.read_text(encoding="utf-8"))
    if count != 1:
        raise SystemExit("params.yaml has no train.family to set")
    params.write_text(text, encoding="utf-8")
    git_commit_all(project, f"train {family}")
    print(f"training {family} (dvc repro) ...", flush=True)
    started = time.perf_counter()
    project.run(project.python, "-m", "dvc", "repro", timeout=1800)
    print(f"dvc repro took {time.perf_counter() - started:.1f} s", flush=True)
    return project


def reuse(root: Path) -> Project:
    root = root.resolve()
    package = root.name.replace("-", "_")
    return Project("fastapi", "mlflow", root, package, project_env(root))


def first_complete_row(project: Project) -> dict[str, object]:
    """A real row of the bundled data (no missing values), numbers as floats: the same payload for both servers."""
    params = json.loads(
        project.run(
            project.python, "-c", "import json,yaml; print(json.dumps(yaml.safe_load(open('params.yaml'))['data']))"
        ).stdout
    )
    with (project.root / params["path"]).open(newline="") as handle:
        for record in csv.DictReader(handle):
            row = {name: record[name] for name in [*params["numeric_features"], *params["categorical_features"]]}
            if all(row.values()):
                return {k: float(v) if k in params["numeric_features"] else v for k, v in row.items()}
    raise SystemExit("no complete row in the data")


def measure(project: Project, row: dict[str, object], args: argparse.Namespace, wrk: str | None, workdir: Path):
    ours_port, mlflow_port = free_port(), free_port()
    env = project.env | {"HOST": "127.0.0.1", "PORT": str(ours_port), "WEB_CONCURRENCY": "1"}
    mlflow_env = project.env | {"MLFLOW_TRACKING_URI": f"sqlite:///{project.root / 'mlflow.db'}"}
    ours_cmd = [str(project.python), "-m", project.package, "serve"]
    mlflow_cmd = [
        str(project.root / ".venv" / "bin" / "mlflow"), "models", "serve", "-m", f"models:/{project.package}@champion",
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
    ]  # fmt: skip
    ours_url, mlflow_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
    ours_body = json.dumps({"instances": [row]}).encode()
    mlflow_body = json.dumps({"dataframe_records": [row]}).encode()
    batch = [row] * args.batch_rows
    results = []
    print("starting both servers ...", flush=True)
    with (
        running(ours_cmd, cwd=project.root, env=env, ready=lambda: ok(f"{ours_url}/ready"), timeout=300,
                log=workdir / "ours.log") as ours,
        running(mlflow_cmd, cwd=project.root, env=mlflow_env, ready=lambda: ok(f"{mlflow_url}/ping"), timeout=300,
                log=workdir / "mlflow.log") as mlflow,
    ):  # fmt: skip
        print("ours  :", post(f"{ours_url}/predict", ours_body))
        print("mlflow:", post(f"{mlflow_url}/invocations", mlflow_body))
        targets = [
            ("ours GET /health", f"{ours_url}/health", None, ours.pid),
            ("ours POST /predict", f"{ours_url}/predict", ours_body, ours.pid),
            ("mlflow POST /invocations", f"{mlflow_url}/invocations", mlflow_body, mlflow.pid),
        ]
        if batch:
            targets += [
                (
                    f"ours /predict x{len(batch)}",
                    f"{ours_url}/predict",
                    json.dumps({"instances": batch}).encode(),
                    ours.pid,
                ),
                (
                    f"mlflow /invocations x{len(batch)}",
                    f"{mlflow_url}/invocations",
                    json.dumps({"dataframe_records": batch}).encode(),
                    mlflow.pid,
                ),
            ]
        for name, url, body, pid in targets:
            load(url, body, args, wrk, workdir, seconds=3)  # warm up: caches, lazy imports, connection pools
            before = group_cpu_seconds(pid)
            result = load(url, body, args, wrk, workdir, seconds=args.duration)
            cpu = group_cpu_seconds(pid) - before
            requests = result.requests_per_second * args.duration
            result.name, result.cpu_us_per_request = name, cpu / max(requests, 1) * 1e6
            results.append(result)
            print(f"{name}: {result.requests_per_second:,.0f} req/s", flush=True)
    return results


def measure_store(
    store: str, project: Project, row: dict[str, object], args: argparse.Namespace, wrk, workdir: Path, counts: list
) -> list[Result]:
    """The workers round on one prediction store: the project's SQLite file, or a PostgreSQL started for it."""
    if store == "sqlite":
        url = f"sqlite:///{workdir / 'predictions.db'}"
        return measure_workers(project, row, args, wrk, workdir, counts, store_url=url, label="SQLite")
    if store != "postgres":
        sys.exit(f"benchmark_rest: unknown store {store!r}: sqlite or postgres")
    with PostgresServer() as server:
        url = server.url("predictions")
        return measure_workers(project, row, args, wrk, workdir, counts, store_url=url, label="PostgreSQL")


def measure_workers(
    project: Project,
    row: dict[str, object],
    args: argparse.Namespace,
    wrk: str | None,
    workdir: Path,
    counts: list,
    *,
    store_url: str,
    label: str,
) -> list[Result]:
    """Our service alone, once per worker count, under the same single-row /predict load (uvicorn's workers share
    one socket; CPU is summed over the supervisor and every worker: they share its process group)."""
    body = json.dumps({"instances": [row]}).encode()
    results = []
    for workers in counts:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = project.env | {"HOST": "127.0.0.1", "PORT": str(port), "WEB_CONCURRENCY": str(workers)}
        env["PREDICTION_STORE_URL"] = store_url
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the service makes a fresh one per run
        command = [str(project.python), "-m", project.package, "serve"]
        print(f"starting our service with {workers} worker(s), store {label} ...", flush=True)
        log = workdir / f"ours-{workers}-workers-{label}.log"
        ready = f"{url}/ready"
        with running(command, cwd=project.root, env=env, ready=lambda: ok(ready), timeout=300, log=log) as ours:  # noqa: B023
            load(f"{url}/predict", body, args, wrk, workdir, seconds=3)  # warm up every worker
            before = group_cpu_seconds(ours.pid)
            result = load(f"{url}/predict", body, args, wrk, workdir, seconds=args.duration)
            cpu = group_cpu_seconds(ours.pid) - before
        requests = result.requests_per_second * args.duration
        result.name = f"/predict, {workers} worker(s), {label}"
        result.cpu_us_per_request = cpu / max(requests, 1) * 1e6
        results.append(result)
        print(f"{result.name}: {result.requests_per_second:,.0f} req/s", flush=True)
    return results


def print_table(results: list[Result], name_width: int) -> None:
    print(f"{'target':<{name_width}}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU us/req':>12}{'errors':>8}")
    for r in results:
        print(
            f"{r.name:<{name_width}}{r.requests_per_second:>10,.0f}{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}"
            f"{r.cpu_us_per_request:>12,.0f}{r.errors:>8}"
        )


def report_workers(results: list[Result], args, wrk: str | None) -> None:
    tool = f"wrk -t{args.threads} -c{args.connections}" if wrk else f"Python client, {args.connections} threads"
    print(f"\nworkers round ({tool}, {args.duration}s each, one row per request; {os.cpu_count()} CPUs)")
    print("machine load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print_table(results, name_width=40)
    first = results[0]
    for other in results[1:]:  # every round against the first (1 worker, the first store), measured in this run
        ratio = other.requests_per_second / first.requests_per_second
        cpu = other.cpu_us_per_request / first.cpu_us_per_request
        print(f"{other.name} vs {first.name}: {ratio:.2f}x req/s, {cpu:.2f}x CPU per request")


def ok(url: str) -> bool:
    try:
        with urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def post(url: str, body: bytes) -> str:
    request = Request(url, data=body, headers={"Content-Type": "application/json"})
    with urlopen(request, timeout=30) as response:
        return response.read().decode()


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every process in the server's process group (MLflow runs uvicorn as a child)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state, ppid, pgrp, ..., utime (11), stime (12)
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def load(url: str, body: bytes | None, args, wrk: str | None, workdir: Path, seconds: int) -> Result:
    if wrk:
        return load_wrk(wrk, url, body, args, workdir, seconds)
    return load_python(url, body, args.connections, seconds)


def load_wrk(wrk: str, url: str, body: bytes | None, args, workdir: Path, seconds: int) -> Result:
    # A 10 s timeout: MLflow's p99 passes wrk's default 2 s here, which would count its slow answers as errors.
    command = [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    if body is not None:
        script = workdir / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body.decode())}\n"
        )
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    return Result("", rps, wrk_ms(output, "50%"), wrk_ms(output, "99%"), 0.0, errors, "wrk")


def wrk_ms(output: str, percentile: str) -> float:
    value, unit = re.search(rf"{re.escape(percentile)}\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load_python(url: str, body: bytes | None, connections: int, seconds: int) -> Result:
    """Fallback load: one thread per connection, keep-alive, fixed duration (the client is slower than wrk)."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    path = "/" + url.split("//")[1].split("/", 1)[1]
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    deadline = time.perf_counter() + seconds

    def worker(index: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            latencies[index].append(time.perf_counter() - started)
            errors[index] += response.status != 200

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = sorted(x for per in latencies for x in per)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))] * 1000
    return Result("", len(every) / elapsed, statistics.median(every) * 1000, p99, 0.0, sum(errors), "python")


def report(results: list[Result], args, wrk: str | None, row: dict[str, object]) -> None:
    tool = (
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s"
        if wrk
        else (f"Python keep-alive client, {args.connections} threads, {args.duration}s")
    )
    print(f"\nload: {tool}; payload: one row, {len(json.dumps(row))} bytes of features; {os.cpu_count()} CPUs")
    print("machine load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print_table(results, name_width=26)
    health, predict, mlflow, *batches = results
    versus_mlflow = predict.requests_per_second / mlflow.requests_per_second
    versus_health = predict.requests_per_second / health.requests_per_second
    print(f"\nsingle row: /predict vs mlflow /invocations: {versus_mlflow:.1f}x (goal >= 4x)")
    print(f"single row: /predict vs our /health: {versus_health:.0%} (goal >= 60%)")
    for r in batches:
        print(f"{r.name}: {r.requests_per_second * args.batch_rows:,.0f} rows/s")


if __name__ == "__main__":
    main()
