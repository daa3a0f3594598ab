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


def _notepad_edit(path: Path, replacements: dict[str, str]) -> None:
    """Change lines as Notepad saves a file: a BOM and CRLF line ends."""
    text = path.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))


def test_other_edits_apply_live_or_are_said_to_wait_for_a_restart(
    running: Bridge, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only [auth] was read again: a new default country, limit or part count in the
    file was ignored without a word (a German number stayed "impossible")."""
    from tests.helpers import payload

    watch = running._config_watch
    assert watch is not None
    watch.stop()  # polled by hand below
    port = running.web.port
    client = Client(port, "cc", "old-pass")
    german = payload(data__to__phno="0151 23456789", data__to__uid="de-1")
    assert client.post("/webhook", german)[2]["status"] == "needs-number"  # read as US
    _notepad_edit(
        config_file,
        {
            "[server]\nport = 0\n": "[server]\nport = 8765\n"
            '[sending]\ndefault_region = "DE"\nmax_parts = 2\n[limits]\nper_minute = 30\n'
        },
    )
    with caplog.at_level(logging.INFO, logger="gsmbridge.config"):
        watch.check()
    s = running.settings
    assert (s.sending.default_region, s.sending.max_parts, s.limits.per_minute) == ("DE", 2, 30)
    assert s.server.port == 0 and running.web.port == port  # waits for a restart
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert (
        "INFO",
        f"{config_file} changed: sending.default_region, sending.max_parts, "
        "limits.per_minute now in use",
    ) in said
    assert (
        "WARNING",
        f"{config_file} changed: server.port applies after a restart of the service",
    ) in said
    german["data"]["to"]["uid"] = "de-2"
    assert client.post("/webhook", german)[2]["status"] == "queued"  # +49 now
    # The same file read again (a touch): nothing moved, nothing said.
    caplog.clear()
    config_file.write_bytes(config_file.read_bytes() + b"\r\n")
    with caplog.at_level(logging.INFO, logger="gsmbridge.config"):
        watch.check()
    assert [r for r in caplog.records if "changed" in r.getMessage()] == []


def test_a_bad_value_in_an_edit_changes_nothing_and_says_why(
    running: Bridge, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watch = running._config_watch
    assert watch is not None
    watch.stop()
    _notepad_edit(
        config_file, {"[server]\n": "[limits]\nper_minute = 30\nper_day = -4\n[server]\n"}
    )
    with caplog.at_level(logging.WARNING):
        watch.check()
    assert running.settings.limits.per_minute != 30
    assert any(
        "does not load" in r.getMessage() and "per_day" in r.getMessage() for r in caplog.records
    )


def test_a_half_written_or_emptied_file_resets_nothing(
    running: Bridge, config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An editor that empties the file before writing it (or a save cut short): every
    key it no longer held went back to its default while running (per_day 0: no limit),
    and restart keys were offered for a restart although nothing differed after."""
    watch = running._config_watch
    assert watch is not None
    watch.stop()
    config_file.write_text(
        config_file.read_text() + '[limits]\nper_day = 50\n[logging]\nlevel = "WARNING"\n'
    )
    watch.check()
    assert (running.settings.limits.per_day, running.settings.logging.level) == (50, "WARNING")
    whole = config_file.read_text()
    waiting: list[list[str]] = []
    running.live.on_waiting(lambda keys, _values: waiting.append(keys))
    with caplog.at_level(logging.INFO):
        config_file.write_text(whole.split("[limits]")[0])  # cut short
        watch.check()
        config_file.write_text("")  # emptied
        watch.check()
    assert (running.settings.limits.per_day, running.settings.logging.level) == (50, "WARNING")
    assert "no longer in it; what runs stays until gsmbridge restarts" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="gsmbridge.config"):
        config_file.write_text(whole)  # written in full again
        watch.check()
    assert [r for r in caplog.records if "now in use" in r.getMessage()] == []  # as it runs
    assert all(keys == ["server.port"] for keys in waiting)  # back to 0: nothing waits
    assert running.live.apply_file(load_settings(config_file, environ={}), ["server.port"]) == []


def test_a_file_that_did_not_load_at_start_is_applied_once_fixed(
    config_file: Path, tmp_path: Path
) -> None:
    """Started (in the window) on a file with a bad value: fixing it later changed
    nothing until a restart, and nothing said so."""
    from gsmbridge.config import read_settings

    config_file.write_text(config_file.read_text() + "[limits]\nper_minute = -1\n")
    loaded = read_settings(config_file, environ={})
    assert loaded.errors  # runs on the valid values, per_minute at its default
    bridge = Bridge(loaded.settings, tmp_path / "data")
    bridge.start()
    try:
        watch = bridge._config_watch
        assert watch is not None
        watch.stop()
        fixed = config_file.read_text().replace("per_minute = -1", "per_minute = 7")
        config_file.write_text(fixed + '[sending]\ndefault_region = "GB"\n')
        watch.check()
        assert bridge.settings.limits.per_minute == 7
        assert bridge.settings.sending.default_region == "GB"
    finally:
        bridge.stop()


def test_the_command_line_and_the_environment_still_win_and_say_so(
    config_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {"GSMBRIDGE_LIMITS_PER_MINUTE": "4"}
    settings = load_settings(config_file, environ=env)
    settings.server.port = 0
    settings.from_command_line = frozenset({"server.port"})  # as --port does
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        watch = bridge._config_watch
        assert watch is not None
        watch.stop()
        watch._environ = env
        port = bridge.web.port
        text = config_file.read_text().replace("port = 0", "port = 8765")
        config_file.write_text(text + "[limits]\nper_minute = 30\nper_day = 9\n")
        with caplog.at_level(logging.INFO):
            watch.check()
        assert bridge.settings.limits.per_minute == 4  # the environment's
        assert bridge.settings.limits.per_day == 9
        assert bridge.web.port == port
        said = caplog.text
        assert "limits.per_minute, but the environment (GSMBRIDGE_...) sets it and wins" in said
        assert "server.port, but the command line sets it and wins" in said
        assert "apply after a restart" not in said and "applies after a restart" not in said
    finally:
        bridge.stop()
