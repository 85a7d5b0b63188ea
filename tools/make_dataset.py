"""Write the bundled churn dataset that every generated project trains on out of the box.

Synthetic, seeded and small (3,000 rows) so a fresh project trains offline in seconds, yet shaped like real data:
numeric and categorical columns, missing values, and a learnable but noisy signal. Re-run only to change the data:
`python tools/make_dataset.py`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "{{cookiecutter.project_slug|checked_answers}}"
OUTPUT = TEMPLATE_DIR / "data" / "raw" / "churn.csv"
ROWS = 3000
SEED = 20261126


def make(rows: int = ROWS, seed: int = SEED) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    contract = rng.choice(["month-to-month", "one-year", "two-year"], size=rows, p=[0.55, 0.25, 0.20])
    payment = rng.choice(["card", "bank-transfer", "electronic-check", "mailed-check"], size=rows)
    internet = rng.choice(["dsl", "fiber", "none"], size=rows, p=[0.4, 0.45, 0.15])
    region = rng.choice(["north", "south", "east", "west"], size=rows)
    tenure = rng.integers(0, 73, size=rows)
    monthly = np.round(rng.uniform(18, 120, size=rows) + (internet == "fiber") * 15, 2)
    total = np.round(tenure * monthly * rng.normal(1.0, 0.05, size=rows), 2)
    calls = rng.poisson(1.5, size=rows)
    age = rng.integers(18, 86, size=rows)

    logit = (
        -1.2
        + 1.4 * (contract == "month-to-month")
        - 0.8 * (contract == "two-year")
        + 0.7 * (payment == "electronic-check")
        + 0.5 * (internet == "fiber")
        - 0.035 * tenure
        + 0.012 * (monthly - 60)
        + 0.35 * calls
        - 0.006 * (age - 45)
    )
    churned = (rng.uniform(size=rows) < 1 / (1 + np.exp(-logit))).astype(int)

    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": calls.astype(float),
            "age": age,
            "contract": contract,
            "payment_method": payment,
            "internet_service": internet,
            "region": region,
            "churned": churned,
        }
    )
    for column, share in {"total_charges": 0.03, "support_calls": 0.02, "payment_method": 0.02}.items():
        frame.loc[rng.uniform(size=rows) < share, column] = np.nan
    frame["support_calls"] = frame["support_calls"].astype("Int64")
    return frame


if __name__ == "__main__":
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    make().to_csv(OUTPUT, index=False)
    print(f"wrote {OUTPUT}")
