"""Monitoring jobs run on a schedule (or `make monitor`): input drift, model performance, system health.

Both jobs read the prediction store the serving layer writes (through `store.PredictionStore.reader`) and leave an
HTML report for people and a JSON report for machines under reports/. `simulate` makes production-like traffic
to try them on. Exit codes: 0 fine (or not enough evidence yet), 1 a verdict that calls for retraining, 2 the job
could not judge (bad input or configuration): a scheduler must never read a crash as an alert.
"""

from __future__ import annotations

from pathlib import Path

REPORTS_DIR = Path("reports")
