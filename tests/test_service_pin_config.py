"""A configured SIM PIN changed while gsmbridge runs (an edit of config.toml, or Settings
saved), over the simulator through pyserial (socket://), counting the AT+CPIN= entries
the simulator saw.  Review 8.1: the change was entered like a PIN typed in the Modem tab,
even one the SIM had rejected, even on its last try, and an editor that empties the
file before writing it cost a try per save; the SIM needed its PUK."""

from __future__ import annotations

import copy
import logging

import pytest

from gsmbridge.config import Settings
from gsmbridge.modem.setup import CONFIGURED_PIN_REJECTED, LAST_TRY_HELD_BACK
from gsmbridge.service import Bridge
from gsmbridge.simulator import ModemSimulator, fast_options
from tests.modem.conftest import wait_until

SETTLE_S = 0.5  # a PIN entered by itself follows the SIM check within milliseconds
WAITS = "waits for its PIN"


def checked(sim: ModemSimulator, checks: int) -> bool:
    """The modem checked the SIM (AT+CPIN?) ``checks`` times and asked for its tries
    after the last check: what follows is the decision to enter a PIN or wait."""
    commands = sim.commands
    if commands.count("AT+CPIN?") < checks:
        return False
    last = len(commands) - 1 - commands[::-1].index("AT+CPIN?")
    return any(c.startswith("AT+CPINR") for c in commands[last:])


def waiting(b: Bridge, attempts: int, checks: int | None = None) -> None:
    """The modem waits for a person after ``attempts`` PIN entries (and ``checks`` SIM
    checks), and enters nothing more."""
    modem, sim = b.modems[0], b.modems.simulators["sim"]
    if checks is not None:
        assert wait_until(lambda: checked(sim, checks))
    assert wait_until(lambda: len(sim.pin_attempts) >= attempts)
    assert wait_until(lambda: modem.status.state == "pin-required")
    assert not wait_until(lambda: len(sim.pin_attempts) > attempts, SETTLE_S), sim.pin_attempts


def edit_file(b: Bridge, pin: str) -> None:
    """What the config watch does with an edit of modem.pin in config.toml."""
    values = copy.deepcopy(b.settings)
    values.modem.pin = pin
    b.live.apply_file(values, ["modem.pin"])


def save_settings(b: Bridge, pin: str) -> None:
    """What the Settings dialog's Save does with a new SIM PIN."""
    new = copy.deepcopy(b.settings)
    new.modem.pin = pin
    assert b.live.apply(new) == []


def warnings_since(caplog: pytest.LogCaptureFixture, start: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records[start:]
        if r.levelno == logging.WARNING and WAITS in r.getMessage()
    ]


@pytest.fixture
def start(settings: Settings, tmp_path, caplog: pytest.LogCaptureFixture):
    """A running Bridge on a simulated SIM whose PIN is 1234, with ``pin`` configured."""
    caplog.set_level(logging.INFO, logger="gsmbridge")
    bridges: list[Bridge] = []

    def make(pin: str) -> Bridge:
        settings.modem.pin = pin
        b = Bridge(settings, tmp_path / "data", simulator_options=fast_options(pin="1234"))
        bridges.append(b)
        b.start()
        return b

    yield make
    for b in bridges:
        b.stop()


@pytest.mark.parametrize("change", [edit_file, save_settings], ids=["file", "settings"])
def test_a_configured_pin_changed_back_to_a_rejected_one_is_not_entered(start, caplog, change):
    b = start("1111")
    modem, sim = b.modems[0], b.modems.simulators["sim"]
    waiting(b, attempts=1, checks=1)  # 1111 rejected at start
    assert modem.status.pin_tries == 2
    change(b, "2222")  # a PIN this SIM has not rejected, 2 tries left: entered once
    waiting(b, attempts=2)
    assert sim.pin_attempts == ["1111", "2222"] and modem.status.pin_tries == 1
    checks, logged = sim.commands.count("AT+CPIN?"), len(caplog.records)
    change(b, "1111")  # rejected before, and the SIM's last try: held back
    waiting(b, attempts=2, checks=checks + 1)
    assert sim.pin_attempts == ["1111", "2222"]
    assert sim.modem.sim.state == "SIM PIN" and sim.modem.sim.pin_tries_left == 1
    (said,) = warnings_since(caplog, logged)  # once, with what to do
    assert CONFIGURED_PIN_REJECTED in said and "1 try left" in said
    assert "Modem tab" in said and "unlock the SIM in a phone" in said
    assert modem.status.last_error.startswith(CONFIGURED_PIN_REJECTED)
    b.modems.enter_pin("1234")  # typed in the Modem tab: entered, even on the last try
    assert modem.wait_ready(5)
    assert sim.pin_attempts == ["1111", "2222", "1234"]


