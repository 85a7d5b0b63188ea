"""A real PostgreSQL server from Debian's packages on a free 127.0.0.1 port, stopped by its process id: the shared
platform's e2e test and the REST benchmark's PostgreSQL round start it the same way."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path

import psycopg
import pytest

from .processes import free_port, port_open, running

ROLE, PASSWORD = "mlops", "pl4tform-s3cret"


def postgres_binaries() -> Path:
    """The newest Debian PostgreSQL's bin directory (Debian keeps initdb and postgres off PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3]))
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    if on_path:
        return Path(on_path).resolve().parent
    pytest.fail("PostgreSQL is not installed: apt-get install postgresql (.ci/run does)", pytrace=False)


class Stoppable(AbstractContextManager):
    """A server from `running`, which the test may stop before the end of the `with` (stopping twice is a no-op)."""

    def __init__(self, command: list[str], **kwargs) -> None:
        self._context: AbstractContextManager | None = running(command, **kwargs)

    def __enter__(self) -> Stoppable:
        assert self._context is not None
        self._context.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            context.__exit__(None, None, None)


class PostgresServer(AbstractContextManager):
    """`initdb` + `postgres` on a free 127.0.0.1 port: password logins over TCP, trust on its private socket."""

    def __init__(self) -> None:
        self.bin = postgres_binaries()
        self.port = free_port()
        # Not under pytest's tmp_path: its root-only parent directories would keep the postgres user out.
        self.home = Path(tempfile.mkdtemp(prefix="e2e-postgres-"))
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.home, user="postgres", group="postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data, self.socket = self.home / "data", self.home

    def __enter__(self) -> PostgresServer:
        initdb = [
            *self.as_user, str(self.bin / "initdb"), "-D", str(self.data), "--username=postgres", "--encoding=UTF8",
            "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
        ]  # fmt: skip
        subprocess.run(initdb, check=True, capture_output=True, cwd=self.home, timeout=120)
        command = [
            *self.as_user, str(self.bin / "postgres"), "-D", str(self.data), "-h", "127.0.0.1", "-p", str(self.port),
            "-k", str(self.socket), "-c", "fsync=off", "-c", "full_page_writes=off",
        ]  # fmt: skip
        self._server = Stoppable(
            command, cwd=self.home, env=os.environ, ready=self._accepting, timeout=60, log=self.home / "server.log"
        ).__enter__()
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
            for database in ("mlflow", "predictions"):  # as compose's mlflow-db (POSTGRES_DB + the init script)
                conn.execute(f"CREATE DATABASE {database} OWNER {ROLE}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def stop(self) -> None:
        """SIGTERM by pid (a smart shutdown: every client has gone by then)."""
        self._server.stop()

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host=str(self.socket), port=self.port, user="postgres", dbname=database, autocommit=True)

    def url(self, database: str, port: int | None = None) -> str:
        return f"postgresql+psycopg://{ROLE}:{PASSWORD}@127.0.0.1:{port or self.port}/{database}"

    def count(self, database: str, query: str) -> int:
        with psycopg.connect(host="127.0.0.1", port=self.port, user=ROLE, password=PASSWORD, dbname=database) as conn:
            return conn.execute(query).fetchone()[0]

    def _accepting(self) -> bool:
        if not port_open(self.port):
            return False
        try:
            with self.admin():
                return True
        except psycopg.OperationalError:  # the port opens a moment before the database accepts logins
            return False
