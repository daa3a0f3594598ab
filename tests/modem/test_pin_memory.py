"""The SIM PIN memory against the simulator: every PIN the SIM rejected stays rejected
(three wrong PINs lock it), a typed PIN is entered once per press, the memory is
forgotten when the SIM is another one or was unlocked elsewhere; a configured PIN
changed while running keeps the configured PIN's rules; a SIM that waits for a person
is logged once."""

from __future__ import annotations

import logging

import pytest

from gsmbridge.modem.setup import CONFIGURED_PIN_REJECTED, LAST_TRY_HELD_BACK, PIN_REJECTED
from tests.modem.conftest import RecordingListener, wait_until

SETTLE_S = 0.5  # a wrong automatic entry follows the SIM check within milliseconds


def settled(sim, checks: int) -> bool:
    """The modem checked the SIM (AT+CPIN?) ``checks`` times and asked for its tries
    after the last check: what follows is the decision to enter a PIN or wait."""
    commands = list(sim.commands)
    if commands.count("AT+CPIN?") < checks:
        return False
    last = len(commands) - 1 - commands[::-1].index("AT+CPIN?")
    return any(c.startswith("AT+CPINR") for c in commands[last:])


def pin_required(sim, modem, attempts: int, checks: int) -> None:
    """The modem waits for a person after ``attempts`` PIN entries and ``checks`` checks,
    and enters nothing more."""
    assert wait_until(lambda: settled(sim, checks))
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert not wait_until(lambda: len(sim.pin_attempts) > attempts, SETTLE_S), sim.pin_attempts


def test_a_mistyped_pin_does_not_bring_back_the_rejected_configured_one(
    sim_factory, modem_factory, transport
):
    """Review 7.1: after 1234 (configured) and 1111 (typed) were rejected, the bridge
    entered 1234 again by itself and the SIM needed its PUK."""
    sim = sim_factory(transport, pin="9999")
    modem = modem_factory(sim.url, pin="1234")
    pin_required(sim, modem, attempts=1, checks=1)
    assert modem.status.pin_tries == 2
    modem.enter_pin("1111")  # one press, one wrong PIN
    pin_required(sim, modem, attempts=2, checks=2)
    assert sim.pin_attempts == ["1234", "1111"]
    assert sim.modem.sim.pin_tries_left == 1 and modem.status.pin_tries == 1
    assert modem.status.last_error == f"{PIN_REJECTED} — 1 try left before the SIM locks"
    modem.reconnect()  # nor at the next connection
    pin_required(sim, modem, attempts=2, checks=3)
    assert sim.modem.sim.state == "SIM PIN" and sim.modem.sim.pin_tries_left == 1
    modem.enter_pin("9999")  # the user's next press: the right one
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["1234", "1111", "9999"]


def test_the_same_typed_pin_twice_is_entered_twice(sim_factory, modem_factory):
    """A press is a person's decision: each is entered once, even a PIN rejected before."""
    sim = sim_factory(pin="9999")
    modem = modem_factory(sim.url)
    pin_required(sim, modem, attempts=0, checks=1)
    modem.enter_pin("1111")
    pin_required(sim, modem, attempts=1, checks=2)
    modem.enter_pin("1111")
    pin_required(sim, modem, attempts=2, checks=3)
    assert sim.pin_attempts == ["1111", "1111"] and modem.status.pin_tries == 1


def test_a_saved_pin_changed_back_to_a_rejected_one_is_not_entered(
    sim_factory, modem_factory, caplog
):
    """Settings > SIM PIN saved, or modem.pin edited in the file, while the SIM waits: the
    service puts the new PIN into the options (Modems.apply_options) and the modem
    decides by the configured PIN's rules.  Review 8.1: saved back to the first (rejected)
    PIN, it was entered like a typed one, on the last try, and the SIM needed its PUK."""
    caplog.set_level(logging.INFO, logger="gsmbridge")
    sim = sim_factory(pin="9999")
    modem = modem_factory(sim.url, pin="1234")
    pin_required(sim, modem, attempts=1, checks=1)
    modem.options.pin = "5555"  # not rejected yet, 2 tries left: entered once
    modem.configured_pin_changed()
    pin_required(sim, modem, attempts=2, checks=2)
    assert sim.pin_attempts == ["1234", "5555"] and sim.modem.sim.pin_tries_left == 1
    modem.reconnect()
    pin_required(sim, modem, attempts=2, checks=3)
    logged = len(waits(caplog, "waits for its PIN"))
    modem.options.pin = "1234"  # saved back to the first: rejected, and the last try
    modem.configured_pin_changed()
    pin_required(sim, modem, attempts=2, checks=4)
    assert sim.pin_attempts == ["1234", "5555"] and sim.modem.sim.state == "SIM PIN"
    assert modem.status.last_error == (
        f"{CONFIGURED_PIN_REJECTED}: enter the PIN — 1 try left before the SIM locks"
    )
    (said,) = waits(caplog, "waits for its PIN")[logged:]
    assert CONFIGURED_PIN_REJECTED in said.getMessage()
    modem.configured_pin_changed()  # the file saved again: no try, not said again
    pin_required(sim, modem, attempts=2, checks=5)
    assert len(waits(caplog, "waits for its PIN")) == logged + 1
    modem.options.pin = "5555"  # the other rejected one: held back, said again
    modem.configured_pin_changed()
    pin_required(sim, modem, attempts=2, checks=6)
    assert len(waits(caplog, "waits for its PIN")) == logged + 2


