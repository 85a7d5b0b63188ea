"""Secrets never leave the process: every URL this package prints, logs or returns passes through `redact`.

Database and tracking URLs carry credentials (`postgresql://user:password@host/db`, `http://user:token@mlflow`).
One helper, applied where a message is built and again where the CLI prints it, so no path forgets.
"""

from __future__ import annotations

import re

# Up to the last "@" of the URL: a password may hold "@" or "/" unescaped. Over-redacting a path is harmless.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"]*@")


def redact(text: str) -> str:
    """`text` with the user and password of every URL in it replaced by `***`."""
    return _USERINFO.sub(lambda match: f"{match['scheme']}***@", text)


def first_line(error: BaseException) -> str:
    """An exception as one redacted line: its message's first line, or its type when it has none."""
    text = str(error).strip()
    return redact(text.splitlines()[0]) if text else error.__class__.__name__
