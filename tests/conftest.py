"""Shared fixtures: a real Bridge on 127.0.0.1 with a real SQLite file; a real
PostgreSQL server for the shared store (one throwaway cluster per test run)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from gsmbridge.config import Settings  # noqa: E402
from gsmbridge.service import Bridge  # noqa: E402
from tests.helpers import Client  # noqa: E402
from tests.pgcluster import REQUIRE_ENV, PgCluster, find_bindir  # noqa: E402

USER, PASSWORD = "cometchat", "s3cret-pass"
# Read before any test's environment clean-up: CI requires the PostgreSQL tests to run.
POSTGRES_REQUIRED = os.environ.get(REQUIRE_ENV) == "1"


def _no_postgres(reason: str) -> None:
    if POSTGRES_REQUIRED:
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 requires it)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server of the test run's own (skipped when not installed)."""
    bindir = find_bindir()
    if bindir is None:
        _no_postgres("PostgreSQL is not installed (apt-get install postgresql)")
    assert bindir is not None
    cluster = PgCluster(bindir)
    try:
        cluster.start()
    except (OSError, RuntimeError) as exc:
        cluster.stop()
        _no_postgres(f"PostgreSQL did not start: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """An emptied database on the test run's server (the schema stays: a test of
    migrations makes its own with ``pg_cluster.new_database()``)."""
    return pg_cluster.clean_database()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not pick up the developer's GSMBRIDGE_* variables."""
    for name in list(os.environ):
        if name.startswith("GSMBRIDGE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def settings() -> Settings:
    s = Settings()
    s.server.port = 0
    s.auth.username = USER
    s.auth.password = PASSWORD
    s.sending.default_region = "US"
    return s


@pytest.fixture
def bridge(settings: Settings, tmp_path):
    b = Bridge(settings, tmp_path / "data")
    b.start()
    yield b
    b.stop()


@pytest.fixture
def client(bridge: Bridge) -> Client:
    return Client(bridge.web.port, USER, PASSWORD)
