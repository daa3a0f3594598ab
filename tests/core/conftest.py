"""Fixtures for the core's tests: a real SQLite store on a clock the test moves."""

from __future__ import annotations

import pytest

from gsmbridge.core.models import NewJob, State
from gsmbridge.core.store import Store
from tests.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path, clock: FakeClock):
    s = Store(tmp_path / "q.db", clock=clock)
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
