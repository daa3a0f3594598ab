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

__all__ = ["PIN_TRIES_FULL", "ConnectionState", "PinMemory", "ReceivedMode", "ReportsMode"]


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


# A SIM's PIN counter when full (TS 31.101: PIN1 allows 3 wrong tries before its PUK).
PIN_TRIES_FULL = 3


@dataclass
class PinMemory:
    """The SIM PIN across connections: a PIN the SIM rejected is never entered again
    automatically (3 wrong PINs lock the SIM); a PIN typed by a person is entered once.

    Every rejected PIN is kept, not only the last one: after the configured PIN and
    then a typed one were refused, the configured one must not come back.  The memory
    belongs to one SIM in one state of its counter.  It is forgotten (``renew``) when the
    SIM's ICCID changes (another SIM) or when its tries left rise above what the SIM said
    after our last rejection: a right PIN or the PUK was entered elsewhere, the counter
    is full again, and the configured PIN may be right now (it costs one try at most).
    A PIN the SIM accepted from us fills the counter too, but it is no news about the
    PINs it refused: those stay refused.
    """

    rejected: set[str] = field(default_factory=set)
    error: str = ""  # why the SIM is still locked, shown while waiting for a PIN
    entered: str | None = None  # typed by the user, not tried yet
    iccid: str = ""  # the SIM the rejections belong to ("" while unknown)
    tries_after: int | None = None  # tries left the SIM said after our last try
    announced: str = ""  # the wait last logged, and for which configured PIN (logged once)

    def reject(self, pin: str, *, iccid: str, tries: int | None, error: str) -> None:
        self.rejected.add(pin)
        self.iccid = iccid or self.iccid
        self.tries_after = tries
        self.error = error

    def accept(self, pin: str, *, iccid: str) -> None:
        self.rejected.discard(pin)
        self.iccid = iccid or self.iccid
        self.tries_after = PIN_TRIES_FULL  # a right PIN resets the counter
        self.error = ""

    def renew(self, *, iccid: str, tries: int | None) -> str:
        """Forget the rejected PINs if the SIM is another one or its counter rose; why
        (for the log), or "" when the memory still holds."""
        if not self.rejected and not self.error:
            self.iccid = iccid or self.iccid
            return ""
        if iccid and self.iccid and iccid != self.iccid:
            why = "another SIM is in the modem (its ICCID changed)"
        elif tries is not None and tries > _floor(self.tries_after):
            why = f"the SIM has {tries} PIN tries left again (unlocked elsewhere)"
        else:
            self.iccid = self.iccid or iccid
            return ""
        self.rejected.clear()
        self.error = ""
        self.iccid = iccid
        self.tries_after = None
        return why


def _floor(tries_after: int | None) -> int:
    """The most tries the SIM can say after our rejection without anyone else's help; if
    it did not say then, a wrong PIN left at most one less than a full counter."""
    return tries_after if tries_after is not None else PIN_TRIES_FULL - 1
