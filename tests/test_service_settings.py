"""Settings changed while running (bridge.live): what it says it applies, nothing unsafe."""

from __future__ import annotations

import copy

import pytest

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from gsmbridge.web.server import ExposureError
from tests.helpers import Client, payload


def test_modem_timings_apply_to_the_running_modem(bridge: Bridge, settings: Settings) -> None:
    new = copy.deepcopy(settings)
    new.modem.send_timeout_s = settings.modem.send_timeout_s + 7
    new.modem.register_timeout_s = settings.modem.register_timeout_s + 7
    new.modem.poll_interval_s = settings.modem.poll_interval_s + 7
    restart = bridge.live.apply(new)
    modem = bridge.modems[0]
    for name in ("send_timeout_s", "register_timeout_s", "poll_interval_s"):
        applied = getattr(modem.options, name) == getattr(new.modem, name)
        assert applied or f"modem.{name}" in restart, name


def test_a_smaller_body_limit_applies_or_asks_for_a_restart(
    bridge: Bridge, settings: Settings, client: Client
) -> None:
    new = copy.deepcopy(settings)
    new.server.max_body_bytes = 2048
    restart = bridge.live.apply(new)
    big = payload(data__smsContent="x" * 4000)
    status, _, _ = client.post("/webhook", big)
    assert status == 413 or "server.max_body_bytes" in restart


def test_credentials_cannot_be_removed_while_listening_on_the_network(
    settings: Settings, tmp_path
) -> None:
    settings.server.host = "0.0.0.0"
    b = Bridge(settings, tmp_path / "data")
    b.start()
    try:
        new = copy.deepcopy(settings)
        new.auth.username = ""
        new.auth.password = ""
        with pytest.raises(ExposureError):
            b.live.apply(new)
        status, _, _ = Client(b.web.port).post("/webhook", payload(), auth=False)
        assert status == 401
    finally:
        b.stop()


class _TunnelStandIn:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def stop(self) -> None:
        self.calls.append("stop")

    def register_now(self) -> None:
        self.calls.append("register")

    def check_now(self) -> None:
        self.calls.append("check")


@pytest.mark.parametrize(
    ("key", "value", "calls"),
    [
        ("self_check_interval_s", 600.0, ["check"]),  # a quick tunnel's URL must not change
        ("path", "/opt/cloudflared", ["stop"]),
        ("token", "eyJ-another", ["stop"]),
    ],
)
def test_only_what_the_tunnel_program_is_started_with_restarts_it(
    bridge: Bridge, settings: Settings, key: str, value: object, calls: list[str]
) -> None:
    tunnel = _TunnelStandIn()
    bridge.tunnel = tunnel  # type: ignore[assignment]
    new = copy.deepcopy(bridge.settings)
    setattr(new.tunnel, key, value)
    assert bridge.live.apply(new) == []
    assert tunnel.calls == calls


def test_new_credentials_re_register_the_tunnel_without_restarting_it(bridge: Bridge) -> None:
    tunnel = _TunnelStandIn()
    bridge.tunnel = tunnel  # type: ignore[assignment]
    new = copy.deepcopy(bridge.settings)
    new.auth.password = "another-pass"
    new.auth.password_hash = ""
    bridge.live.apply(new)
    assert tunnel.calls == ["register"]


def test_a_pin_saved_while_a_modem_waits_for_one_unlocks_it(settings: Settings, tmp_path) -> None:
    """Settings > Modem > SIM PIN, saved while the SIM asked for its PIN: the modem went
    on waiting (the PIN was only read at the next connect) and no restart was asked for."""
    import time

    from gsmbridge.simulator import fast_options

    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options(pin="4321"))
    b.start()
    try:
        modem = b.modems[0]
        deadline = time.monotonic() + 10
        while modem.status.state != "pin-required" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert modem.status.state == "pin-required"
        new = copy.deepcopy(b.settings)
        new.modem.pin = "4321"
        assert b.live.apply(new) == []
        assert modem.wait_ready(10)
        assert b.modems.simulators["sim"].pin_attempts == ["4321"]
    finally:
        b.stop()


def test_a_shorter_poll_interval_applies_now_not_after_the_longer_one(
    settings: Settings, tmp_path
) -> None:
    import time

    from gsmbridge.simulator import fast_options

    settings.modem.poll_interval_s = 600  # ten minutes between signal polls
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options())
    b.start()
    try:
        modem = b.modems[0]
        assert modem.wait_ready(10)
        sim = b.modems.simulators["sim"]
        before, quiet_since = sim.commands.count("AT+CSQ"), time.monotonic()
        while time.monotonic() - quiet_since < 1.5:  # the quick polls after connecting end
            time.sleep(0.05)
            if sim.commands.count("AT+CSQ") != before:
                before, quiet_since = sim.commands.count("AT+CSQ"), time.monotonic()
        new = copy.deepcopy(b.settings)
        new.modem.poll_interval_s = 1
        assert b.live.apply(new) == []
        deadline = time.monotonic() + 5
        while sim.commands.count("AT+CSQ") < before + 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.commands.count("AT+CSQ") >= before + 2  # now, and a second later
    finally:
        b.stop()
