"""The SIM PIN through the service, as the window gives it: saved in Settings
(bridge.live) and typed in the Modem tab (Modems.enter_pin), over the simulator."""

from __future__ import annotations

import copy
import time

from gsmbridge.config import Settings
from gsmbridge.service import Bridge
from gsmbridge.simulator import fast_options
from tests.modem.conftest import wait_until


def test_a_wrong_saved_pin_then_a_wrong_typed_one_are_each_entered_once(
    settings: Settings, tmp_path
) -> None:
    """Review 7.1: after the saved PIN and then a typed one were rejected, the saved one
    was entered again by itself, and the SIM needed its PUK."""
    b = Bridge(settings, tmp_path / "data", simulator_options=fast_options(pin="9999"))
    b.start()
    try:
        modem, sim = b.modems[0], b.modems.simulators["sim"]
        assert wait_until(lambda: modem.status.state == "pin-required", 10)
        new = copy.deepcopy(b.settings)
        new.modem.pin = "5555"  # Settings > Modem > SIM PIN, saved: entered once
        assert b.live.apply(new) == []
        assert wait_until(lambda: modem.status.pin_tries == 2)
        assert wait_until(lambda: modem.status.state == "pin-required")
        b.modems.enter_pin("1111")  # the Modem tab's Unlock once
        assert wait_until(lambda: modem.status.pin_tries == 1)
        time.sleep(0.5)  # a PIN entered by itself follows within milliseconds
        assert sim.pin_attempts == ["5555", "1111"]
        assert modem.status.state == "pin-required" and sim.modem.sim.pin_tries_left == 1
    finally:
        b.stop()