def test_a_new_saved_pin_is_not_entered_on_the_last_try(sim_factory, modem_factory):
    """Even a PIN this SIM never rejected: the configured PIN keeps away from the last
    try (a typed one does not)."""
    sim = sim_factory(pin="9999")
    modem = modem_factory(sim.url)
    pin_required(sim, modem, attempts=0, checks=1)
    for attempts, typed in enumerate(("1111", "2222"), 1):
        modem.enter_pin(typed)
        pin_required(sim, modem, attempts=attempts, checks=attempts + 1)
    modem.options.pin = "9999"
    modem.configured_pin_changed()
    pin_required(sim, modem, attempts=2, checks=4)
    assert modem.status.last_error == (
        f"{LAST_TRY_HELD_BACK}: enter the PIN — 1 try left before the SIM locks"
    )
    modem.enter_pin("9999")
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["1111", "2222", "9999"]


def test_a_wrong_saved_pin_then_a_wrong_typed_one_locks_nothing(sim_factory, modem_factory):
    """Review 7.1: a wrong PIN saved in Settings, then a wrong one typed in the Modem tab:
    the saved one came back by itself."""
    sim = sim_factory(pin="9999")
    modem = modem_factory(sim.url)
    pin_required(sim, modem, attempts=0, checks=1)
    modem.options.pin = "5555"  # saved in Settings while the SIM waits
    modem.configured_pin_changed()
    pin_required(sim, modem, attempts=1, checks=2)
    modem.enter_pin("1111")
    pin_required(sim, modem, attempts=2, checks=3)
    assert sim.pin_attempts == ["5555", "1111"] and sim.modem.sim.pin_tries_left == 1


def test_a_sim_unlocked_elsewhere_takes_the_configured_pin_again(sim_factory, modem_factory):
    """Review 7.1 (nit): the SIM's counter is full again (a right PIN or the PUK was
    entered in a phone): the configured PIN may be right now; the window never said
    'PIN rejected; not retried automatically — 3 tries left'."""
    listener = RecordingListener()
    sim = sim_factory(pin="9999")
    modem = modem_factory(sim.url, pin="1234", listener=listener)
    pin_required(sim, modem, attempts=1, checks=1)
    modem.enter_pin("1111")
    pin_required(sim, modem, attempts=2, checks=2)
    # In a phone: the right PIN (the counter is full again), changed to the configured one.
    sim.modem.sim.pin_tries_left = 3
    sim.options.pin = "1234"
    modem.reconnect()
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["1234", "1111", "1234"]
    said = [s.last_error for s in listener.statuses]
    assert not [e for e in said if e.startswith(PIN_REJECTED) and "3 tries" in e], said


def test_another_sim_takes_the_configured_pin_again(sim_factory, modem_factory):
    """A modem that cannot count the tries: a new ICCID says it is another SIM."""
    sim = sim_factory(pin="9999", pin_tries_style="none")
    modem = modem_factory(sim.url, pin="1234")
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert wait_until(lambda: modem.status.iccid == sim.options.iccid)
    modem.reconnect()  # the same SIM: the memory holds
    assert wait_until(lambda: sim.commands.count("AT+CPIN?") >= 2)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert not wait_until(lambda: len(sim.pin_attempts) > 1, SETTLE_S)
    sim.options.iccid = "8900109876543210987"  # another SIM, whose PIN is the configured one
    sim.options.pin = "1234"
    modem.reconnect()
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["1234", "1234"]


def test_a_pin_typed_right_leaves_the_configured_one_rejected(sim_factory, modem_factory):
    """The typed PIN filled the counter, but the configured one is still wrong for this
    SIM: when the SIM asks again (a power cut), it waits, and says why without
    contradicting itself."""
    sim = sim_factory(pin="9999")
    modem = modem_factory(sim.url, pin="1234")
    pin_required(sim, modem, attempts=1, checks=1)
    modem.enter_pin("9999")
    assert modem.wait_ready(5)
    sim.modem.sim.state = "SIM PIN"  # the modem lost power; the counter is full
    checks = sim.commands.count("AT+CPIN?")
    modem.reconnect()
    pin_required(sim, modem, attempts=2, checks=checks + 1)
    assert sim.pin_attempts == ["1234", "9999"]
    assert modem.status.last_error == (
        f"{CONFIGURED_PIN_REJECTED}: enter the PIN — 3 tries left before the SIM locks"
    )


