"""The simulator's status reports: routing (AT+CSMS, AT+CNMI, AT+CNMA), inline or stored.

With AT+CNMI ds=1 a report arrives inline as ``+CDS: <length>`` and its PDU.  A modem
that stores reports (ds=2) keeps each in its "SR" memory and announces it with
``+CDSI: "SR",<index>``; the host selects that memory (AT+CPMS), reads the report
(AT+CMGR, PDU mode) and deletes it (AT+CMGD), or the memory fills up.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gsmbridge.modem import pdu

if TYPE_CHECKING:
    from gsmbridge.modem.sim_modem import SimulatedModem

MEMORIES = ("SM", "ME", "MT", "SR")
CAPACITY = 20


class ReportMemory:
    """Stored status reports by index (1..CAPACITY); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[int, tuple[str, int, bool]] = {}  # index -> (pdu, length, read)
        self.selected = "SM"  # AT+CPMS's first memory: where AT+CMGR/CMGD look

    def store(self, hex_pdu: str, length: int) -> int | None:
        """Keep a report; return its index, or None when the memory is full."""
        with self._lock:
            free = next((i for i in range(1, CAPACITY + 1) if i not in self._slots), None)
            if free is not None:
                self._slots[free] = (hex_pdu, length, False)
            return free

    def read(self, index: int) -> tuple[str, int, bool] | None:
        with self._lock:
            found = self._slots.get(index)
            if found is not None:
                self._slots[index] = (found[0], found[1], True)
            return found

    def delete(self, index: int) -> None:
        with self._lock:
            self._slots.pop(index, None)

    def listing(self) -> list[tuple[int, tuple[str, int, bool]]]:
        with self._lock:
            listed = sorted(self._slots.items())
            for index, (hex_pdu, length, _) in listed:
                self._slots[index] = (hex_pdu, length, True)
            return listed

    @property
    def used(self) -> int:
        with self._lock:
            return len(self._slots)


def report(modem: SimulatedModem, mr: int, number: str) -> None:
    """The network's report on a sent message: inline, or stored and announced."""
    modem._reports += 1
    every = modem.options.report_fail_every
    status = 0x41 if every and modem._reports % every == 0 else 0x00
    hex_pdu, length = pdu.encode_status_report(mr, number, status, when=datetime.now(UTC))
    if modem.settings.cnmi[3] == 2:
        index = modem.report_memory.store(hex_pdu, length)
        if index is not None:
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
    ):
        return (modem._error("cms", 303),)
    modem.settings.cnmi = tuple(values + [0] * (5 - len(values)))
    return ("OK",)


def _cnma(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    return ("OK",) if modem.settings.csms == 1 else (modem._error("cms", 340),)


def _cpms(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    memory = modem.report_memory
    if suffix == "=?":
        names = ",".join(f'"{m}"' for m in MEMORIES)
        return (f"+CPMS: ({names}),({names}),({names})", "OK")
    if suffix == "?":
        return (f'+CPMS: "{memory.selected}",{_used(modem)},{CAPACITY}', "OK")
    chosen = re.findall(r'"([A-Z]{2})"', (arg or "").upper())
    if not chosen or any(m not in MEMORIES for m in chosen):
        return (modem._error("cms", 302),)
    memory.selected = chosen[0]
    counts = f"{_used(modem)},{CAPACITY}"
    return (f"+CPMS: {counts},{counts},{counts}", "OK")


def _used(modem: SimulatedModem) -> int:
    memory = modem.report_memory
    return memory.used if memory.selected == "SR" else 0


def _index(arg: str | None) -> int | None:
    return int(arg) if arg is not None and arg.strip().isdigit() else None


def _cmgr(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    index = _index(arg)
    memory = modem.report_memory
    if index is None or modem.settings.cmgf != 0:
        return (modem._error("cms", 302),)
    found = memory.read(index) if memory.selected == "SR" else None
    if found is None:
        return (modem._error("cms", 321),)  # invalid memory index
    hex_pdu, length, was_read = found
    return (f"+CMGR: {1 if was_read else 0},,{length}", hex_pdu, "OK")


def _cmgd(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    index = _index((arg or "").split(",")[0])
    if index is None:
        return (modem._error("cms", 302),)
    if modem.report_memory.selected == "SR":
        modem.report_memory.delete(index)
    return ("OK",)


def _cmgl(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    memory = modem.report_memory
    if arg is None or arg.strip() not in ("0", "1", "4") or modem.settings.cmgf != 0:
        return (modem._error("cms", 302),)
    lines: list[str] = []
    if memory.selected == "SR":
        for index, (hex_pdu, length, was_read) in memory.listing():
            lines += [f"+CMGL: {index},{1 if was_read else 0},,{length}", hex_pdu]
    return (*lines, "OK")


HANDLERS = {
    "+CSMS": _csms,
    "+CNMI": _cnmi,
    "+CNMA": _cnma,
    "+CPMS": _cpms,
    "+CMGR": _cmgr,
    "+CMGD": _cmgd,
    "+CMGL": _cmgl,
}
