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

from gsmbridge.modem import parsing, pdu
from gsmbridge.modem.at import AtChannel, Urc
from gsmbridge.modem.errors import ModemError
from gsmbridge.modem.masking import mask
from gsmbridge.modem.pdu_fields import MTI_DELIVER, MTI_SUBMIT
from gsmbridge.modem.received import ReceivedSms, listing, message_type
from gsmbridge.modem.setup import Initialiser, Reconnect, ReconnectNow

if TYPE_CHECKING:
    from gsmbridge.modem.gsm import Modem

__all__ = ["UrcHandler"]

log = logging.getLogger("gsmbridge.modem")


# URCs that mean the modem restarted (Huawei's periodic ^BOOT is *not* one of them).
_REBOOT_HINTS = ("RDY", "+CFUN: 1", "SMS READY", "+CPIN: READY")
_CDSI = re.compile(r'\+CDSI:\s*"([A-Za-z]{2})"\s*,\s*(\d{1,5})')


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
            self.received().announced(urc.line)
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
                hex_pdu = lines[header + 1].strip()
                if message_type(hex_pdu, length) in (MTI_DELIVER, MTI_SUBMIT):
                    # A memory shared with SMS, whose slot was reused: not a report.
                    if self.received().take(hex_pdu, length, memory, index):
                        self._delete(memory, index, "Received SMS")
                    return
                self._decode_and_deliver(hex_pdu, length)
        # Deleted even when unread or undecodable: a full memory would stop the reports.
        self._delete(memory, index)

    def sweep_at_connect(self) -> None:
        """What waits in the modem's memories: stored reports, received SMS."""
        if self.modem.status.extra.get("status_reports") == "stored":
            self.sweep_stored_reports()
        self.received().sweep()

    def sweep_at_poll(self) -> None:
        """A modem that does not announce new SMS (+CMTI) is swept at every poll."""
        if self.modem.status.extra.get("received_sms") == "polled":
            self.received().sweep()

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
        for index, _stat, length, hex_pdu in listing(lines):
            if self._decode_and_deliver(hex_pdu, length):
                self._delete("SR", index)

    def _delete(self, memory: str, index: int, what: str = "Stored status report") -> None:
        try:
            self.channel.command(f"AT+CMGD={index}", timeout=self.modem.options.command_timeout_s)
        except ModemError as exc:
            log.warning("%s %s/%d not deleted: %s", what, memory, index, exc.name)

    def received(self) -> ReceivedSms:
        return ReceivedSms(
            self.modem,
            self.channel,
            lambda hex_pdu, length: self._decode_and_deliver(hex_pdu, length),
            self._delete,
        )

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
