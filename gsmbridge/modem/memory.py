"""The modem's message memories: the one place that speaks AT+CPMS, AT+CMGR, AT+CMGL
and AT+CMGD (PDU mode), and parses their answers.

Received SMS (:mod:`.received`) and stored status reports (:mod:`.urcs`) both live in
these memories; what an entry *is* is decided by its caller, from its PDU.  Memory
names and indexes come from the modem and go back into commands: only a 2-letter
name and an integer ever do.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from gsmbridge.modem.at import AtChannel
from gsmbridge.modem.errors import ConnectionLost, ModemError

__all__ = ["SmsMemory", "StoredEntry", "listing", "parse_cmgr"]

log = logging.getLogger("gsmbridge.modem")

_MEMORY = re.compile(r"[A-Z]{2}")
_CPMS_MEMORIES = re.compile(r'"([A-Za-z]{2})"')
_CPMS_USED = re.compile(r"\+CPMS:\s*(\d{1,5})\s*,")
# "+CMGL: <index>,<stat>,[<alpha>],<length>" in PDU mode; only well-formed lines count.
_CMGL = re.compile(r"\+CMGL:\s*(\d{1,5})\s*,\s*(\d)\s*,[^,]*,\s*(\d{1,3})")
LIST_S_PER_ENTRY = 0.25  # a slow modem lists a full SIM in seconds


@dataclass(frozen=True)
class StoredEntry:
    """One entry of a memory: its PDU (hex, with SCA) and the TPDU length the modem gave."""

    memory: str
    index: int
    length: str
    pdu: str
    stat: int | None = None  # 0 received unread, 1 read, 2/3 stored outgoing (AT+CMGL only)


def listing(lines: list[str]) -> list[tuple[int, int, str, str]]:
    """(index, stat, length, pdu) of each well-formed entry in an AT+CMGL answer."""
    out = []
    for n, line in enumerate(lines[:-1]):
        match = _CMGL.fullmatch(line.strip())
        if match and not lines[n + 1].startswith("+CMGL:"):
            index, stat, length = match.groups()
            out.append((int(index), int(stat), length, lines[n + 1].strip()))
    return out


def parse_cmgr(lines: list[str], memory: str, index: int) -> StoredEntry | None:
    """``+CMGR: <stat>,[<alpha>],<length>`` then the PDU line; None without a PDU."""
    header = next((i for i, text in enumerate(lines) if text.startswith("+CMGR:")), None)
    if header is None or header + 1 >= len(lines):
        return None
    length = lines[header].rsplit(",", 1)[-1].strip()
    return StoredEntry(memory, index, length, lines[header + 1].strip())


class SmsMemory:
    """Message-memory commands over one channel (the supervisor thread's)."""

    def __init__(self, channel: AtChannel, timeout: float) -> None:
        self.channel = channel
        self.timeout = timeout

    @staticmethod
    def valid_name(memory: str) -> bool:
        return bool(_MEMORY.fullmatch(memory))

    def select(self, memory: str) -> int | None:
        """``AT+CPMS="<memory>"``: the entries it holds (None when the modem does not say)."""
        if not self.valid_name(memory):
            raise ValueError(f"not a memory name: {memory!r}")
        answer = self.channel.command(f'AT+CPMS="{memory}"', timeout=self.timeout)
        used = next((m for t in answer if (m := _CPMS_USED.match(t))), None)
        return int(used.group(1)) if used else None

    def names(self) -> list[str]:
        """``AT+CPMS?``: the memories for reading, writing and new SMS (mem1..mem3)."""
        answer = self.channel.command("AT+CPMS?", timeout=self.timeout)
        return next((_CPMS_MEMORIES.findall(t) for t in answer if t.startswith("+CPMS:")), [])

    def read(self, memory: str, index: int) -> StoredEntry | None:
        """Select ``memory`` and read entry ``index``; None when the answer has no PDU
        (logged).  ModemError (CMS 321: the index is empty) goes to the caller."""
        self.select(memory)
        lines = self.channel.command(f"AT+CMGR={int(index)}", timeout=self.timeout)
        entry = parse_cmgr(lines, memory, index)
        if entry is None:
            log.warning("AT+CMGR=%d answered without a PDU: %r", index, lines)
        return entry

    def list_all(self, memory: str, expected: int) -> list[StoredEntry]:
        """Every entry of the selected ``memory`` (``AT+CMGL=4``); ``expected`` entries
        give the modem time to list them."""
        lines = self.channel.command(
            "AT+CMGL=4", timeout=self.timeout + expected * LIST_S_PER_ENTRY
        )
        return [
            StoredEntry(memory, index, length, hex_pdu, stat)
            for index, stat, length, hex_pdu in listing(lines)
        ]

    def delete(self, memory: str, index: int, what: str) -> None:
        """``AT+CMGD``: a failure is logged (the next sweep tries again), never raised."""
        try:
            self.channel.command(f"AT+CMGD={int(index)}", timeout=self.timeout)
        except ConnectionLost:
            log.debug("%s %s/%d not deleted: port lost (swept again later)", what, memory, index)
        except ModemError as exc:
            log.warning("%s %s/%d not deleted: %s", what, memory, index, exc.name)
