"""Writing the config file: a file that failed to load is never written over, the
previous file is kept as a backup, comments survive, Windows' busy files are waited for."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from gsmbridge import config
from gsmbridge.config import (
    ConfigError,
    hash_password,
    load_settings,
    save_settings,
    update_config_file,
    verify_password,
)
from gsmbridge.config import save as config_save

HASH = hash_password("file-password")

MINE = f"""# written by hand
[server]
port = 9001  # the port CometChat knows

[auth]
username = "cc"
password_hash = "{HASH}"

[limits]
per_minute = 3
per_day = 500
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_that_failed_to_load_is_never_written_over(tmp_path: Path) -> None:
    broken = MINE + "[gui]\nclose_to_tary = false\n"
    path = write(tmp_path, broken)
    with pytest.raises(ConfigError) as info:
        update_config_file(path, {"limits.per_minute": 5})
    message = str(info.value)
    assert message.startswith(f"nothing was saved: {path} has a problem to fix first")
    assert "gui.close_to_tary" in message and "line 13" in message
    assert path.read_text(encoding="utf-8") == broken
    assert not config.backup_path(path).exists()


def test_only_the_changed_keys_are_written_and_comments_stay(tmp_path: Path) -> None:
    path = write(tmp_path, MINE)
    saved = update_config_file(
        path, {"limits.per_minute": 5, "tunnel.path": "C:\\tools\\ngrok.exe"}
    )
    text = path.read_text(encoding="utf-8")
    assert text == MINE.replace("per_minute = 3", "per_minute = 5") + (
        "\n[tunnel]\npath = 'C:\\tools\\ngrok.exe'\n"
    )
    assert saved.limits.per_minute == 5 and saved.limits.per_day == 500
    assert config.backup_path(path).read_text(encoding="utf-8") == MINE
    again = load_settings(path, environ={})
    assert again.tunnel.path == "C:\\tools\\ngrok.exe"
    assert again.auth.username == "cc" and again.auth.password_hash == HASH


def test_a_new_password_replaces_a_plain_one_and_is_never_written(tmp_path: Path) -> None:
    path = write(tmp_path, '[auth]\nusername = "cc"\npassword = "typed-by-hand"\n')
    new_hash = hash_password("new-password")
    update_config_file(path, {"auth.password_hash": new_hash, "auth.password": "new-password"})
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["auth"] == {"username": "cc", "password_hash": new_hash}
    assert "new-password" not in path.read_text(encoding="utf-8")


def test_a_file_too_complex_to_patch_is_rewritten_whole_with_a_backup(tmp_path: Path) -> None:
    text = MINE + '\n[modem]\nport = [\n  "COM3",\n  "COM4",\n]\n'
    path = write(tmp_path, text)
    update_config_file(path, {"modem.port": ["COM5"]})
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["modem"]["port"] == ["COM5"]
    assert data["limits"] == {"per_minute": 3, "per_day": 500, "per_recipient_per_hour": 0}
    assert verify_password("file-password", data["auth"]["password_hash"])
    assert config.backup_path(path).read_text(encoding="utf-8") == text


def test_save_keeps_the_previous_file_as_a_backup(tmp_path: Path) -> None:
    path = write(tmp_path, MINE)
    settings = load_settings(path, environ={})
    settings.server.port = 9100
    save_settings(settings, path)
    assert config.backup_path(path).read_text(encoding="utf-8") == MINE
    assert load_settings(path, environ={}).server.port == 9100
    if os.name != "nt":
        assert config.backup_path(path).stat().st_mode & 0o077 == 0  # holds the hash


def _busy(winerror: int) -> PermissionError:
    exc = PermissionError(13, "The process cannot access the file")
    exc.winerror = winerror  # type: ignore[attr-defined]
    return exc


def test_replace_is_retried_while_windows_says_the_file_is_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINE)
    real_replace = os.replace
    calls: list[tuple[str, str]] = []

    def replace(src: str, dst: str) -> None:
        calls.append((str(src), str(dst)))
        if len(calls) <= 2:  # an antivirus scanner holds the file twice
            raise _busy(32 if len(calls) == 1 else 5)
        real_replace(src, dst)

    monkeypatch.setattr(config_save.os, "replace", replace)
    update_config_file(path, {"limits.per_minute": 7})
    assert len(calls) == 3
    assert load_settings(path, environ={}).limits.per_minute == 7


def test_a_file_busy_for_good_is_a_clear_error_and_nothing_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINE)

    def replace(src: str, dst: str) -> None:
        raise _busy(32)

    monkeypatch.setattr(config_save.os, "replace", replace)
    monkeypatch.setattr(config_save.time, "sleep", lambda s: None)
    with pytest.raises(ConfigError, match=f"cannot write config file {path}"):
        update_config_file(path, {"limits.per_minute": 7})
    assert path.read_text(encoding="utf-8") == MINE


def test_a_real_permission_error_is_not_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, MINE)
    calls: list[str] = []

    def replace(src: str, dst: str) -> None:
        calls.append(str(dst))
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(config_save.os, "replace", replace)
    with pytest.raises(ConfigError, match="Permission denied"):
        save_settings(load_settings(path, environ={}), path)
    assert len(calls) == 1
