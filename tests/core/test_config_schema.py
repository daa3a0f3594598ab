"""The settings schema: every field says whether it needs a restart, whether it is a
secret and what it must be; the restart list, the checks and the secrets come from it."""

from __future__ import annotations

import copy

import pytest

from gsmbridge import config
from gsmbridge.config import ConfigError, Settings, restart_keys, schema_fields, secret_keys
from gsmbridge.core import private
from gsmbridge.service import Bridge


def test_every_setting_is_declared_with_its_metadata() -> None:
    """A field written as a plain default would have no check and apply live silently:
    every one goes through ``setting()``."""
    plain = [key for key, f in schema_fields() if "restart" not in f.metadata]
    assert plain == []


def test_the_restart_list_is_the_schema_s() -> None:
    assert {"server.port", "modem.port", "store.url"} <= set(restart_keys())
    assert "limits.per_minute" not in restart_keys()


def test_checks_come_from_the_fields_and_name_their_key() -> None:
    settings = Settings()
    assert settings.failed_checks() == []
    settings.server.port = 70000
    settings.modem.pin = "12a"
    settings.retry.base_delay_s, settings.retry.max_delay_s = 100, 50  # a rule between two
    settings.logging.level = 7  # a wrong type fails its check instead of raising
    failed = dict(settings.failed_checks())
    assert failed == {
        "server.port": "server.port must be 0..65535",
        "modem.pin": "modem.pin must be 4 to 8 digits",
        "retry.max_delay_s": "retry.max_delay_s must be >= retry.base_delay_s",
        "logging.level": "logging.level must be DEBUG, INFO, WARNING or ERROR",
    }
    with pytest.raises(ConfigError) as raised:
        settings.validate()
    assert raised.value.key == "server.port"


def test_secrets_come_from_the_schema_and_a_store_url_counts() -> None:
    assert secret_keys()["auth.password_hash"] == "the webhook password hash"
    text = '[store]\nurl = "postgresql://gsm:pw@db.office/queue"\n[modem]\npin = "1234"\n'
    assert private.secrets_in(text) == [
        "the SIM PIN",
        "the shared store's URL (it may hold a password)",
    ]
    assert private.secrets_in('[server]\nport = 8080\n[tunnel]\npublic_url = "x.example"\n') == []


def test_live_settings_apply_and_restart_ones_wait(settings: Settings, tmp_path) -> None:
    bridge = Bridge(settings, tmp_path / "data")
    bridge.start()
    try:
        new = copy.deepcopy(bridge.settings)
        new.limits.per_minute = 3  # live
        new.sending.max_parts = 2  # live, also copied into the modem's options
        new.server.threads = 4  # restart
        assert bridge.live.apply(new) == ["server.threads"]
        assert bridge.settings.limits.per_minute == 3
        assert bridge.settings.server.threads != 4
        assert all(m.options.max_parts == 2 for m in bridge.modems)
    finally:
        bridge.stop()


def test_setting_without_a_check_or_restart_is_live_and_unchecked() -> None:
    f = config.setting(5)
    assert f.metadata == {"restart": False, "secret": "", "check": None}


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("auth.username", "a:b", "must not contain ':'"),
        ("modem.poll_interval_s", 0.0, "at least 1 second"),
        ("modem.send_timeout_s", -5.0, "at least 1 second"),
        ("sending.validity_minutes", -5, "must be 0..635040"),
        ("sending.coalesce_window_s", float("nan"), "must be a number (not nan)"),
        ("retry.max_delay_s", float("inf"), "must be a number (not inf)"),
    ],
)
def test_values_that_would_break_sending_are_refused(key: str, value: object, says: str) -> None:
    """Found by a reviewer: a poll interval of 0 flooded the modem with AT+CSQ, a negative
    validity failed every SMS with "cannot encode", a user name with ':' locked everyone
    out, and inf/nan were taken as numbers."""
    settings = Settings()
    config.set_key(settings, key, value)
    failed = dict(settings.failed_checks())
    assert key in failed and says in failed[key]


def test_a_file_with_them_loads_the_defaults_instead_and_says_so(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[modem]\npoll_interval_s = 0\n[sending]\nvalidity_minutes = -5\n")
    loaded = config.read_settings(path, environ={})
    assert loaded.settings.modem.poll_interval_s == 30.0
    assert loaded.settings.sending.validity_minutes == 24 * 60
    assert {p.key for p in loaded.errors} == {"modem.poll_interval_s", "sending.validity_minutes"}


def test_posting_replies_needs_the_api_key_where_it_is_turned_on() -> None:
    settings = Settings()
    settings.replies.to_cometchat = True
    assert dict(settings.failed_checks()) == {
        "replies.to_cometchat": "replies.to_cometchat needs cometchat.api_key (a CometChat "
        "REST API key with full access)"
    }
    settings.cometchat.api_key = "key"
    assert settings.failed_checks() == []


def test_command_line_args_give_back_what_the_command_line_set() -> None:
    from gsmbridge.config import Settings, command_line_args

    settings = Settings()
    assert command_line_args(settings) == []
    settings.modem.port = ["COM3", "COM4"]
    settings.server.port = 8091
    settings.tunnel.program = ""
    settings.from_command_line = frozenset({"modem.port", "server.port", "tunnel.program"})
    assert command_line_args(settings) == [
        "--port",
        "8091",
        "--modem",
        "COM3,COM4",
        "--tunnel",
        "off",
    ]
