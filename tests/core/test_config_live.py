"""LiveSettings: the one way a setting changes while the service runs (issue 15.1)."""

from __future__ import annotations

import copy

import pytest

from gsmbridge.config import ConfigError, LiveSettings, Settings
from gsmbridge.service.modems import MODEM_OPTIONS, live_option_keys


def _changed(settings: Settings, **values: object) -> Settings:
    new = copy.deepcopy(settings)
    for key, value in values.items():
        section, name = key.split("__")
        setattr(getattr(new, section), name, value)
    return new


def test_live_values_go_into_the_shared_objects_and_restart_ones_are_reported() -> None:
    settings = Settings()
    sending = settings.sending  # what a component holds: the section itself
    live = LiveSettings(settings)
    new = _changed(settings, sending__max_parts=3, server__port=9999, limits__per_minute=7)
    assert live.apply(new) == ["server.port"]
    assert sending.max_parts == 3 and settings.sending is sending
    assert settings.limits.per_minute == 7
    assert settings.server.port == 8080  # waits for a restart


def test_each_reaction_hears_only_its_keys_after_the_values_are_in() -> None:
    settings = Settings()
    live = LiveSettings(settings)
    heard: dict[str, list[str]] = {"tunnel": [], "level": [], "all": []}
    seen_level: list[str] = []

    def level_changed(keys: list[str]) -> None:
        heard["level"] += keys
        seen_level.append(settings.logging.level)  # already the new value

    live.on_change(["tunnel."], lambda keys: heard["tunnel"].extend(keys))
    live.on_change(["logging.level"], level_changed)
    live.on_change([""], lambda keys: heard["all"].extend(keys))
    live.apply(_changed(settings, logging__level="DEBUG", limits__per_day=5))
    assert heard == {
        "tunnel": [],
        "level": ["logging.level"],
        "all": ["limits.per_day", "logging.level"],
    }
    assert seen_level == ["DEBUG"]
    heard["all"].clear()
    live.apply(copy.deepcopy(settings))  # nothing changed: nobody is called
    assert heard["all"] == []


def test_a_bad_value_or_a_guard_refuses_everything() -> None:
    settings = Settings()
    live = LiveSettings(settings)
    called: list[list[str]] = []
    live.on_change([""], called.append)
    with pytest.raises(ConfigError):
        live.apply(_changed(settings, limits__per_minute=3, modem__poll_interval_s=0))
    assert settings.limits.per_minute != 3

    def refuse(new: Settings) -> None:
        if not new.auth.enabled:
            raise PermissionError("not on a network address")

    live.guard(refuse)
    with pytest.raises(PermissionError):
        live.apply(_changed(settings, limits__per_minute=3))
    assert settings.limits.per_minute != 3 and called == []


def test_new_credentials_from_the_file_react_and_end_a_lock_out() -> None:
    settings = Settings()
    settings.auth.username, settings.auth.password = "cc", "old"
    settings.auth.unreadable = "the file does not load"
    live = LiveSettings(settings)
    heard: list[list[str]] = []
    live.on_change(["auth."], heard.append)
    fresh = copy.deepcopy(settings.auth)
    fresh.password = "new"
    live.apply_credentials(fresh)
    assert settings.auth.password == "new" and not settings.auth.unreadable
    assert heard == [["auth.password"]]
    live.apply_credentials(copy.deepcopy(settings.auth))  # the same again: no reaction
    assert len(heard) == 1


def test_the_modem_options_table_names_real_settings_and_driver_options() -> None:
    from dataclasses import fields

    from gsmbridge.config import get_key, restart_keys
    from gsmbridge.modem.gsm import ModemOptions

    options = {f.name for f in fields(ModemOptions)}
    for name, (key, _convert) in MODEM_OPTIONS.items():
        assert name in options
        get_key(Settings(), key)  # raises for a key the schema does not have
    live = live_option_keys()
    assert "modem.baudrate" not in live and "modem.baudrate" in restart_keys()
    assert {"sending.max_parts", "modem.send_timeout_s"} <= set(live)


def test_two_changes_at_once_react_one_after_the_other() -> None:
    """The window's Save and the config watch (set-password) may apply together: a
    tunnel restart must not interleave with another change's reaction."""
    import threading
    import time

    settings = Settings()
    live = LiveSettings(settings)
    trace: list[str] = []

    def slow(keys: list[str]) -> None:
        trace.append(f"in {keys[0]}")
        time.sleep(0.1)
        trace.append(f"out {keys[0]}")

    live.on_change(["tunnel.", "auth."], slow)
    fresh = copy.deepcopy(settings.auth)
    fresh.username, fresh.password = "cc", "new-pass"
    window = threading.Thread(
        target=live.apply, args=(_changed(settings, tunnel__program="ngrok"),)
    )
    window.start()
    time.sleep(0.02)
    live.apply_credentials(fresh)
    window.join()
    assert trace == [
        "in tunnel.program",
        "out tunnel.program",
        "in auth.username",
        "out auth.username",
    ]


def test_kept_keys_stay_as_they_run_even_when_they_changed_after_new_was_built() -> None:
    """A window built its settings, then set-password's credentials arrived through the
    config watch: applying the window's settings put the old credentials back, and
    webhooks with the new password got 401 until the watch applied them again."""
    from gsmbridge.config import AUTH_KEYS, AuthSettings, apply_new_password

    settings = Settings(auth=AuthSettings(username="alice"))
    apply_new_password(settings, "the-old-password")
    live = LiveSettings(settings)
    heard: list[str] = []
    live.on_change(["auth."], heard.extend)
    from_window = _changed(settings, limits__per_minute=3)  # built from the old ones
    unkept = _changed(settings, limits__per_minute=4)

    fresh = AuthSettings(username="bob")
    scratch = Settings(auth=fresh)
    apply_new_password(scratch, "set-by-the-command")
    live.apply_credentials(scratch.auth)  # the config watch, meanwhile
    heard.clear()

    assert live.apply(from_window, keep=AUTH_KEYS) == []
    assert (settings.auth.username, settings.auth.password_hash) == ("bob", fresh.password_hash)
    assert settings.limits.per_minute == 3 and heard == []
    # Without keep, the same settings put the old credentials back (what happened).
    live.apply(unkept)
    assert settings.auth.username == "alice" and heard
