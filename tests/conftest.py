"""Shared fixtures: a real Bridge on 127.0.0.1 with a real SQLite file."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from gsmbridge.config import Settings  # noqa: E402
from gsmbridge.service import Bridge  # noqa: E402
from tests.helpers import Client  # noqa: E402

USER, PASSWORD = "cometchat", "s3cret-pass"


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
