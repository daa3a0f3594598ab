"""One warning at start when other users may read the config file (issue 14.16):
POSIX by its mode, Windows (injected) by where it is, since chmod does nothing there."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.private import config_exposure
from gsmbridge.service import Bridge

SECRETS = '[auth]\npassword_hash = "scrypt$1"\n[cometchat]\napi_key = "k"\n'
HOLDS = "the webhook password hash, the CometChat API key"


def test_windows_config_outside_the_profile_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("USERPROFILE", r"C:\Users\Ana")
    inside = Path(r"C:\users\ana\AppData\Local\gsmbridge\config.toml")  # case differs
    assert config_exposure(inside, SECRETS) == ""
    text = config_exposure(Path(r"C:\gsmbridge\config.toml"), SECRETS)
    assert text.startswith(r"Config C:\gsmbridge\config.toml is outside your user profile")
    assert "API key" in text and r"C:\Users\Ana" in text
    assert config_exposure(Path(r"C:\Users\Anabel\config.toml"), SECRETS) != ""  # not a prefix
    # A file with nothing secret in it is not worth a warning.
    assert config_exposure(Path(r"C:\gsmbridge\config.toml"), "[limits]\nper_minute = 3\n") == ""


def test_posix_config_readable_by_others_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    path = tmp_path / "config.toml"
    path.write_text(SECRETS)
    path.chmod(0o600)
    assert config_exposure(path) == ""
    path.chmod(0o644)
    assert config_exposure(path) == (
        f"Config {path} is readable by other users (mode 644) and holds {HOLDS}: chmod 600 {path}"
    )
    path.write_text('[auth]\npassword_hash = ""\n[limits]\nper_minute = 3\n')
    assert config_exposure(path) == ""  # no secret in it
    assert config_exposure(Path("/dev/null")) == ""
    assert config_exposure(tmp_path / "missing.toml") == ""


def test_bridge_start_warns_once(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(SECRETS)
    path.chmod(0o640)
    settings.loaded_from = path
    bridge = Bridge(settings, tmp_path / "data")
    with caplog.at_level(logging.WARNING, "gsmbridge"):
        bridge.start()
        bridge.stop()
    lines = [r.getMessage() for r in caplog.records if "readable by other users" in r.getMessage()]
    assert lines == [
        f"Config {path} is readable by other users (mode 640) and holds {HOLDS}: chmod 600 {path}"
    ]
