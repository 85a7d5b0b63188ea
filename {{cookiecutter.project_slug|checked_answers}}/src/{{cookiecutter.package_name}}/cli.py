"""Command line for every step; DVC stages, the Makefile and CI all call these same commands.

Exit codes: 0 success; 1 the check said no (`promoted` when the challenger was kept out, `drift` or
`performance` when the verdict calls for retraining); 2 anything else that went wrong, explained in one line.
Schedulers read 1 as "retrain", so nothing but a verdict may ever exit 1: `main` maps every uncaught exception,
expected or not, to 2 (click's own usage errors already exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from .config import load_params
from .errors import ProjectError
from .redaction import first_line, redact

app = typer.Typer(
    help="{{ cookiecutter.project_name }}: data -> train -> evaluate -> serve -> monitor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2


@app.command(name="init-data")
def init_data(
    csv: Path = typer.Argument(..., help="Your CSV (copied into data/raw/ when it lies outside the project)."),
    target: str = typer.Option(..., "--target", "-t", help="The column to predict."),
    task: str = typer.Option("auto", help="auto, classification or regression (auto: decided from the target)."),
) -> None:
    """Infer the data section of params.yaml from a CSV (features, bounds, categories, task) and dvc add the file."""
    from .init_data import init_data as infer_schema

    typer.echo(infer_schema(csv, target, task))


@app.command()
def prepare() -> None:
    """Validate the raw data against the schema and split it into train and holdout sets."""
    from .data import prepare as prepare_data
    from .data import write_prepared

    params = load_params()
    prepared = prepare_data(params.data)
    write_prepared(prepared)
    typer.echo(
        f"prepared {len(prepared.train)} train / {len(prepared.test)} test rows"
        f" ({prepared.dropped_rows} rows without a target dropped)"
    )


@app.command()
def train() -> None:
    """Fit the model on the training split and log it to the tracker as the challenger."""
    from .tracking import get_tracker
    from .train import train as train_model

    ref = train_model(load_params(), get_tracker())
    typer.echo(f"challenger {ref.version} logged (run {ref.run_id})")


@app.command()
def evaluate() -> None:
    """Score challenger and champion on the holdout; promote the challenger only if it is better."""
    from .evaluate import evaluate as evaluate_models
    from .tracking import get_tracker

    decision = evaluate_models(load_params(), get_tracker())
    typer.echo(f"{'PROMOTED' if decision.promoted else 'KEPT CHAMPION'}: {decision.reason}")


@app.command()
def promoted() -> None:
    """Exit 0 if the last evaluation promoted the challenger, 1 if not: CI deploys only on 0."""
    from .gate import Decision

    decision = Decision.read()
    typer.echo(decision.reason)
    if not decision.promoted:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command(name="export-champion")
def export_champion(
    output: Path = typer.Option(Path("models/serving"), "--output", "-o", help="Directory the image copies."),
) -> None:
    """Copy the champion out of the tracker into a directory the container image carries ($MODEL_DIR)."""
    from .champion import export_champion as export

    champion = export(output)
    typer.echo(f"champion {champion.version} exported to {output}")


{%- if cookiecutter.serving == "fastapi" %}


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", envvar="HOST", help="Interface to bind (the container sets 0.0.0.0)."),
    port: int = typer.Option(8000, envvar="PORT", help="Port to listen on."),
    workers: int | None = typer.Option(
        None, min=1, help="Worker processes (default: WEB_CONCURRENCY, else 1); metrics summed, a store writer each."
    ),
) -> None:
    """Serve the champion model over REST (FastAPI): /predict, /feedback, /health, /ready, /metrics and the Open
    Inference Protocol's /v2 endpoints."""
    from .serving.rest import run

    run(host, port, workers)


@app.command()
def send(
    input: Path = typer.Argument(..., help="CSV with the schema's feature columns (others pass through)."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the rows with their predictions (CSV)."),
    url: str = typer.Option("http://127.0.0.1:8000", envvar="SERVICE_URL", help="The running service."),
) -> None:
    """Send a CSV's rows to the running service's /predict; keep the prediction ids for send-outcomes."""
    from .serving.rest_client import send as send_rows

    scored = send_rows(input, load_params().data, url)
    output.parent.mkdir(parents=True, exist_ok=True)
    scored.to_csv(output, index=False)
    typer.echo(f"{len(scored)} predictions by model version {scored['model_version'].iloc[0]} -> {output}")


@app.command(name="send-outcomes")
def send_outcomes(
    input: Path = typer.Argument(..., help="CSV with prediction_id and the real value (`actual` or the target)."),
    url: str = typer.Option("http://127.0.0.1:8000", envvar="SERVICE_URL", help="The running service."),
) -> None:
    """Post real outcomes to the running service's /feedback, for the performance monitor."""
    from .serving.rest_client import send_outcomes as post_outcomes

    recorded, unknown = post_outcomes(input, load_params().data, url)
    unknown_ids = f"; {unknown} prediction ids unknown to the service" if unknown else ""
    typer.echo(f"{recorded} outcomes recorded{unknown_ids}")
{%- elif cookiecutter.serving == "grpc" %}


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", envvar="HOST", help="Interface to bind (the container sets 0.0.0.0)."),
    port: int = typer.Option(50051, envvar="PORT", help="Port to listen on."),
) -> None:
    """Serve the champion model over gRPC, with the standard health service and reflection."""
    from .serving.grpc_server import run

    run(host, port)
{%- elif cookiecutter.serving == "batch" %}


