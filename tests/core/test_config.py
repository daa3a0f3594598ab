"""Settings: TOML, environment overrides, validation, password hashing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from gsmbridge.config import (
    ConfigError,
    Settings,
    hash_password,
    load_settings,
    save_settings,
    verify_password,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load_settings(tmp_path / "missing.toml", environ={})
    assert (s.server.host, s.server.port) == ("127.0.0.1", 8080)
    assert s.modem.port == ["sim"]
    assert s.sending.max_parts == 6 and s.sending.smart_encoding is True
    assert s.server.max_body_bytes == 1024 * 1024


def test_file_then_environment(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nport = 9000\nhost = "0.0.0.0"\n[modem]\nport = ["COM3", "COM4"]\npin = 1234\n'
        '[sending]\ndefault_region = "de"\n',
    )
    s = load_settings(path, environ={})
    assert s.server.port == 9000 and s.server.host == "0.0.0.0"
    assert s.modem.port == ["COM3", "COM4"] and s.modem.pin == "1234"
    assert s.sending.default_region == "DE"
    env = {
        "GSMBRIDGE_SERVER_PORT": "9100",
        "GSMBRIDGE_SERVER_HOST": "127.0.0.2",
        "GSMBRIDGE_AUTH_USERNAME": "cc",
        "GSMBRIDGE_AUTH_PASSWORD": "plain-from-env",
        "GSMBRIDGE_MODEM_PORT": "socket://127.0.0.1:7000, /dev/ttyUSB2",
        "GSMBRIDGE_MODEM_BAUDRATE": "9600",
        "GSMBRIDGE_MODEM_PIN": "0000",
        "GSMBRIDGE_SENDING_DEFAULT_REGION": "IN",
        "GSMBRIDGE_SENDING_SMART_ENCODING": "off",
        "GSMBRIDGE_RETRY_BASE_DELAY_S": "1",
        "GSMBRIDGE_DATA_DIR": "/not/a/config/key",
        "UNRELATED": "x",
    }
    s = load_settings(path, environ=env)
    assert s.server.port == 9100 and s.server.host == "127.0.0.2"
    assert s.auth.username == "cc" and s.auth.password == "plain-from-env" and s.auth.enabled
    assert s.modem.port == ["socket://127.0.0.1:7000", "/dev/ttyUSB2"]
    assert s.modem.baudrate == 9600 and s.modem.pin == "0000"
    assert s.sending.default_region == "IN" and s.sending.smart_encoding is False
    assert s.retry.base_delay_s == 1.0


@pytest.mark.parametrize(
    ("text", "env", "fragment"),
    [
        ("[server]\nprot = 1\n", {}, "unknown key server.prot"),
        ("[servre]\nport = 1\n", {}, "unknown section [servre]"),
        ('[server]\nport = "eighty"\n', {}, "server.port"),
        ("[sending]\nsmart_encoding = 1\n", {}, "sending.smart_encoding"),
        ("[modem]\nport = 5\n", {}, "modem.port"),
        ("server = 5\n", {}, "must be a table"),
        ("[server\nport = 1\n", {}, "not valid TOML"),
        ("", {"GSMBRIDGE_SERVER_PORT": "eighty"}, "server.port in the environment"),
        ("", {"GSMBRIDGE_SERVER_PROT": "1"}, "GSMBRIDGE_SERVER_PROT"),
        ("", {"GSMBRIDGE_SENDING_SMART_ENCODING": "maybe"}, "sending.smart_encoding"),
        ("[server]\nport = 70000\n", {}, "server.port"),
        ('[modem]\npin = "12a4"\n', {}, "modem.pin"),
        ('[sending]\ndefault_region = "Germany"\n', {}, "default_region"),
        ('[sending]\ncrash_policy = "pray"\n', {}, "crash_policy"),
        ("[retry]\nbase_delay_s = 10\nmax_delay_s = 1\n", {}, "retry.max_delay_s"),
        ("[limits]\nper_minute = -1\n", {}, "limits.per_minute"),
    ],
)
def test_bad_configuration_is_a_one_line_error(
    tmp_path: Path, text: str, env: dict, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ=env)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_unreadable_or_missing_explicit_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.toml", environ={}, must_exist=True)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b'[auth]\nusername = "\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(bad, environ={})


def test_password_hash_round_trip() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$")
    assert "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("x", "garbage")
    assert not verify_password("x", "scrypt$1$2$3$@@$@@")
    assert hash_password("same") != hash_password("same")  # salted


def test_saved_file_never_holds_the_plain_password(tmp_path: Path) -> None:
    s = Settings()
    s.auth.username = "cc"
    s.auth.password = "plain-secret"
    s.auth.password_hash = hash_password("plain-secret")
    s.modem.port = ["COM7"]
    path = save_settings(s, tmp_path / "out" / "config.toml")
    text = path.read_text()
    assert "plain-secret" not in text
    data = tomllib.loads(text)
    assert "password" not in data["auth"]
    again = load_settings(path, environ={})
    assert again.modem.port == ["COM7"]
    assert verify_password("plain-secret", again.auth.password_hash)
