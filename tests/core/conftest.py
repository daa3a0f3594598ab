"""Fixtures for the core's tests: a real SQLite store on a clock the test moves."""

from __future__ import annotations

import pytest

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
