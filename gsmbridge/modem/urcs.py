"""What the supervisor does with a URC: status reports, received SMS, registration, signal,
reboots.

Runs on the modem's supervisor thread (see :mod:`.gsm`); a URC that means the modem
restarted or the SIM changed raises :class:`~.setup.Reconnect` / :class:`~.setup.ReconnectNow`.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from gsmbridge.modem import deliver, parsing, pdu
from gsmbridge.modem.at import AtChannel, Urc
from gsmbridge.modem.errors import ModemError
from gsmbridge.modem.masking import mask
from gsmbridge.modem.setup import Initialiser, Reconnect, ReconnectNow

if TYPE_CHECKING:
    from gsmbridge.modem.gsm import Modem

__all__ = ["UrcHandler"]

log = logging.getLogger("gsmbridge.modem")

# URCs that mean the modem restarted (Huawei's periodic ^BOOT is *not* one of them).
_REBOOT_HINTS = ("RDY", "+CFUN: 1", "SMS READY", "+CPIN: READY")
_CDSI = re.compile(r'\+CDSI:\s*"([A-Za-z]{2})"\s*,\s*(\d{1,5})')
_CMTI = re.compile(r'\+CMTI:\s*"([A-Za-z]{2})"\s*,\s*(\d{1,5})')
_CPMS_MEMORIES = re.compile(r'"([A-Za-z]{2})"')


class UrcHandler:
    """Handles the URCs of one channel on behalf of its Modem."""

    def __init__(self, modem: Modem, channel: AtChannel) -> None:
        self.modem = modem
        self.channel = channel

    def handle(self, urc: Urc) -> None:
        modem = self.modem
        line = urc.line.upper()
        if urc.name == "+CDS":
            self._status_report(urc)
        elif urc.name == "+CDSI":
            self._stored_report(urc.line)
        elif urc.name == "+CMTI":
            self._incoming(urc.line)
        elif urc.name == "+CREG":
            stat = parsing.parse_registration([urc.line], urc=True)
            if stat is not None:
                Initialiser(modem, self.channel).apply_registration(stat, from_urc=True)
        elif urc.name == "^RSSI":
            value = urc.line.split(":", 1)[1].strip()
            if value.isdigit():
                rssi = int(value) if int(value) <= 31 else None
                modem.set_status(
                    signal_dbm=parsing.rssi_to_dbm(rssi), signal_bars=parsing.signal_bars(rssi)
                )
        elif line in _REBOOT_HINTS or line.startswith("+QIND: SMS DONE"):
            if line == "+CPIN: READY" and time.monotonic() < modem.cpin_ready_grace_until:
                return  # expected after we entered the PIN
            settled = time.monotonic() - modem.init_started > 10.0  # boot URCs trail our init
            if modem.status.state == "ready" or (modem.initialised and settled):
                raise ReconnectNow(f"modem restarted (saw {urc.line})")
        elif line.startswith("+CPIN:") and modem.status.state == "ready":
            raise Reconnect(f"SIM state changed ({urc.line})")

    def _stored_report(self, line: str) -> None:
        """``+CDSI: "SR",3``: read the stored report, hand it on, delete it.

        The memory name and index come from the modem and go back into commands:
        only the expected shapes pass (nothing else reaches the modem).
        """
        match = _CDSI.fullmatch(line.strip())
        if match is None:
            log.warning("Unexpected stored-report announcement: %r", line)
            return
        memory, index = match.group(1).upper(), int(match.group(2))
        timeout = self.modem.options.command_timeout_s
        try:
            self.channel.command(f'AT+CPMS="{memory}"', timeout=timeout)
        except ModemError as exc:
            log.warning("Stored status report %s/%d not read: %s", memory, index, exc.name)
            return
        try:
            lines = self.channel.command(f"AT+CMGR={index}", timeout=timeout)
        except ModemError as exc:
            log.warning("Stored status report %s/%d not read: %s", memory, index, exc.name)
            lines = []
        else:
            header = next((i for i, text in enumerate(lines) if text.startswith("+CMGR:")), None)
            if header is None or header + 1 >= len(lines):
                log.warning("AT+CMGR=%d answered without a PDU: %r", index, lines)
            else:
                length = lines[header].rsplit(",", 1)[-1].strip()
                self._decode_and_deliver(lines[header + 1].strip(), length)
        # Deleted even when unread or undecodable: a full memory would stop the reports.
        self._delete(memory, index)

    def sweep_stored_reports(self) -> None:
        """Read and delete the reports left in the "SR" memory (stored while gsmbridge
        was not running, or announced on a connection that was lost).

        Only entries that decode as status reports are deleted.
        """
        timeout = self.modem.options.command_timeout_s
        try:
            self.channel.command('AT+CPMS="SR"', timeout=timeout)
            lines = self.channel.command("AT+CMGL=4", timeout=timeout)
        except ModemError as exc:
            log.info("Stored status reports not swept: %s", exc.name)
            return
        for n, line in enumerate(lines):
            if not line.startswith("+CMGL:") or n + 1 >= len(lines):
                continue
            fields = line.split(":", 1)[1].split(",")
            index, length = fields[0].strip(), fields[-1].strip()
            if not index.isdigit() or lines[n + 1].startswith("+CMGL:"):
                continue
            if self._decode_and_deliver(lines[n + 1].strip(), length):
                self._delete("SR", int(index))

    def _delete(self, memory: str, index: int, what: str = "Stored status report") -> None:
        try:
            self.channel.command(f"AT+CMGD={index}", timeout=self.modem.options.command_timeout_s)
        except ModemError as exc:
            log.warning("%s %s/%d not deleted: %s", what, memory, index, exc.name)

    # -- received SMS -------------------------------------------------------------------

    def _incoming(self, line: str) -> None:
        """``+CMTI: "SM",5``: read the SMS, hand it on (stored durably), delete it.

        As with ``+CDSI``, only a 2-letter memory name and an integer go back to the
        modem.  An SMS that could not be stored stays in the modem for the next sweep.
        """
        match = _CMTI.fullmatch(line.strip())
        if match is None:
            log.warning("Unexpected received-SMS announcement: %r", line)
            return
        memory, index = match.group(1).upper(), int(match.group(2))
        timeout = self.modem.options.command_timeout_s
        try:
            self.channel.command(f'AT+CPMS="{memory}"', timeout=timeout)
            lines = self.channel.command(f"AT+CMGR={index}", timeout=timeout)
        except ModemError as exc:
            if (exc.kind, exc.code) == ("cms", 321):  # invalid index: a sweep took it first
                log.debug("Received SMS %s/%d already taken", memory, index)
            else:
                log.warning("Received SMS %s/%d not read: %s", memory, index, exc.name)
            return
        header = next((i for i, text in enumerate(lines) if text.startswith("+CMGR:")), None)
        if header is None or header + 1 >= len(lines):
            log.warning("AT+CMGR=%d answered without a PDU: %r", index, lines)
            return
        length = lines[header].rsplit(",", 1)[-1].strip()
        if self._take_incoming(lines[header + 1].strip(), length, memory, index):
            self._delete(memory, index, "Received SMS")

    def sweep_incoming(self) -> None:
        """Read, store and delete the SMS waiting in the memory new SMS go to (received
        while gsmbridge was not running, or announced on a lost connection), so the
        SIM never fills up.  Only received SMS (stat 0/1) are touched."""
        timeout = self.modem.options.command_timeout_s
        try:
            answer = self.channel.command("AT+CPMS?", timeout=timeout)
        except ModemError as exc:
            log.info("Received SMS not swept: %s", exc.name)
            return
        names = next((_CPMS_MEMORIES.findall(t) for t in answer if t.startswith("+CPMS:")), [])
        # The third memory is where new SMS are stored (mem3); older modems name fewer.
        memory = (names[2] if len(names) >= 3 else "SM").upper()
        if memory == "SR":
            memory = "SM"
        try:
            self.channel.command(f'AT+CPMS="{memory}"', timeout=timeout)
            lines = self.channel.command("AT+CMGL=4", timeout=timeout * 3)
        except ModemError as exc:
            log.info("Received SMS not swept: %s", exc.name)
            return
        for n, line in enumerate(lines):
            if not line.startswith("+CMGL:") or n + 1 >= len(lines):
                continue
            fields = [f.strip() for f in line.split(":", 1)[1].split(",")]
            if len(fields) < 2 or not fields[0].isdigit() or fields[1] not in ("0", "1"):
                continue  # stored outgoing drafts (stat 2/3) are not ours to touch
            if lines[n + 1].startswith("+CMGL:"):
                continue
            if self._take_incoming(lines[n + 1].strip(), fields[-1], memory, int(fields[0])):
                self._delete(memory, int(fields[0]), "Received SMS")

    def _take_incoming(self, hex_pdu: str, length_text: str, memory: str, index: int) -> bool:
        """Decode and hand on; True when the entry may be deleted from the modem."""
        try:
            sms = deliver.decode_deliver(hex_pdu, tpdu_length=int(length_text))
        except (ValueError, pdu.PduError) as exc:
            # Kept in the log, so deleting it loses nothing; kept in the SIM, it
            # would take a slot for ever.
            log.warning("Undecodable SMS in %s/%d (%s), deleted: %s", memory, index, exc, hex_pdu)
            return True
        log.info(
            "SMS received from %s (%d characters%s)",
            mask(sms.sender),
            len(sms.text),
            f", part {sms.concat[2]} of {sms.concat[1]}" if sms.concat else "",
        )
        return self.modem.deliver_incoming(sms)

    def _status_report(self, urc: Urc) -> None:
        modem = self.modem
        if urc.pdu is None:
            log.warning("+CDS without a PDU line: %s", urc.line)
            return
        try:
            self._decode_and_deliver(urc.pdu, urc.line.split(":", 1)[1])
        finally:
            if modem.cnma_required:
                try:
                    self.channel.command("AT+CNMA", timeout=modem.options.command_timeout_s)
                except ModemError as exc:
                    log.info("AT+CNMA failed: %s", exc.name)

    def _decode_and_deliver(self, hex_pdu: str, length_text: str) -> bool:
        try:
            report = pdu.decode_status_report(hex_pdu, tpdu_length=int(length_text))
        except (ValueError, pdu.PduError) as exc:
            log.warning("Undecodable status report %r: %s", hex_pdu, exc)
            return False
        log.info(
            "Status report for TP-MR %d to %s: %s",
            report.message_reference,
            mask(report.recipient),
            report.status_text,
        )
        self.modem.deliver_status_report(report)
        return True
