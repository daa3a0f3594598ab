"""Credentials changed in the config file apply to the running webhook at once
(a real Bridge with a real waitress; the file written as set-password writes it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gsmbridge.config import hash_password, load_settings, update_config_file
from gsmbridge.service import Bridge
from tests.helpers import Client


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def status(port: int, user: str, password: str) -> int:
    code, _, _ = Client(port, user, password).request("GET", "/api/status")
    return code


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    stored = hash_password("old-pass")
    text = f'[server]\nport = 0\n[auth]\nusername = "cc"\npassword_hash = "{stored}"\n'
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def running(config_file: Path, tmp_path: Path) -> Iterator[Bridge]:
    bridge = Bridge(load_settings(config_file, environ={}), tmp_path / "data")
    bridge.start()
    assert bridge._config_watch is not None
    bridge._config_watch._interval = 0.1  # poll fast: the test waits for the change
    yield bridge
    bridge.stop()


def test_new_credentials_in_the_file_are_used_at_once(
    running: Bridge, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = running.web.port
    assert status(port, "cc", "old-pass") == 200
    caplog.set_level(logging.INFO, logger="gsmbridge.core.config_watch")
    update_config_file(config_file, {"auth.password_hash": hash_password("new-pass")})
    assert wait_until(lambda: status(port, "cc", "new-pass") == 200)
    assert status(port, "cc", "old-pass") == 401
    assert f"Webhook credentials changed in {config_file}; now in use" in caplog.text
    assert running.settings.auth.username == "cc"


def test_a_broken_file_keeps_the_old_credentials_and_warns_once(
    running: Bridge, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = running.web.port
    watch = running._config_watch
    assert watch is not None
    watch.stop()  # polled by hand below, so "once" is exact
    config_file.write_text(config_file.read_text() + "[auth\nbroken\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="gsmbridge.core.config_watch"):
        assert watch.check() is False
        assert watch.check() is False
    warnings = [r for r in caplog.records if "does not load" in r.getMessage()]
    assert len(warnings) == 1 and "keeps its credentials" in warnings[0].getMessage()
    assert status(port, "cc", "old-pass") == 200


@pytest.mark.parametrize("edit", ["auth-dropped", "emptied"])
def test_credentials_removed_from_the_file_never_open_the_running_webhook(
    running: Bridge, config_file: Path, caplog: pytest.LogCaptureFixture, edit: str
) -> None:
    # An edit that drops [auth], or an editor that empties the file before writing it:
    # the running webhook keeps its credentials (it answered 200 to anybody before).
    port = running.web.port
    watch = running._config_watch
    assert watch is not None
    watch.stop()  # polled by hand below
    config_file.write_text("[server]\nport = 0\n" if edit == "auth-dropped" else "")
    with caplog.at_level(logging.WARNING, logger="gsmbridge.core.config_watch"):
        assert watch.check() is False
    assert status(port, "", "") == 401
    assert status(port, "cc", "old-pass") == 200
    assert "keeps the previous ones until gsmbridge restarts" in caplog.text


def test_credentials_from_the_environment_still_win(config_file: Path, tmp_path: Path) -> None:
    env = {"GSMBRIDGE_AUTH_USERNAME": "env", "GSMBRIDGE_AUTH_PASSWORD": "env-pass"}
    bridge = Bridge(load_settings(config_file, environ=env), tmp_path / "data")
    bridge.start()
    try:
        watch = bridge._config_watch
        assert watch is not None
        watch.stop()
        watch._environ = env
        update_config_file(config_file, {"auth.username": "filed"})
        watch.check()
        assert status(bridge.web.port, "env", "env-pass") == 200
        assert status(bridge.web.port, "filed", "old-pass") == 401
    finally:
        bridge.stop()


def test_a_locked_webhook_opens_when_the_file_is_fixed(config_file: Path, tmp_path: Path) -> None:
    good = config_file.read_text()
    config_file.write_text(good.replace("[auth]", "[auth"), encoding="utf-8")
    from gsmbridge.config import read_settings

    settings = read_settings(config_file, environ={}).settings
    assert settings.auth.unreadable
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()  # on loopback, but not open: everyone gets 401
    try:
        port = bridge.web.port
        code, _, _ = Client(port).request("GET", "/api/status", auth=False)
        assert code == 401
        assert status(port, "cc", "old-pass") == 401
        watch = bridge._config_watch
        assert watch is not None
        watch.stop()
        config_file.write_text(good, encoding="utf-8")
        assert watch.check() is True
        assert status(port, "cc", "old-pass") == 200
        assert not bridge.settings.auth.unreadable
    finally:
        bridge.stop()


def test_incomplete_credentials_say_what_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from gsmbridge.web.server import ExposureError

    path = tmp_path / "only-user.toml"
    path.write_text('[server]\nport = 0\nhost = "0.0.0.0"\n[auth]\nusername = "cc"\n')
    settings = load_settings(path, environ={})
    with pytest.raises(ExposureError, match=r"without credentials \(auth.username is 'cc' but no"):
        Bridge(settings, tmp_path / "data").start()
    settings.server.host = "127.0.0.1"
    bridge = Bridge(settings, tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        bridge.start()
    try:
        assert "NO CREDENTIALS CONFIGURED (auth.username is 'cc' but no password is set)" in (
            caplog.text
        )
    finally:
        bridge.stop()
