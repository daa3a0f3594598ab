"""The initialisation (modem/setup.py) against the simulator: the SIM PIN (never
retried), PUK, registration, status polls."""

from __future__ import annotations

import pytest

from gsmbridge.modem.errors import ModemUnavailable
from gsmbridge.modem.setup import PIN_REJECTED
from tests.modem.conftest import RecordingListener, ready_modem, wait_until

NUMBER = "+31612345678"


def test_configured_pin_is_entered_once(sim_factory, modem_factory):
    sim, modem = ready_modem(sim_factory, modem_factory, sim_options={"pin": "2468"}, pin="2468")
    assert sim.pin_attempts == ["2468"]
    assert modem.send_sms(NUMBER, "after PIN").references == [0]


def test_wrong_pin_is_never_retried(sim_factory, modem_factory, transport):
    sim = sim_factory(transport, pin="2468")
    modem = modem_factory(sim.url, pin="0000")
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert modem.status.last_error == f"{PIN_REJECTED} — 2 tries left before the SIM locks"
    assert modem.status.pin_tries == 2
    with pytest.raises(ModemUnavailable):
        modem.send_sms(NUMBER, "locked")
    modem.reconnect()  # a fresh connection must not try the rejected PIN again
    assert wait_until(lambda: sim.commands.count("AT+CPIN?") >= 2)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert sim.pin_attempts == ["0000"] and modem.status.pin_tries == 2  # asked, not used
    modem.enter_pin("2468")  # the user types the right one
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["0000", "2468"]
    assert modem.status.pin_tries is None  # unlocked: nothing to count


def test_pin_required_without_pin_then_user_enters_it(sim_factory, modem_factory):
    sim = sim_factory(pin="1111", sim_busy_after_pin=2)
    modem = modem_factory(sim.url)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert sim.pin_attempts == [] and "enter the PIN" in modem.status.last_error
    with pytest.raises(ValueError):
        modem.enter_pin("12ab")
    modem.enter_pin("1111")
    assert modem.wait_ready(5)  # through two "SIM busy" answers
    assert sim.pin_attempts == ["1111"]


# (manufacturer, model the simulator says, how it counts): each maker's own command, or
# 3GPP's AT+CPINR, reaches the window as the same number.
MAKERS = [
    ("gsmbridge", "Simulated GSM modem", "3gpp"),
    ("Quectel", "EC25", "quectel"),
    ("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H", "simcom"),
    ("SIMCOM_Ltd", "SIMCOM_SIM800L", "simcom"),
    ("huawei", "E3372", "huawei"),
    ("huawei", "E173", "huawei"),
    ("ZTE CORPORATION", "MF833V", "zte"),
    ("Quectel", "EC25", "3gpp"),  # a newer firmware: only the standard answers
]


@pytest.mark.parametrize(("maker", "model", "style"), MAKERS)
def test_the_tries_left_are_said_before_and_after_a_wrong_pin(
    sim_factory, modem_factory, maker, model, style
):
    sim = sim_factory(
        pin="2468", manufacturer=maker, model=model, pin_tries_style=style, reports_inline_only=True
    )
    modem = modem_factory(sim.url)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert modem.status.pin_tries == 3
    assert (
        modem.status.last_error
        == "SIM PIN required: enter the PIN — 3 tries left before the SIM locks"
    )
    modem.enter_pin("1111")
    assert wait_until(lambda: modem.status.pin_tries == 2)
    assert modem.status.last_error == f"{PIN_REJECTED} — 2 tries left before the SIM locks"
    modem.enter_pin("1112")
    assert wait_until(lambda: modem.status.pin_tries == 1)
    assert "1 try left before the SIM locks" in modem.status.last_error
    assert sim.pin_attempts == ["1111", "1112"]  # asking never used a try
    if style == "3gpp":  # the last one: the log says the PUK is needed, not "0 tries"
        modem.enter_pin("1113")
        assert wait_until(lambda: modem.status.state == "puk-required")


def test_a_modem_that_cannot_count_says_the_rule(sim_factory, modem_factory):
    sim = sim_factory(pin="2468", pin_tries_style="none")
    modem = modem_factory(sim.url, pin="0000")
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert modem.status.pin_tries is None
    assert modem.status.last_error == f"{PIN_REJECTED} — 3 wrong PINs in a row lock the SIM"


def test_puk_required(sim_factory, modem_factory):
    sim = sim_factory(pin="1111")
    sim.modem.sim.state = "SIM PUK"
    modem = modem_factory(sim.url, pin="1111")
    assert wait_until(lambda: modem.status.state == "puk-required")
    assert "PUK" in modem.status.last_error and sim.pin_attempts == []


def test_late_registration(sim_factory, modem_factory, transport):
    listener = RecordingListener()
    sim = sim_factory(transport, register_delay_s=0.8)
    modem = modem_factory(
        sim.url, listener=listener, register_timeout_s=0.3, poll_interval_s=1.0
    )  # polls every 0.2 s while searching
    assert wait_until(lambda: modem.status.state == "searching")
    with pytest.raises(ModemUnavailable):
        modem.send_sms(NUMBER, "too early")
    assert modem.wait_ready(5)
    states = listener.states()
    assert states.index("searching") < states.index("ready")
    assert any("still trying" in s.last_error for s in listener.statuses)
    assert modem.status.last_error == ""


def test_registration_denied(sim_factory, modem_factory):
    sim = sim_factory(registration=3)
    modem = modem_factory(sim.url)
    assert wait_until(lambda: modem.status.state == "denied")
    assert modem.status.registration == "denied"


def test_no_network_service_means_unavailable(sim_factory, modem_factory):
    _sim, modem = ready_modem(
        sim_factory, modem_factory, sim_options={"cms_error_every": 1, "cms_error_code": 331}
    )
    with pytest.raises(ModemUnavailable) as info:
        modem.send_sms(NUMBER, "x")
    assert info.value.code == 331


def test_polling_publishes_status_and_skips_sends(sim_factory, modem_factory):
    listener = RecordingListener()
    sim, modem = ready_modem(
        sim_factory,
        modem_factory,
        sim_options={"send_latency_s": 0.05},
        listener=listener,
        poll_interval_s=0.1,
    )
    polls = sim.commands.count("AT+CSQ")
    assert wait_until(lambda: sim.commands.count("AT+CSQ") >= polls + 2, 3)
    assert any(s.signal_dbm is not None and s.ready for s in listener.statuses)
    before = len(sim.commands)
    for i in range(4):
        modem.send_sms(NUMBER, f"burst {i}", more_to_come=i < 3)
    sends = [i for i, c in enumerate(sim.commands) if i >= before and c.startswith("AT+CMGS")]
    assert len(sends) == 4
    assert "AT+CSQ" not in sim.commands[sends[0] : sends[-1]]
    assert "AT+CMMS=2" in sim.commands[before : sends[0]]


def test_rejection_message_survives_reconnects(sim_factory, modem_factory):
    sim = sim_factory(pin="2468")
    modem = modem_factory(sim.url, pin="1357")
    assert wait_until(lambda: modem.status.state == "pin-required")
    modem.reconnect()
    assert wait_until(lambda: sim.commands.count("AT+CPIN?") >= 2)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert modem.status.last_error.startswith(PIN_REJECTED) and sim.pin_attempts == ["1357"]


def test_configured_pin_that_is_not_digits_is_never_sent(sim_factory, modem_factory):
    sim = sim_factory(pin="2468")
    modem = modem_factory(sim.url, pin='24"68')
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert "not 4 to 8 digits" in modem.status.last_error and sim.pin_attempts == []
