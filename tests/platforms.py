"""What some tests need from the operating system, as skip marks with the reason (the template's CI runs the fast
tier on Linux, macOS and Windows: .github/workflows/ci.yml).

Only Windows is ever skipped here: on Linux and macOS every mark is inert, so a missing template directory or
terminal there fails the tests instead of hiding them.
"""

from __future__ import annotations

import sys

import pytest

from tests.render import TEMPLATE_DIR_NAME

WINDOWS = sys.platform == "win32"

# A Windows file name cannot hold '|', and the template directory's name does (its `checked_answers` filter), so a
# Windows checkout leaves that directory out (ci.yml's sparse checkout): nothing can be rendered there.
needs_template_dir = pytest.mark.skipif(
    WINDOWS,
    reason=f"Windows file names cannot hold '|': the template directory {TEMPLATE_DIR_NAME} is not checked out",
)

# pexpect.spawn drives the tools through a POSIX pseudo-terminal; pexpect has no `spawn` on Windows.
needs_pty = pytest.mark.skipif(WINDOWS, reason="pexpect.spawn needs a POSIX pseudo-terminal, which Windows lacks")
