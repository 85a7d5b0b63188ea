"""Production-like traffic for trying the monitors: rows resampled from real data, optionally drifted or labelled.

Without real users there is nothing to monitor; these rows let you exercise the drift and performance jobs
(and the service) end to end, and see them fire when the inputs shift or the model starts getting it wrong.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import DataParams, Params
from ..data import TEST_FILE, read_csv
from ..errors import DataValidationError
from ..schema import MISSING_CATEGORY, OUTCOME_COLUMN, validate_frame

ACTUAL_COLUMN = OUTCOME_COLUMN  # the outcomes column the clients and `performance --labels` read
JITTER_STD = 0.05
"""Noise added to numbers, as a share of each column's spread: rows look new without changing the distribution."""
DRIFT_SHIFT_STD = 1.0
"""How far drift moves every number, in standard deviations: more than production usually does, so it shows."""
DRIFT_RAREST_SHARE = 0.5
"""Share of rows whose category drift replaces with the column's rarest value (a changed mix, not new values)."""


def simulate(
    params: Params, output: Path, *, rows: int, drift: bool, labels: bool, label_noise: float, seed: int
) -> str:
    """Write `rows` rows to a CSV and say what was written."""
    data = params.data
    source, frame = _population(data, rows, labels)
    if labels:
        frame = frame.dropna(subset=[data.target])
    if frame.empty:
        raise DataValidationError(f"{source}: no rows to draw from")

    rng = np.random.default_rng(seed)
    # Every row once before any row twice: random repeats would make the sample look unlike the data it came from.
    rounds = -(-rows // len(frame))
    picked = np.concatenate([rng.permutation(len(frame)) for _ in range(rounds)])[:rows]
    sample = frame.iloc[picked].reset_index(drop=True)
    result = pd.DataFrame(index=sample.index)
    for column, bounds in data.numeric_features.items():
        result[column] = _numbers(sample[column], frame[column], rng, drift, bounds.min, bounds.max)
    for column in data.categorical_features:
        result[column] = _categories(sample[column], frame[column], rng, drift)
    if labels:
        flip = _reshuffle if data.regression else _flip
        result[ACTUAL_COLUMN] = flip(sample[data.target], frame[data.target], rng, label_noise)

    output.parent.mkdir(parents=True, exist_ok=True)
    result.to_csv(output, index=False)
    return f"wrote {rows} rows to {output} from {source}: {_describe(data, drift, labels, label_noise)}"


def _population(data: DataParams, rows: int, labels: bool) -> tuple[Path, pd.DataFrame]:
    """The holdout (rows the model never saw) when it is big enough, else the whole dataset: resampling a small
    holdout many times over gives a lumpy sample that the drift tests rightly call different from the training data.
    """
    if TEST_FILE.exists():
        holdout = validate_frame(read_csv(TEST_FILE), data, require_target=labels)
        if len(holdout) >= rows:
            return TEST_FILE, holdout
    return data.path, validate_frame(read_csv(data.path), data, require_target=labels)


def _numbers(
    values: pd.Series,
    population: pd.Series,
    rng: np.random.Generator,
    drift: bool,
    low: float | None,
    high: float | None,
) -> pd.Series:
    spread = float(population.std()) if population.notna().sum() > 1 else 0.0
    moved = values + rng.normal(0.0, JITTER_STD * spread, len(values))
    if drift:
        moved = moved + DRIFT_SHIFT_STD * spread
    places = _decimals(population)
    moved = moved.round(places).clip(lower=low, upper=high).where(values.notna())  # missing stays missing
    return moved.astype("Int64") if places == 0 else moved


def _decimals(values: pd.Series) -> int:
    """As many decimals as the data has (whole numbers stay whole), so simulated rows look like real ones."""
    present = values.dropna().to_numpy()
    return next((places for places in range(6) if np.allclose(present, present.round(places))), 6)


def _categories(values: pd.Series, population: pd.Series, rng: np.random.Generator, drift: bool) -> pd.Series:
    values = values.copy()
    known = population[population != MISSING_CATEGORY].value_counts()
    if drift and not known.empty:
        values[rng.uniform(size=len(values)) < DRIFT_RAREST_SHARE] = known.index[-1]
    return values.where(values != MISSING_CATEGORY)  # a missing category is sent as missing, as clients do


def _flip(target: pd.Series, population: pd.Series, rng: np.random.Generator, share: float) -> pd.Series:
    """Replace `share` of the outcomes with another class, so a model that was right becomes wrong there."""
    classes = sorted(population.unique().tolist(), key=str)
    actual = target.astype(object).copy()
    flipped = rng.choice(len(actual), size=round(share * len(actual)), replace=False)
    for row in flipped:
        others = [label for label in classes if label != actual.iloc[row]]
        if others:
            actual.iloc[row] = others[rng.integers(len(others))]
    return actual


def _reshuffle(target: pd.Series, population: pd.Series, rng: np.random.Generator, share: float) -> pd.Series:
    """Replace `share` of the outcomes with the outcome of a random row: a regressor that was close is then off by
    as much as the values vary."""
    actual = target.astype(float).copy()
    replaced = rng.choice(len(actual), size=round(share * len(actual)), replace=False)
    actual.iloc[replaced] = rng.choice(population.dropna().to_numpy(dtype=float), size=len(replaced))
    return actual


def _describe(data: DataParams, drift: bool, labels: bool, label_noise: float) -> str:
    parts = ["drifted (numbers shifted, category mix changed)" if drift else "no drift"]
    if labels:
        changed = "replaced by another row's" if data.regression else "flipped"
        parts.append(f"'{ACTUAL_COLUMN}' outcomes from {data.target!r}, {label_noise:.0%} {changed}")
    return "; ".join(parts)
