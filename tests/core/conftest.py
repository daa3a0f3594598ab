"""Fixtures for the core's tests: a real store on a clock the test moves, on each backend
(a SQLite file, and a database of the test run's PostgreSQL server)."""

from __future__ import annotations

import pytest

from gsmbridge.core.models import NewJob, State
from gsmbridge.core.store import Store
from tests.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path) -> str:
    """Where a test's store lives: a SQLite file, or a PostgreSQL database URL."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "q.db")


@pytest.fixture
def store(location: str, clock: FakeClock):
    s = Store(location, clock=clock)
    yield s
    s.close()


def new_job(uid: str = "u1", *, number: str | None = "+12125550123", key: str = "") -> NewJob:
    return NewJob(
        uid=uid,
        name="Name",
        text=f"hello {uid}",
        payload={"data": {"to": {"uid": uid}}},
        dedup_key=key,
        state=State.QUEUED if number else State.NEEDS_NUMBER,
        number=number,
    )
