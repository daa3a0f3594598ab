"""What the driver knows of one connection, and what it keeps across connections.

:class:`ConnectionState` holds the facts of one initialisation on an open port: how
reports and received SMS reach us, which optional commands work, the model's quirks,
timing.  The initialiser makes a new one at every (re)initialisation (a restarted
firmware forgot its settings, so the facts are found again) and the supervisor drops
it with the connection.  :class:`PinMemory` is the opposite: a rejected PIN must
never be tried again on the next connection, so it lives with the Modem.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field

from gsmbridge.modem.quirks import DEFAULT, Quirks

__all__ = ["ConnectionState", "PinMemory", "ReceivedMode", "ReportsMode"]


class ReportsMode(enum.StrEnum):
    """How delivery reports reach us (AT+CNMI ds)."""

    STORED = "stored"  # ds=2: kept in the "SR" memory, announced by +CDSI
    INLINE = "inline"  # ds=1: +CDS with the PDU
    UNSUPPORTED = "unsupported"  # the modem rejects both
    OFF = "off"  # not asked for (sending.status_reports off)


class ReceivedMode(enum.StrEnum):
    """How received SMS are found (AT+CNMI mt)."""

    ANNOUNCED = "announced"  # +CMTI
    POLLED = "polled"  # swept at every status poll


@dataclass
class ConnectionState:
    """One initialisation's facts; see the module docstring.  Supervisor thread only,
    except ``cmms_on``/``send_timeouts``, which the sending thread updates under the
    channel's lock."""

    init_started: float = field(default_factory=time.monotonic)
    initialised: bool = False  # the init sequence is done
    quirks: Quirks = DEFAULT
    reports: ReportsMode | None = None  # None until AT+CNMI is chosen
    received: ReceivedMode | None = None
    cnma_required: bool = False  # AT+CSMS service 1: +CDS must be acknowledged (+CNMA)
    cmms_supported: bool = True  # AT+CMMS=2 (link kept up between parts) works
    cmms_on: bool = False
    cpin_ready_grace_until: float = 0.0  # "+CPIN: READY" after our PIN is no restart
    send_timeouts: int = 0  # consecutive sends without a +CMGS answer
    reports_unswept: bool = False  # an announced report could not be read: sweep at the poll

    @property
    def reports_possible(self) -> bool:
        """Worth asking for a report in the PDU (not when the modem cannot route it)."""
        return self.reports is not ReportsMode.UNSUPPORTED


@dataclass
class PinMemory:
    """The SIM PIN across connections: a rejected PIN is never tried again
    automatically (3 wrong PINs lock the SIM); a PIN typed by the user is tried once."""

    rejected: str | None = None
    error: str = ""  # why the SIM is still locked, shown while waiting for a PIN
    entered: str | None = None  # typed by the user, not tried yet