@app.command()
def predict(
    input: Path = typer.Option(..., "--input", "-i", help="CSV or Parquet file to score."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write predictions (.csv or .parquet)."),
    chunk_size: int = typer.Option(50_000, min=1, help="Rows scored at a time; memory stays flat."),
) -> None:
    """Score a file in chunks, writing every input row with its prediction id, label and probability."""
    from .serving.batch import score_file

    summary = score_file(input, output, chunk_size=chunk_size)
    typer.echo(summary)
{%- elif cookiecutter.serving == "edge" %}


@app.command(name="export-onnx")
def export_onnx() -> None:
    """Export the champion to ONNX and check parity with scikit-learn (a DVC stage)."""
    from .serving.onnx_export import export

    typer.echo(export(load_params()))


@app.command()
def predict(
    input: Path = typer.Option(..., "--input", "-i", help="CSV file to score."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write predictions (CSV)."),
) -> None:
    """Score a CSV with the edge runtime (onnxruntime and numpy only), showing model size and latency."""
    from .serving.edge_runtime import EdgeError, score_csv

    try:
        typer.echo(score_csv(input, output))
    except EdgeError as error:  # the runtime imports nothing from this package, so it has its own error type
        raise ProjectError(str(error)) from None
{%- endif %}


@app.command()
def simulate(
    output: Path = typer.Option(..., "--output", "-o", help="CSV file to write."),
    rows: int = typer.Option(500, min=1, help="How many rows."),
    drift: bool = typer.Option(False, "--drift", help="Shift the inputs the way production data drifts."),
    labels: bool = typer.Option(False, "--labels", help="Add the actual outcome column."),
    label_noise: float = typer.Option(0.0, min=0.0, max=1.0, help="Share of outcomes flipped (degrades accuracy)."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Write production-like rows drawn from the data, with or without drift, optionally with outcomes."""
    from .monitoring.simulate import simulate as simulate_rows

    summary = simulate_rows(
        load_params(), output, rows=rows, drift=drift, labels=labels, label_noise=label_noise, seed=seed
    )
    typer.echo(summary)


@app.command()
def drift(
    current: Path | None = typer.Option(None, help="CSV of recent inputs; default: the prediction store."),
    window: int = typer.Option(1000, min=1, help="How many recent predictions to compare when reading the store."),
) -> None:
    """Compare recent inputs with the training data (Evidently); exit 1 when drift reaches the threshold."""
    from .monitoring.drift import run_drift

    report = run_drift(load_params(), current=current, window=window)
    typer.echo(report.summary_line())
    if report.drift_detected:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command()
def performance(
    labels: Path | None = typer.Option(None, help="CSV with prediction_id and actual columns; default: /feedback."),
) -> None:
    """Join predictions with actual outcomes; exit 1 when a metric falls below its threshold."""
    from .monitoring.performance import run_performance

    report = run_performance(load_params(), labels=labels)
    typer.echo(report.summary_line())
    if report.alert:
        raise typer.Exit(EXIT_CHECK_FAILED)


def main() -> None:
    """Run the CLI; every failure is one line on stderr and exit 2 (130 when interrupted), never a traceback."""
    try:
        code = app(standalone_mode=False)  # returns a command's typer.Exit code (a verdict) instead of exiting
    except typer.Abort as abort:  # Ctrl-D, or an EOFError in a command that typer turned into an abort
        cause = abort.__cause__
        reason = f"unexpected {cause.__class__.__name__}: {first_line(cause)}" if cause else "aborted"
        typer.echo(f"error: {reason}", err=True)
        code = EXIT_USER_ERROR
    except typer.TyperException as usage:  # bad options or arguments: typer's usage message, exit 2
        usage.show()  # type: ignore[attr-defined]  (every usage error typer raises has show())
        code = getattr(usage, "exit_code", EXIT_USER_ERROR)
    except ProjectError as error:
        typer.echo(f"error: {redact(str(error))}", err=True)
        code = EXIT_USER_ERROR
    except Exception as error:  # a failure nobody foresaw is still not a verdict: say what it was, exit 2
        typer.echo(f"error: unexpected {error.__class__.__name__}: {first_line(error)}", err=True)
        code = EXIT_USER_ERROR
    sys.exit(code if isinstance(code, int) else 0)
