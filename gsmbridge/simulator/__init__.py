"""A simulated GSM modem speaking AT over a socket or a pseudo-terminal.

For trying gsmbridge without hardware (``port = "sim"``, ``gsmbridge
simulate-modem``) and for the tests.  It sits outside ``gsmbridge.modem``: the
driver reaches it only through the URL it serves (``socket://...`` or a pty path)
and never imports it.
"""

from __future__ import annotations

from gsmbridge.simulator.server import ModemSimulator, fast_options
from gsmbridge.simulator.state import SimulatedMessage, SimulatedPart, SimulatorOptions

__all__ = [
    "ModemSimulator",
    "SimulatedMessage",
    "SimulatedPart",
    "SimulatorOptions",
    "fast_options",
    "start_builtin",
]


def start_builtin(options: SimulatorOptions | None = None) -> ModemSimulator:
    """The built-in demo modem for ``port = "sim"``, served on a local socket.

    By default every 4th recipient "replies", to show the inbox.
    """
    simulator = ModemSimulator(options or SimulatorOptions(reply_every=4))
    simulator.serve_tcp()
    return simulator
