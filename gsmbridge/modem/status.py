"""What a modem's health looks like to the rest of the program."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class ModemState(StrEnum):
    """Where a modem is: only ``READY`` sends; the others say why not."""

    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    PIN_REQUIRED = "pin-required"
    PUK_REQUIRED = "puk-required"
    SEARCHING = "searching"  # not registered on the network yet
    DENIED = "denied"  # registration denied
    READY = "ready"
    ERROR = "error"


@dataclass(frozen=True)
class UssdAnswer:
    """The network's answer to a USSD code (``*100#``: the prepaid balance)."""

    code: str
    text: str  # decoded
    status: int  # +CUSD <m>: 0 done, 1 the network asks for a reply (not given), 2 ended
    dcs: int | None
    at: float  # time.time() when it arrived


@dataclass(frozen=True)
class ModemStatus:
    """A snapshot of one modem; a new one is published on every change.

    ``state``: a ``ModemState``; ``extra`` is for display only (nothing decides on it).
    """

    port: str
    state: ModemState = ModemState.DISCONNECTED
    simulated: bool = False
    sim: str = ""  # READY, SIM PIN, SIM PUK, NOT INSERTED, ...
    registration: str = ""  # home, roaming, searching, denied, unknown, not-registered
    operator: str = ""
    signal_dbm: int | None = None
    signal_bars: int = 0  # 0..5
    manufacturer: str = ""
    model: str = ""
    revision: str = ""
    imei: str = ""
    imsi: str = ""
    iccid: str = ""
    smsc: str = ""
    last_error: str = ""
    pin_tries: int | None = None  # while the SIM waits for its PIN: tries left, if known
    extra: dict[str, str] = field(default_factory=dict)
    ussd: UssdAnswer | None = None  # the last USSD answer (kept across reconnects)

    @property
    def ready(self) -> bool:
        return self.state == ModemState.READY


class StatusListener(Protocol):
    """Who hears a modem's status changes (core's ``Listener`` is one); called on the
    modem's threads."""

    def modem_status_changed(self, status: ModemStatus) -> None: ...


def pin_tries_text(tries: int | None) -> str:
    """What a person must know before typing a PIN: how many tries are left."""
    if tries is None:
        return "3 wrong PINs in a row lock the SIM"
    if tries == 0:
        return "no tries left: the SIM now needs its PUK"
    if tries == 1:
        return "1 try left before the SIM locks"
    return f"{tries} tries left before the SIM locks"
