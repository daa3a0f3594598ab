"""The simulator's message memories: stored SMS and status reports, and the commands
that reach them (AT+CPMS, AT+CMGR, AT+CMGL, AT+CMGD, all in PDU mode).

A received SMS is kept in "SM" and announced with ``+CMTI: "SM",<index>`` (AT+CNMI
mt=1); a status report on a modem that stores them (ds=2) is kept in "SR" and
announced with ``+CDSI``.  The host selects a memory (AT+CPMS), reads (AT+CMGR) and
deletes (AT+CMGD), or the memory fills up and the network keeps new messages away.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING

from gsmbridge.modem.deliver import encode_deliver

if TYPE_CHECKING:
    from gsmbridge.simulator.modem import SimulatedModem

log = logging.getLogger("gsmbridge.simulator")

MEMORIES = ("SM", "ME", "MT", "SR")
CAPACITY = 20
# <stat> in PDU mode: 0 received unread, 1 received read, 4 all
_UNREAD, _READ = 0, 1


class MessageMemory:
    """Stored PDUs by index (1..CAPACITY); thread-safe."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._slots: dict[int, tuple[str, int, int]] = {}  # index -> (pdu, length, stat)

    def store(self, hex_pdu: str, length: int) -> int | None:
        """Keep a PDU (unread); return its index, or None when the memory is full."""
        with self._lock:
            free = next((i for i in range(1, self.capacity + 1) if i not in self._slots), None)
            if free is not None:
                self._slots[free] = (hex_pdu, length, _UNREAD)
            return free

    def read(self, index: int) -> tuple[str, int, int] | None:
        """(pdu, length, stat before this read); marks the entry read."""
        with self._lock:
            found = self._slots.get(index)
            if found is not None:
                self._slots[index] = (found[0], found[1], _READ)
            return found

    def delete(self, index: int) -> None:
        with self._lock:
            self._slots.pop(index, None)

    def listing(self, stat: int) -> list[tuple[int, tuple[str, int, int]]]:
        """Entries with that stat (4: all), oldest index first; marks them read."""
        with self._lock:
            listed = [(i, e) for i, e in sorted(self._slots.items()) if stat in (4, e[2])]
            for index, (hex_pdu, length, _) in listed:
                self._slots[index] = (hex_pdu, length, _READ)
            return listed

    @property
    def used(self) -> int:
        with self._lock:
            return len(self._slots)


def receive(modem: SimulatedModem, sender: str, text: str, concat_ref: int = 0) -> list[int]:
    """An SMS from ``sender`` arrives: store its parts (in ``sms_memory``), announce each
    (mt=1).

    Returns the indexes used; parts that find the memory full are lost, as the
    network would keep them away until there is room.
    """
    indexes = []
    where = modem.options.sms_memory
    for hex_pdu, length in encode_deliver(sender, text, concat_ref=concat_ref):
        index = modem.memories[where].store(hex_pdu, length)
        if index is None:
            log.info("Simulated modem: SIM memory full, an incoming SMS part is refused")
            continue
        indexes.append(index)
        if modem.settings.cnmi[1] in (1, 2, 3):
            modem._lines(f'+CMTI: "{where}",{index}')
    return indexes


def _memory(modem: SimulatedModem) -> MessageMemory:
    return modem.memories["SM" if modem.mem1 == "MT" else modem.mem1]


def _cpms(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    if suffix == "=?":
        names = ",".join(f'"{m}"' for m in MEMORIES)
        return (f"+CPMS: ({names}),({names}),({names})", "OK")
    if suffix == "?":  # mem1 (read/delete), mem2 (write), mem3 (where new SMS go)
        memory = _memory(modem)
        sms = modem.memories[modem.options.sms_memory]
        stored = f'"{modem.options.sms_memory}",{sms.used},{sms.capacity}'
        return (f'+CPMS: "{modem.mem1}",{memory.used},{memory.capacity},{stored},{stored}', "OK")
    chosen = re.findall(r'"([A-Z]{2})"', (arg or "").upper())
    if not chosen or any(m not in MEMORIES for m in chosen):
        return (modem._error("cms", 302),)
    modem.mem1 = chosen[0]
    memory = _memory(modem)
    counts = f"{memory.used},{memory.capacity}"
    return (f"+CPMS: {counts},{counts},{counts}", "OK")


def _index(arg: str | None) -> int | None:
    return int(arg) if arg is not None and arg.strip().isdigit() else None


def _cmgr(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    index = _index(arg)
    if index is None or modem.settings.cmgf != 0:
        return (modem._error("cms", 302),)
    found = _memory(modem).read(index)
    if found is None:
        return (modem._error("cms", 321),)  # invalid memory index
    hex_pdu, length, stat = found
    return (f"+CMGR: {stat},,{length}", hex_pdu, "OK")


def _cmgd(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    index = _index((arg or "").split(",")[0])
    if index is None:
        return (modem._error("cms", 302),)
    _memory(modem).delete(index)
    return ("OK",)


def _cmgl(modem: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
    if arg is None or arg.strip() not in ("0", "1", "4") or modem.settings.cmgf != 0:
        return (modem._error("cms", 302),)
    lines: list[str] = []
    for index, (hex_pdu, length, stat) in _memory(modem).listing(int(arg)):
        lines += [f"+CMGL: {index},{stat},,{length}", hex_pdu]
    return (*lines, "OK")


HANDLERS = {"+CPMS": _cpms, "+CMGR": _cmgr, "+CMGD": _cmgd, "+CMGL": _cmgl}