def test_restarts_with_a_wrong_configured_pin_never_use_the_last_try(
    sim_factory, modem_factory, caplog
):
    """The memory lasts one run: each start enters the configured PIN once, but never on
    the SIM's last try (a service restarted in a loop would lock it)."""
    caplog.set_level(logging.INFO, logger="gsmbridge")
    sim = sim_factory(pin="9999")
    for start, (attempts, checks) in enumerate(((1, 2), (2, 4), (2, 5)), 1):
        modem = modem_factory(sim.url, pin="1234")  # a new run: nothing remembered
        pin_required(sim, modem, attempts=attempts, checks=checks)
        if start < 3:
            modem.stop()
    assert sim.pin_attempts == ["1234", "1234"]
    assert sim.modem.sim.state == "SIM PIN" and sim.modem.sim.pin_tries_left == 1
    assert modem.status.last_error == (
        f"{LAST_TRY_HELD_BACK}: enter the PIN — 1 try left before the SIM locks"
    )
    text = waits(caplog, "waits for its PIN")[-1].getMessage()
    assert LAST_TRY_HELD_BACK in text and "unlock the SIM in a phone" in text
    modem.enter_pin("9999")  # typed by a person: entered
    assert modem.wait_ready(5)


def test_a_pin_typed_while_the_sim_needs_no_pin_is_not_kept_for_later(sim_factory, modem_factory):
    """A PIN typed while the SIM needs its PUK (or is unlocked) is ignored, not entered
    by itself the next time the SIM asks for a PIN."""
    sim = sim_factory(pin="9999")
    sim.modem.sim.state = "SIM PUK"
    modem = modem_factory(sim.url)
    assert wait_until(lambda: modem.status.state == "puk-required")
    modem.enter_pin("1111")
    assert wait_until(lambda: modem.pin.entered is None)
    sim.modem.sim.state = "SIM PIN"  # the PUK was entered in a phone
    modem.reconnect()
    pin_required(sim, modem, attempts=0, checks=2)
    modem.enter_pin("9999")
    assert modem.wait_ready(5)
    modem.enter_pin("2222")  # unlocked meanwhile
    assert wait_until(lambda: modem.pin.entered is None)
    sim.modem.sim.state = "SIM PIN"  # a power cut
    checks = sim.commands.count("AT+CPIN?")
    modem.reconnect()
    pin_required(sim, modem, attempts=1, checks=checks + 1)
    assert sim.pin_attempts == ["9999"]


def waits(caplog: pytest.LogCaptureFixture, words: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if words in r.getMessage()]


def test_a_sim_waiting_for_its_pin_is_logged_once(sim_factory, modem_factory, caplog):
    """Review 7.4: headless, the log said only 'not ready (connecting)'."""
    caplog.set_level(logging.INFO, logger="gsmbridge")
    sim = sim_factory(pin="4321")
    modem = modem_factory(sim.url)
    pin_required(sim, modem, attempts=0, checks=1)
    assert wait_until(lambda: waits(caplog, "waits for its PIN"))
    (record,) = waits(caplog, "waits for its PIN")
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert sim.url in text and "no PIN is configured" in text
    assert "3 tries left before the SIM locks" in text
    assert "set modem.pin in the config" in text.lower() and "Modem tab" in text
    modem.reconnect()  # not again at each reconnect
    pin_required(sim, modem, attempts=0, checks=2)
    assert len(waits(caplog, "waits for its PIN")) == 1
    modem.enter_pin("1111")  # a wrong one: a new wait, said again with the tries left
    assert wait_until(lambda: len(waits(caplog, "waits for its PIN")) == 2)
    assert "2 tries left" in waits(caplog, "waits for its PIN")[1].getMessage()


def test_a_sim_needing_its_puk_is_logged_once(sim_factory, modem_factory, caplog):
    caplog.set_level(logging.INFO, logger="gsmbridge")
    sim = sim_factory(pin="1111")
    sim.modem.sim.state = "SIM PUK"
    modem = modem_factory(sim.url, pin="1111")
    assert wait_until(lambda: modem.status.state == "puk-required")
    assert wait_until(lambda: waits(caplog, "needs its PUK"))
    modem.reconnect()
    assert wait_until(lambda: sim.commands.count("AT+CPIN?") >= 2)
    assert wait_until(lambda: modem.status.state == "puk-required")
    (record,) = waits(caplog, "needs its PUK")
    assert record.levelno == logging.ERROR and sim.url in record.getMessage()
    assert "PUK from the SIM's card" in record.getMessage() and sim.pin_attempts == []
