"""SMS the modem received (replies): read from its memory, handed on, then deleted.

A new SMS is announced with ``+CMTI: "SM",5`` (AT+CNMI mt=1); those that arrived
while gsmbridge was away, or on a modem that does not announce them, are found by
a sweep (AT+CMGL).  An entry is deleted only once it is stored (the modem's
``on_incoming`` callback returned), so a failure leaves it for the next sweep.

Some modems keep delivery reports in the same memory as SMS: every entry is
dispatched on its message type, so a report is never taken for an SMS (and
deleted unread) nor an SMS for a report.  Entries that are neither (stored
outgoing drafts) are left alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from gsmbridge.modem import deliver, pdu
from gsmbridge.modem.errors import ModemError
from gsmbridge.modem.masking import mask
from gsmbridge.modem.memory import SmsMemory, StoredEntry
from gsmbridge.modem.pdu_fields import MTI_STATUS_REPORT, MTI_SUBMIT, tpdu_reader

if TYPE_CHECKING:
    from gsmbridge.modem.gsm import Modem

log = logging.getLogger("gsmbridge.modem")

CMTI = re.compile(r'\+CMTI:\s*"([A-Za-z]{2})"\s*,\s*(\d{1,5})')


def message_type(hex_pdu: str, length_text: str) -> int | None:
    """TP-MTI of a stored PDU (0 SMS-DELIVER, 1 SMS-SUBMIT, 2 status report); None if unreadable."""
    try:
        return tpdu_reader(hex_pdu, int(length_text)).byte("first octet") & 0x03
    except (ValueError, pdu.PduError):
        return None


class ReceivedSms:
    """Reads, hands on and deletes received SMS through one channel's memories."""

    def __init__(
        self,
        modem: Modem,
        memory: SmsMemory,
        deliver_report: Callable[[str, str], object],
    ) -> None:
        self.modem = modem
        self.memory = memory
        self._deliver_report = deliver_report  # (pdu, length): decode and hand on

    @property
    def listening(self) -> bool:
        """Nobody stores them (``gsmbridge send``): leave them in the SIM."""
        return self.modem.takes_incoming

    def announced(self, line: str) -> None:
        """``+CMTI: "SM",5``: only a 2-letter memory name and an integer go back to the modem."""
        match = CMTI.fullmatch(line.strip())
        if match is None:
            log.warning("Unexpected received-SMS announcement: %r", line)
            return
        if not self.listening:
            return
        memory, index = match.group(1).upper(), int(match.group(2))
        try:
            entry = self.memory.read(memory, index)
        except ModemError as exc:
            if (exc.kind, exc.code) == ("cms", 321):  # invalid index: a sweep took it first
                log.debug("Received SMS %s/%d already taken", memory, index)
            else:
                log.warning("Received SMS %s/%d not read: %s", memory, index, exc.name)
            return
        if entry is not None and self.take(entry):
            self.memory.delete(memory, index, "Received SMS")

    def sweep(self) -> None:
        """Read, store and delete what waits in the memory new SMS go to, so the SIM
        never fills up.  Only received entries (stat 0/1) are touched."""
        if not self.listening:
            return
        try:
            names = self.memory.names()
        except ModemError as exc:
            log.info("Received SMS not swept: %s", exc.name)
            return
        # The third memory is where new SMS are stored (mem3; older modems name fewer).
        # SIM-class SMS land in "SM" whatever mem3 says, so it is always looked at.
        mem3 = (names[2] if len(names) >= 3 else "SM").upper()
        memories = ["SM"] if mem3 in ("SM", "SR") else [mem3] if mem3 == "MT" else [mem3, "SM"]
        for memory in memories:
            self._sweep_memory(memory)

    def _sweep_memory(self, memory: str) -> None:
        try:
            used = self.memory.select(memory)
            entries = used if used is not None else 50
            if entries == 0:
                return
            listed = self.memory.list_all(memory, entries)
        except ModemError as exc:
            log.info("Received SMS in %s not swept: %s", memory, exc.name)
            return
        for entry in listed:
            if entry.stat in (0, 1) and self.take(entry):
                self.memory.delete(memory, entry.index, "Received SMS")

    def take(self, entry: StoredEntry) -> bool:
        """Hand on one stored entry; True when it may be deleted from the modem."""
        hex_pdu, length_text = entry.pdu, entry.length
        kind = message_type(hex_pdu, length_text)
        if kind == MTI_STATUS_REPORT:  # a modem that keeps reports with the SMS
            # Deleted even when undecodable (then logged), as on +CDSI: not a person's words.
            self._deliver_report(hex_pdu, length_text)
            return True
        if kind == MTI_SUBMIT:
            return False  # a stored outgoing message: not ours
        try:
            sms = deliver.decode_deliver(hex_pdu, tpdu_length=int(length_text))
        except (ValueError, pdu.PduError) as exc:
            # Stored as what it is, so nothing is lost and the slot is freed.
            log.warning("Undecodable SMS in %s/%d: %s", entry.memory, entry.index, exc)
            sms = deliver.Deliver(
                sender="(unreadable)",
                text=f"[an SMS gsmbridge could not decode ({exc}); PDU {hex_pdu}]",
                sent_at=None,
                concat=None,
            )
        else:
            log.info(
                "SMS received from %s (%d characters%s)",
                mask(sms.sender),
                len(sms.text),
                f", part {sms.concat[2]} of {sms.concat[1]}" if sms.concat else "",
            )
        return self.modem.deliver_incoming(sms)
