"""Time a new user's path from nothing to a first prediction: generate -> setup -> train -> serve -> first answer.

Every step is the command the generated README gives (`cookiecutter`, `make setup`, `make train`, `make serve`, the
project's own `send` client; batch and edge: `make predict`, the first scored file), run in a temporary directory
with a warm package cache: by default each environment manager's path runs once untimed first, so downloads are not
what is measured. Both environment managers run in the same invocation, so the ratio compares them on the same
machine and load: `uv` (uv.lock, `uv sync`) against `conda`, which without conda installed is what its `make setup`
does, a venv and `pip install -e .[dev]`.

Run by a human (not a test), from the template checkout with its test environment (cookiecutter, uv):
`python tools/first_prediction.py [--serving fastapi] [--env-manager uv --env-manager conda] [--no-warm-up]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.processes import free_port, port_open, running  # noqa: E402  (the e2e tier's process helpers, reused)

BIN = Path(sys.executable).parent
STEPS = ("generate", "setup", "train", "serve", "first prediction")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serving", default="fastapi", choices=["fastapi", "grpc", "batch", "edge"])
    parser.add_argument("--env-manager", action="append", choices=["uv", "conda"], dest="managers")
    parser.add_argument("--no-warm-up", action="store_true", help="Time the first run (cold caches included).")
    args = parser.parse_args()
    managers = args.managers or ["uv", "conda"]
    for tool in ("cookiecutter", "uv"):
        if not (BIN / tool).is_file():
            sys.exit(f"first_prediction: {tool} is not installed next to {sys.executable}: pip install -e '.[test]'")

    results: dict[str, dict[str, float]] = {}
    for manager in managers:
        if not args.no_warm_up:
            print(f"[{manager}] warm-up run (untimed): fills the package caches", flush=True)
            path_to_first_prediction(args.serving, manager)
        print(f"[{manager}] timed run", flush=True)
        results[manager] = path_to_first_prediction(args.serving, manager)
    report(args.serving, results)


def path_to_first_prediction(serving: str, manager: str) -> dict[str, float]:
    """Seconds per step of one fresh project; the project is deleted afterwards."""
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="first-prediction-") as scratch:
        work = Path(scratch)
        env = user_env(work)
        command = [BIN / "cookiecutter", "--no-input", "-o", work, ROOT, f"serving={serving}", f"env_manager={manager}"]
        timed(seconds, "generate", lambda: run(command, cwd=work, env=env))
        project = work / "churn-model"
        timed(seconds, "setup", lambda: run(["make", "setup"], cwd=project, env=env))
        timed(seconds, "train", lambda: run(["make", "train"], cwd=project, env=env))
        if serving in ("fastapi", "grpc"):
            serve_and_predict(project, serving, env, seconds)
        else:
            timed(seconds, "first prediction", lambda: run(["make", "predict"], cwd=project, env=env))
    return seconds


def timed(seconds: dict[str, float], name: str, action: Callable[[], object]) -> None:
    start = time.monotonic()
    action()
    record(seconds, name, time.monotonic() - start)


def record(seconds: dict[str, float], name: str, value: float) -> None:
    seconds[name] = value
    print(f"  {name:<17} {value:6.1f} s", flush=True)


def serve_and_predict(project: Path, serving: str, env: dict[str, str], seconds: dict[str, float]) -> None:
    """`make serve` until the service is ready (serve), then the project's own client sends one row (first
    prediction: the client's start-up included, as a user lives it)."""
    port, metrics_port = free_port(), free_port()
    serve_env = env | {"HOST": "127.0.0.1", "PORT": str(port), "METRICS_PORT": str(metrics_port)}
    python, package, rows, scored = (
        project / ".venv/bin/python",
        "churn_model",
        project / "rows.csv",
        project / "out.csv",
    )
    run([python, "-m", package, "simulate", "--output", rows, "--rows", "1"], cwd=project, env=env)
    if serving == "fastapi":
        client = [python, "-m", package, "send", rows, "-o", scored, "--url", f"http://127.0.0.1:{port}"]
        ready = lambda: answers(f"http://127.0.0.1:{port}/ready")  # noqa: E731
    else:
        client = [python, "-m", f"{package}.serving.grpc_client", "--target", f"127.0.0.1:{port}"]
        client += ["--input", rows, "--output", scored]
        ready = lambda: port_open(port)  # noqa: E731  (the server binds once the champion is loaded)
    start = time.monotonic()
    with running(["make", "serve"], cwd=project, env=serve_env, ready=ready, timeout=300):
        record(seconds, "serve", time.monotonic() - start)
        timed(seconds, "first prediction", lambda: run(client, cwd=project, env=env))


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def user_env(work: Path) -> dict[str, str]:
    """A shell as a new user has it: uv on PATH, no active virtual environment, cookiecutter without ~/.cookiecutterrc,
    no telemetry; the package caches are the machine's own (warm after the first run)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "PYTHON", "MLFLOW_"))}
    config = work / "cookiecutter.yaml"
    config.write_text(f"replay_dir: {work / 'replay'}\ncookiecutters_dir: {work / 'cookiecutters'}\n", encoding="utf-8")
    system_path = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if Path(p) != BIN)
    env.update(
        PATH=f"{uv_only_dir(work)}{os.pathsep}{system_path}",
        COOKIECUTTER_CONFIG=str(config),
        DVC_NO_ANALYTICS="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        UV_PYTHON=shutil.which("python3", path=system_path) or sys.executable,
    )
    return env


def uv_only_dir(work: Path) -> Path:
    """A directory holding only `uv`: the template's own venv must not leak its other tools into the user's PATH."""
    bin_dir = work / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").symlink_to(BIN / "uv")
    return bin_dir


def run(command: list, *, cwd: Path, env: dict[str, str]) -> None:
    result = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(
            f"{' '.join(map(str, command))} exited {result.returncode}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


def report(serving: str, results: dict[str, dict[str, float]]) -> None:
    managers = list(results)
    print(f"\nserving={serving}, seconds per step (warm caches)")
    print(f"{'step':<18}" + "".join(f"{manager:>10}" for manager in managers))
    for name in STEPS:
        if any(name in result for result in results.values()):
            print(f"{name:<18}" + "".join(f"{results[m].get(name, float('nan')):10.1f}" for m in managers))
    totals = {manager: sum(result.values()) for manager, result in results.items()}
    print(f"{'total':<18}" + "".join(f"{totals[m]:10.1f}" for m in managers))
    if {"uv", "conda"} <= set(totals):
        print(f"uv / conda (pip) total: {totals['uv'] / totals['conda']:.2f}")


if __name__ == "__main__":
    main()
