"""Command line for every step; DVC stages, the Makefile and CI all call these same commands.

Exit codes: 0 success; 1 the check said no (e.g. `promoted` when the challenger was kept out);
2 bad input or configuration, explained in one line.
"""

from __future__ import annotations

import sys

import typer

from .config import load_params
from .errors import ProjectError

app = typer.Typer(
    help="{{ cookiecutter.project_name }}: data -> train -> evaluate -> serve -> monitor.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

EXIT_CHECK_FAILED = 1
EXIT_USER_ERROR = 2


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


def main() -> None:
    try:
        app()
    except ProjectError as error:
        typer.echo(f"error: {error}", err=True)
        sys.exit(EXIT_USER_ERROR)
