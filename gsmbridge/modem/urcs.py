"""What the supervisor does with a URC: status reports, registration, signal, reboots.

Runs on the modem's supervisor thread (see :mod:`.gsm`); a URC that means the modem
restarted or the SIM changed raises :class:`~.setup.Reconnect` / :class:`~.setup.ReconnectNow`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from gsmbridge.modem import parsing, pdu
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
            log.info("Status report stored in the modem (%s); not read", urc.line)
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

    def _status_report(self, urc: Urc) -> None:
        modem = self.modem
        if urc.pdu is None:
            log.warning("+CDS without a PDU line: %s", urc.line)
            return
        try:
            length = int(urc.line.split(":", 1)[1])
            report = pdu.decode_status_report(urc.pdu, tpdu_length=length)
        except (ValueError, pdu.PduError) as exc:
            log.warning("Undecodable status report %r: %s", urc.pdu, exc)
            return
        finally:
            if modem.cnma_required:
                try:
                    self.channel.command("AT+CNMA", timeout=modem.options.command_timeout_s)
                except ModemError as exc:
                    log.info("AT+CNMA failed: %s", exc.name)
        log.info(
            "Status report for TP-MR %d to %s: %s",
            report.message_reference,
            mask(report.recipient),
            report.status_text,
        )
        modem.deliver_status_report(report)
