"""The simulator's status reports: routing (AT+CSMS, AT+CNMI, AT+CNMA), inline or stored.

With AT+CNMI ds=1 a report arrives inline as ``+CDS: <length>`` and its PDU.  A modem
that stores reports (ds=2) keeps each in its "SR" memory and announces it with
``+CDSI: "SR",<index>``; the host selects that memory (AT+CPMS), reads the report
(AT+CMGR, PDU mode) and deletes it (AT+CMGD), or the memory fills up (the memories
are in memory.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gsmbridge.modem import pdu

if TYPE_CHECKING:
    from gsmbridge.simulator.modem import SimulatedModem


def report(modem: SimulatedModem, mr: int, number: str) -> None:
    """The network's report on a sent message: inline, or stored and announced.

    A modem that is down gets it later (``held_reports``); with ds=0 (after a reset,
    before the host set AT+CNMI) it is stored unannounced, as real modems do.
    """
    if modem.down:
        modem.held_reports.append(lambda: report(modem, mr, number))
        return
    modem._reports += 1
    every = modem.options.report_fail_every
    status = 0x41 if every and modem._reports % every == 0 else 0x00
    hex_pdu, length = pdu.encode_status_report(mr, number, status, when=datetime.now(UTC))
    if modem.settings.cnmi[3] in (0, 2):
        index = modem.memories["SR"].store(hex_pdu, length)
        if index is not None and modem.settings.cnmi[3] == 2:
            modem._lines(f'+CDSI: "SR",{index}')
        return
    modem._write(f"\r\n+CDS: {length}\r\n{hex_pdu}\r\n".encode())


def _csms(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    if suffix == "?":
        return (f"+CSMS: {modem.settings.csms},1,1,1", "OK")
    if arg is not None and arg.strip() in ("0", "1"):
        modem.settings.csms = int(arg)
        return ("+CSMS: 1,1,1", "OK")
    return (modem._error("cms", 303),)


def _cnmi(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    if suffix == "?":
        return ("+CNMI: " + ",".join(map(str, modem.settings.cnmi)), "OK")
    if suffix == "=?":
        return ("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)", "OK")
    try:
        values = [int(v) for v in (arg or "").split(",")]
    except ValueError:
        return (modem._error("cms", 303),)
    limits = (2, 3, 2, 2, 1)
    if (
        not values
        or len(values) > 5
        or any(not 0 <= v <= lim for v, lim in zip(values, limits, strict=False))
        or (modem.options.reports_stored_only and values[3:4] == [1])
        or (modem.options.reports_inline_only and values[3:4] == [2])
    ):
        return (modem._error("cms", 303),)
    modem.settings.cnmi = tuple(values + [0] * (5 - len(values)))
    return ("OK",)


def _cnma(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    return ("OK",) if modem.settings.csms == 1 else (modem._error("cms", 340),)


HANDLERS = {
    "+CSMS": _csms,
    "+CNMI": _cnmi,
    "+CNMA": _cnma,
}
