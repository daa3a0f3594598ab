"""What the supervisor does with a URC: status reports, received SMS, registration, signal,
reboots.

Runs on the modem's supervisor thread (see :mod:`.gsm`).  A boot line that starts a
new boot (the firmware restarted and lost its settings) or a SIM change raises
:class:`~.setup.ModemRestarted`: the modem is initialised again on the open port.
A boot prints its lines over 10-15 s (``RDY``, ``+CFUN: 1``, ``+CPIN: READY``,
``Call Ready``/``+QUSIM: 1``, ``SMS Ready``/``+QIND: SMS DONE``): :class:`BootWatch`
takes every line that comes in that order as part of the same boot, so one restart
costs one initialisation.  Huawei's periodic ``^BOOT`` is not a boot line.
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING

from gsmbridge.modem import parsing, pdu
from gsmbridge.modem.at import AtChannel, Urc
from gsmbridge.modem.connection import ReceivedMode, ReportsMode
from gsmbridge.modem.errors import ConnectionLost, ModemError
from gsmbridge.modem.masking import mask
from gsmbridge.modem.memory import SmsMemory, StoredEntry
from gsmbridge.modem.pdu_fields import MTI_DELIVER, MTI_SUBMIT
from gsmbridge.modem.received import ReceivedSms, message_type
from gsmbridge.modem.setup import Initialiser, ModemRestarted
from gsmbridge.modem.status import ModemState

if TYPE_CHECKING:
    from gsmbridge.modem.gsm import Modem

__all__ = ["UrcHandler"]

log = logging.getLogger("gsmbridge.modem")


# Boot lines by their place in a boot (SIMCom and Quectel print them in this order);
# rank 5, the SMS-ready kind, ends a boot.
_BOOT_RANK = {
    "RDY": 0,
    "^SYSSTART": 0,
    "+CFUN: 1": 1,
    "+CPIN: READY": 2,
    "+QUSIM: 1": 3,
    "CALL READY": 3,
    "SMS READY": 5,
    "+QIND: SMS DONE": 5,
}
_SMS_READY = 5
BOOT_QUIET_S = 3.0  # a boot with no SMS-ready line is over after this long without a line
BOOT_MAX_S = 25.0  # a boot is waited for at most this long
_CDSI = re.compile(r'\+CDSI:\s*"([A-Za-z]{2})"\s*,\s*(\d{1,5})')


def boot_rank(line: str) -> int | None:
    """The place of a boot line in its boot, or None for any other line."""
    return _BOOT_RANK.get(re.sub(r"\s+", " ", line.strip().upper()))


class BootWatch:
    """The firmware's current boot as its lines arrive (supervisor thread only).

    A line belongs to the current boot when it comes later in the boot order than
    the last one seen and the boot is not over (its SMS-ready line seen, or nothing
    for BOOT_MAX_S); any other boot line starts a new boot: a restart.  The port
    coming back (or a PIN entered) opens a boot whose first lines we may have missed;
    its ``RDY`` only counts as a trailing line during the first initialisation (after
    that, a RDY is the firmware starting again).
    """

    def __init__(self) -> None:
        self.rank: int | None = None  # last rank of the current boot; None: no boot
        self.started = 0.0
        self.last = 0.0
        self.restarts = 0  # new boots seen after an initialisation
        self._guessed = False  # the current boot was only expected, no line seen yet

    def expect(self, rank: int = -1) -> None:
        """A boot may be under way (the port just opened, a PIN was entered)."""
        self.rank, self.started = rank, time.monotonic()
        self.last = self.started
        self._guessed = True

    def line(self, rank: int, *, initialised: bool) -> bool:
        """Record a boot line; True when it starts a new boot."""
        now = time.monotonic()
        same = (
            self.rank is not None
            and rank > self.rank
            and self.rank < _SMS_READY
            and now - self.last < BOOT_MAX_S
            and not (self._guessed and rank == 0 and initialised)
        )
        self._guessed = False
        if not same:
            self.started = now
        self.rank, self.last = rank, now
        return not same

    def in_progress(self) -> bool:
        """Lines seen and the SMS-ready one still to come (SMS commands may be refused)."""
        now = time.monotonic()
        return (
            self.rank is not None
            and 0 <= self.rank < _SMS_READY
            and now - self.started < BOOT_MAX_S
        )

    def settle_left(self) -> float:
        """Seconds until the current boot counts as over (0: over)."""
        if self.rank is None or self.rank >= _SMS_READY:
            return 0.0
        now = time.monotonic()
        return max(0.0, min(self.last + BOOT_QUIET_S, self.started + BOOT_MAX_S) - now)


class UrcHandler:
    """Handles the URCs of one channel on behalf of its Modem."""

    def __init__(self, modem: Modem, channel: AtChannel) -> None:
        self.modem = modem
        self.channel = channel
        self.memory = SmsMemory(channel, modem.options.command_timeout_s)

    @property
    def initialised(self) -> bool:
        state = self.modem.connection
        return state is not None and state.initialised

    def handle(self, urc: Urc) -> None:
        modem = self.modem
        state = modem.connection
        line = urc.line.upper()
        if urc.name == "+CDS":
            self._status_report(urc)
        elif urc.name == "+CDSI":
            self._stored_report(urc.line)
        elif urc.name == "+CMTI":
            self.received().announced(urc.line)
        elif urc.name == "+CUSD":
            # Nobody waits for it (a request that timed out, or the network's own).
            log.info("USSD answer nobody waited for: %s", urc.line)
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
        elif (rank := boot_rank(line)) is not None:
            grace = state.cpin_ready_grace_until if state is not None else 0.0
            if line == "+CPIN: READY" and time.monotonic() < grace:
                return  # expected after we entered the PIN
            if modem.boot.line(rank, initialised=self.initialised):
                log.debug("Boot line %r starts a new boot", urc.line)
                raise ModemRestarted(urc.line)
            log.debug("Boot line %r: the same boot", urc.line)
        elif line.startswith("+CPIN:") and modem.status.state == ModemState.READY:
            raise ModemRestarted(urc.line, booting=False)

    def _stored_report(self, line: str) -> None:
        """``+CDSI: "SR",3``: read the stored report, hand it on, delete it.

        The memory name and index come from the modem and go back into commands:
        only the expected shapes pass (nothing else reaches the modem).
        """
        match = _CDSI.fullmatch(line.strip())
        if match is None:
            log.warning("Unexpected stored-report announcement: %r", line)
            return
        if not self.modem.takes_reports:
            return  # ``gsmbridge send``: left in the modem for the app
        if not self.initialised:
            # Mid-(re)initialisation (PDU mode may not be set yet): the sweep that
            # follows every initialisation reads it.
            log.debug("%s during initialisation: left for the sweep", line)
            return
        memory, index = match.group(1).upper(), int(match.group(2))
        try:
            entry = self.memory.read(memory, index)
        except ConnectionLost:
            return  # it stays in the memory for the sweep after the reconnect
        except ModemError as exc:
            if (exc.kind, exc.code) == ("cms", 321):  # invalid index: a sweep took it first
                log.debug("Stored status report %s/%d already taken", memory, index)
                return
            # Refused for now (a restart under way refuses SMS commands until its "SMS
            # Ready"), not unreadable: deleting it would lose the report.  It stays, and
            # the next status poll sweeps the memories (so does every initialisation).
            log.info(
                "Stored status report %s/%d not read (%s): kept for the next sweep",
                memory,
                index,
                exc.name,
            )
            state = self.modem.connection
            if state is not None:
                state.reports_unswept = True
            return
        if entry is None:
            # Answered without a PDU: deleted, or such entries would fill the memory and
            # stop the reports.
            self._delete(memory, index)
            return
        self._stored_entry(entry)

    def _stored_entry(self, entry: StoredEntry) -> None:
        """One entry of a report memory: handed on, then deleted (also when it decodes
        to nothing, or matches no job: logged once, never left to fill the memory)."""
        if message_type(entry.pdu, entry.length) in (MTI_DELIVER, MTI_SUBMIT):
            # A memory shared with SMS, whose slot was reused: not a report.
            if self.received().take(entry):
                self._delete(entry.memory, entry.index, "Received SMS")
            return
        self._decode_and_deliver(entry.pdu, entry.length)
        self._delete(entry.memory, entry.index)

    def sweep_at_connect(self) -> None:
        """What waits in the modem's memories after every (re)initialisation: stored
        reports (also on a modem reporting inline, which keeps those that came while
        AT+CNMI was reset by a restart), received SMS."""
        state = self.modem.connection
        mode = state.reports if state is not None else None
        if mode in (ReportsMode.STORED, ReportsMode.INLINE) and self.modem.takes_reports:
            self.sweep_stored_reports(quiet=mode is ReportsMode.INLINE)
        self.received().sweep()

    def sweep_at_poll(self) -> None:
        """A modem that does not announce new SMS (+CMTI) is swept at every poll; so is
        one whose announced report could not be read when it came."""
        state = self.modem.connection
        if state is None:
            return
        if state.reports_unswept:
            state.reports_unswept = False
            self.sweep_at_connect()  # the report memory, and SM where some modems keep them
        elif state.received is ReceivedMode.POLLED:
            self.received().sweep()

    def sweep_stored_reports(self, *, quiet: bool = False) -> None:
        """Read and delete the reports left in the "SR" memory (stored while gsmbridge
        was away or the modem restarted, or announced during an initialisation).

        ``quiet``: a modem reporting inline may have no "SR" memory at all.
        """
        try:
            self.memory.select("SR")
            entries = self.memory.list_all("SR", 0)
        except ConnectionLost:
            raise
        except ModemError as exc:
            (log.debug if quiet else log.info)("Stored status reports not swept: %s", exc.name)
            return
        for entry in entries:
            self._stored_entry(entry)

    def _delete(self, memory: str, index: int, what: str = "Stored status report") -> None:
        self.memory.delete(memory, index, what)

    def received(self) -> ReceivedSms:
        return ReceivedSms(
            self.modem,
            self.memory,
            lambda hex_pdu, length: self._decode_and_deliver(hex_pdu, length),
        )

    def _status_report(self, urc: Urc) -> None:
        modem = self.modem
        if urc.pdu is None:
            log.warning("+CDS without a PDU line: %s", urc.line)
            return
        try:
            self._decode_and_deliver(urc.pdu, urc.line.split(":", 1)[1])
        finally:
            state = modem.connection
            if state is not None and state.cnma_required:
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
