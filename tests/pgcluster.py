"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary directory, a
free port on 127.0.0.1, removed at the end (as the postgres user when run as root:
initdb refuses root)."""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

REQUIRE_ENV = "GSMBRIDGE_REQUIRE_POSTGRES"


def find_bindir() -> Path | None:
    """Debian's /usr/lib/postgresql/<version>/bin (newest), else initdb on the PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One server; ``new_database()`` gives each test an empty database of its own."""

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        """``durable``: fsync and synchronous commits on, as a real server runs (for
        benchmarks); off by default, which keeps the test suite quick."""
        self.bindir = bindir
        self.durable = durable
        self.dir = Path(tempfile.mkdtemp(prefix="gsmbridge-pg-"))
        self.port = _free_port()
        # initdb refuses root: as root, the server runs as the postgres user.
        self.as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0
        if self.as_postgres:
            import pwd  # POSIX only, as is running as root

            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self._names = itertools.count(1)
        self._shared: str | None = None
        self.started = False

    def _run(self, *args: str) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout}")

    def start(self) -> None:
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        self._pg_ctl_start()

    def _pg_ctl_start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -k {self.dir} -p {self.port}"
        options += " -c max_connections=300"
        if not self.durable:  # durability is not under test: no fsync keeps the suite quick
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        data, log = str(self.dir / "data"), str(self.dir / "log")
        self._run("pg_ctl", "-D", data, "-l", log, "-w", "-o", options, "start")
        self.started = True

    def url(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(self.url(), autocommit=True)

    def new_database(self, template: str = "template0") -> str:
        name = f"t{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def clean_database(self) -> str:
        """The test run's shared test database, emptied (tables truncated, ids from 1):
        a test's own database for a fraction of CREATE DATABASE's time."""
        if self._shared is None:
            self._shared = self.new_database()
            return self._shared
        with psycopg.connect(self._shared, autocommit=True) as conn:
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public'"
                    " AND tablename <> 'gsmbridge_schema'"
                )
            ]
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        return self._shared

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
            except RuntimeError:
                pass
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def halt(self) -> None:
        """Stop the server, keeping its data (the database PC switched off)."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
        self.started = False

    def resume(self) -> None:
        """Start the halted server again."""
        self._pg_ctl_start()

    def restart(self) -> None:
        """Stop and start the server (a database PC rebooting)."""
        data = self.dir / "data"
        self._run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        self.started = False
        self._pg_ctl_start()
