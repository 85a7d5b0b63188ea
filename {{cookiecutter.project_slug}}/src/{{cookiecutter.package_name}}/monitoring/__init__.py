"""Monitoring jobs run on a schedule (or `make monitor`): input drift, model performance, system health.

Both jobs read the prediction store the serving layer writes and leave an HTML report for people and a JSON
report for machines under reports/. `simulate` makes production-like traffic to try them on.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from ..errors import ConfigError
from ..store import STORE_URL_ENV, store_url

REPORTS_DIR = Path("reports")


def require_store() -> str:
    """The store URL, refusing a SQLite file that does not exist (reading would create an empty one)."""
    url = store_url()
    try:
        parsed = make_url(url)
    except Exception:  # SQLAlchemy raises several types for a malformed URL
        raise ConfigError(f"{STORE_URL_ENV}: not a database URL: {url!r}") from None
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:" and not Path(database).exists():
        raise ConfigError(f"no prediction store at {database}: serve some predictions first ({STORE_URL_ENV}={url})")
    return url