@pytest.mark.parametrize("tries", [2, 1], ids=["rejected", "rejected-last-try"])
def test_a_file_emptied_then_written_again_costs_no_try(start, tries):
    """An editor that truncates config.toml before writing it: modem.pin goes "" and
    back to the same value, a PIN this SIM rejected."""
    b = start("1111")
    modem, sim = b.modems[0], b.modems.simulators["sim"]
    waiting(b, attempts=1, checks=1)
    if tries == 1:
        b.modems.enter_pin("5555")  # a wrong PIN typed in the Modem tab
        waiting(b, attempts=2)
    assert modem.status.pin_tries == tries
    attempts = len(sim.pin_attempts)
    for _save in range(3):
        edit_file(b, "")
        waiting(b, attempts=attempts)  # the editor writes a moment later
        edit_file(b, "1111")
        waiting(b, attempts=attempts)
    assert len(sim.pin_attempts) == attempts and sim.modem.sim.pin_tries_left == tries
    assert sim.modem.sim.state == "SIM PIN"


def test_an_unchanged_pin_through_an_empty_file_costs_nothing_on_the_last_try(start, caplog):
    """Held back on the last try (never entered), then the file rewritten: still not."""
    b = start("")
    modem, sim = b.modems[0], b.modems.simulators["sim"]
    waiting(b, attempts=0, checks=1)
    b.modems.enter_pin("5555")
    waiting(b, attempts=1)
    b.modems.enter_pin("6666")
    waiting(b, attempts=2)
    assert modem.status.pin_tries == 1
    checks, logged = sim.commands.count("AT+CPIN?"), len(caplog.records)
    edit_file(b, "1234")  # the right PIN, but the SIM's last try: held back
    waiting(b, attempts=2, checks=checks + 1)
    (said,) = warnings_since(caplog, logged)
    assert LAST_TRY_HELD_BACK in said and "unlock the SIM in a phone" in said
    edit_file(b, "")
    waiting(b, attempts=2)  # the editor writes a moment later
    edit_file(b, "1234")
    waiting(b, attempts=2)
    assert sim.pin_attempts == ["5555", "6666"] and sim.modem.sim.pin_tries_left == 1
    assert len(warnings_since(caplog, logged)) == 1  # said once, not "no PIN" between
    b.modems.enter_pin("1234")
    assert modem.wait_ready(5)


@pytest.mark.parametrize("change", [edit_file, save_settings], ids=["file", "settings"])
@pytest.mark.parametrize("configured", ["", "1111"], ids=["none", "wrong"])
def test_a_new_right_pin_saved_while_the_sim_waits_is_entered_once(start, change, configured):
    """The earlier fix: a PIN saved while the SIM waits (2+ tries left) is tried at once."""
    b = start(configured)
    modem, sim = b.modems[0], b.modems.simulators["sim"]
    before = [configured] if configured else []
    waiting(b, attempts=len(before), checks=1)
    change(b, "1234")
    assert modem.wait_ready(5)
    assert sim.pin_attempts == [*before, "1234"]
    change(b, "5555")  # the SIM is unlocked: kept for when it asks again, not entered
    assert not wait_until(lambda: len(sim.pin_attempts) > len(before) + 1, SETTLE_S)
    assert modem.status.ready and modem.options.pin == "5555"
