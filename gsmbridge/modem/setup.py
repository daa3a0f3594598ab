"""The modem init sequence and status polls, run on the supervisor thread.

Order and tolerance follow what real modems need (see shared modem notes):
leave a stuck prompt, sync, echo off, numeric errors, identity, SIM PIN (once!),
PDU mode, SMSC check, status-report routing, SIM identity, then registration.
Optional steps never fail the init: modems differ too much.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from gsmbridge.modem import parsing
from gsmbridge.modem.at import AtChannel
from gsmbridge.modem.connection import ConnectionState, ReceivedMode, ReportsMode
from gsmbridge.modem.errors import ConnectionLost, ModemError, ModemUnavailable, no_answer_text
from gsmbridge.modem.quirks import PIN_TRIES_3GPP, quirks_for
from gsmbridge.modem.status import ModemState, pin_tries_text

if TYPE_CHECKING:
    from gsmbridge.modem.gsm import Modem

log = logging.getLogger("gsmbridge.modem.setup")

PIN_REJECTED = "PIN rejected; not retried automatically"
CONFIGURED_PIN_REJECTED = "this SIM rejected the configured PIN; it is not entered again"
LAST_TRY_HELD_BACK = "the configured PIN is not entered by itself on the SIM's last try"

_BUSY = {("cme", 14), ("cme", 515), ("cms", 314), ("cms", 515)}
_NO_SIM = {("cme", 10), ("cms", 310), ("cme", 13), ("cms", 313)}
_WRONG_PIN = {("cme", 16), ("cme", 12), ("cms", 316)}
# ds=2 first: reports are kept in the modem's memory and announced as +CDSI (read, then
# deleted), so one that arrives while the port is gone or the modem re-initialises is
# still there for the sweep after the next initialisation.
_CNMI_STORED_FORMS = ("AT+CNMI=2,1,0,2,0", "AT+CNMI=1,1,0,2,0")
# Failing those (SIM800L rejects ds=2), inline as +CDS (ds=1).
_CNMI_FORMS = ("AT+CNMI=2,1,0,1,0", "AT+CNMI=1,1,0,1,0", "AT+CNMI=2,0,0,1,0", "AT+CNMI=1,0,0,1,0")
_PDU_MODE_WAIT_S = 4.0  # AT+CMGF=0 retried this long (longer while a boot is under way)
_ICCID_COMMANDS = ("AT+CCID", "AT+ICCID", "AT+QCCID", "AT^ICCID?")


class Reconnect(Exception):
    """Close the port; reopen after the backoff delay."""


class ReconnectNow(Reconnect):
    """Close the port and reopen at once (the user asked)."""


class ModemRestarted(Exception):
    """The firmware restarted (a boot line) or the SIM changed: initialise again on
    the open port, once the boot is over when ``booting``."""

    def __init__(self, line: str, *, booting: bool = True) -> None:
        what = "modem restarted" if booting else "SIM state changed"
        super().__init__(f"{what} (saw {line})")
        self.booting = booting


class Initialiser:
    """Init and polling steps for one connection of ``modem``.

    ``run()`` makes the connection's :class:`ConnectionState` and publishes it as
    ``modem.connection`` at once (URCs during the init read it); the other steps use
    the one published.
    """

    def __init__(self, modem: Modem, channel: AtChannel) -> None:
        self.modem = modem
        self.channel = channel
        self.options = modem.options
        self._state: ConnectionState | None = None  # the one run() made
        self._iccid: str | None = None  # the SIM's, read while it waits for its PIN
        self._tries: int | None = None  # the PIN tries the SIM said it has left

    @property
    def state(self) -> ConnectionState:
        """run()'s own state: stop() may drop ``modem.connection`` from another thread
        meanwhile, and the init then ends on the closed channel, not on a missing state."""
        state = self._state or self.modem.connection
        if state is None:  # a step outside run()'s connection: a programming error
            raise RuntimeError("no connection state: run() first")
        return state

    # -- helpers -------------------------------------------------------------------------
    def cmd(self, command: str, ok_optional_after: str | None = None) -> list[str]:
        return self.channel.command(
            command, timeout=self.options.command_timeout_s, ok_optional_after=ok_optional_after
        )

    def retry(
        self,
        command: str,
        *,
        attempts: int = 8,
        any_error: bool = False,
        ok_optional_after: str | None = None,
    ) -> list[str]:
        """Retry SIM/device-busy answers (CME 14/515) with growing sleeps (0.2 s steps).

        ``any_error``: also retry plain errors (SIM800 refuses AT+CMGF until "SMS Ready").
        """
        delay = 0.2
        for attempt in range(attempts):
            try:
                return self.cmd(command, ok_optional_after)
            except ConnectionLost:
                raise
            except ModemError as exc:
                busy = (exc.kind, exc.code) in _BUSY or (any_error and exc.kind != "timeout")
                if not busy or attempt == attempts - 1:
                    raise
                log.debug("%s: %s, retrying in %.1f s", command, exc.name, delay)
                self.sleep(delay)
                delay = min(delay + 0.2, 2.0)
        raise AssertionError("unreachable")

    def optional(self, command: str, *, busy_retry: bool = True) -> list[str] | None:
        """Run a step that may fail on some modems; None if it did."""
        try:
            if busy_retry:
                return self.retry(command, attempts=4)
            return self.cmd(command)
        except ConnectionLost:
            raise
        except ModemError as exc:
            log.debug("%s failed: %s", command, exc.name)
            return None

    def sleep(self, seconds: float) -> None:
        """Wait while still handling supervisor events (stop, loss, URCs)."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.modem.next_event(left, self.channel)

    # -- init ----------------------------------------------------------------------------
    def run(self) -> ConnectionState:
        modem = self.modem
        state = self._state = ConnectionState()
        modem.connection = state
        log.info("Initialising modem on %s", modem.url)
        self.channel.escape()  # ESC+CR: leave a stuck '>' prompt without sending; then resync
        try:
            self.cmd("AT")
        except ConnectionLost:
            raise
        except ModemError as exc:
            if exc.kind == "timeout":
                raise ModemUnavailable(
                    no_answer_text(noise=self.channel.noise_lines > 0),
                    kind="timeout",
                    name="no answer",
                ) from exc
        self.optional("ATE0")
        self.optional("AT+CMEE=1")
        self.read_identity()
        self.unlock_sim()
        self.pdu_mode()
        self.check_smsc()
        service = parsing.parse_csms_service(self.optional("AT+CSMS?") or [])
        state.cnma_required = service == 1  # phase 2+: +CDS must be acknowledged
        self.route_status_reports()
        self.read_sim_identity()
        self.optional("AT+CREG=1", busy_retry=False)  # +CREG URCs: faster status updates
        state.initialised = True
        self.poll()
        status = modem.status
        log.info(
            "Modem %s: %s %s, IMEI %s, SIM %s, SMSC %s, %s",
            modem.url,
            status.manufacturer,
            status.model,
            status.imei,
            status.sim,
            status.smsc or "?",
            status.state,
        )
        return state

    def pdu_mode(self) -> None:
        """AT+CMGF=0, retried while the SMS side may still be starting: SIM800 refuses
        it until "SMS Ready", which trails the port's return by up to 15 s."""
        deadline = time.monotonic() + _PDU_MODE_WAIT_S
        delay = 0.2
        while True:
            try:
                self.cmd("AT+CMGF=0")
                return
            except ModemError as exc:
                if isinstance(exc, ConnectionLost) or exc.kind == "timeout":
                    raise
                if time.monotonic() >= deadline and not self.modem.boot.in_progress():
                    raise ModemError(
                        "modem refuses PDU mode (AT+CMGF=0)", kind="config", name="no PDU mode"
                    ) from exc
                log.debug("AT+CMGF=0: %s, retrying in %.1f s", exc.name, delay)
                self.sleep(delay)
                delay = min(delay + 0.2, 1.0)

    def read_identity(self) -> None:
        values = {}
        for field, command in (
            ("manufacturer", "AT+CGMI"),
            ("model", "AT+CGMM"),
            ("revision", "AT+CGMR"),
        ):
            values[field] = parsing.parse_identity(self.optional(command) or [], command)
        values["imei"] = parsing.parse_digits(self.optional("AT+CGSN") or [], "AT+CGSN", 14, 17)
        self.modem.set_status(**values)
        quirks = quirks_for(values["manufacturer"], values["model"])
        self.state.quirks = quirks
        if quirks.name:
            log.info("Modem %s is a %s: using its quirks (%s)", self.modem.url, quirks.name, quirks)

    def read_sim_identity(self) -> None:
        imsi = parsing.parse_digits(self.optional("AT+CIMI") or [], "AT+CIMI", 6, 15)
        iccid = self.read_iccid()
        self.modem.set_status(imsi=imsi, iccid=iccid)
        if why := self.modem.pin.renew(iccid=iccid, tries=None):
            log.info("SIM PIN: %s; the PINs it rejected before are forgotten", why)

    def read_iccid(self) -> str:
        """The SIM's ICCID, "" if the modem does not say (most do before the PIN)."""
        for command in _ICCID_COMMANDS:
            lines = self.optional(command, busy_retry=False)
            if lines and (iccid := parsing.parse_digits(lines, command, 18, 22)):
                return iccid
        return ""

    def check_smsc(self) -> None:
        try:
            smsc = parsing.parse_csca(self.retry("AT+CSCA?"))
        except ConnectionLost:
            raise
        except ModemError as exc:
            log.debug("AT+CSCA? failed: %s", exc.name)
            smsc = ""
        if not smsc:
            log.warning(
                "No SMS centre (SMSC) number on the SIM: sending will fail with "
                "CMS 330 until one is set (AT+CSCA)"
            )
            self.modem.set_extra(warning="no SMSC number on the SIM")
        self.modem.set_status(smsc=smsc)

    def route_status_reports(self) -> None:
        """Choose AT+CNMI: delivery reports first, new-SMS announcements (mt=1) when the
        modem allows both; without announcements received SMS are polled (swept)."""
        state = self.state
        if not self.options.status_reports:
            state.reports = ReportsMode.OFF
            ok = self.optional("AT+CNMI=2,1,0,0,0", busy_retry=False) is not None
            self._new_sms(ok)
            return
        # A model known to reject ds=2 (the quirks table) is not asked.
        stored = _CNMI_STORED_FORMS if state.quirks.stored_reports else ()
        for form in stored:
            if self.optional(form, busy_retry=False) is not None:
                log.debug("The modem stores delivery reports (+CDSI); each is read, then deleted")
                self._reports(ReportsMode.STORED, form)
                return
        for form in _CNMI_FORMS:
            if self.optional(form, busy_retry=False) is not None:
                self._reports(ReportsMode.INLINE, form)
                return
        log.warning("The modem rejects AT+CNMI with ds=1 and ds=2: no delivery reports")
        self._reports(ReportsMode.UNSUPPORTED, None)

    def _reports(self, mode: ReportsMode, form: str | None) -> None:
        self.state.reports = mode
        shown = {"status_reports": mode.value} | ({"cnmi": form[8:]} if form else {})
        self.modem.set_extra(**shown)  # for the Modem tab and /api/status only
        self._new_sms(form is not None and form[10] != "0")

    def _new_sms(self, announced: bool) -> None:
        # "polled": the modem says nothing of new SMS; every status poll sweeps instead.
        mode = ReceivedMode.ANNOUNCED if announced else ReceivedMode.POLLED
        self.state.received = mode
        self.modem.set_extra(received_sms=mode.value)

    # -- SIM -----------------------------------------------------------------------------
    def unlock_sim(self) -> None:
        modem = self.modem
        while True:
            try:
                lines = self.retry("AT+CPIN?", ok_optional_after="+CPIN:")
            except ModemError as exc:
                if (exc.kind, exc.code) in _NO_SIM:
                    modem.set_status(
                        state=ModemState.ERROR,
                        sim="NOT INSERTED",
                        last_error=f"SIM card missing or broken ({exc.name})",
                    )
                    raise ModemUnavailable("no usable SIM card", name="no SIM") from exc
                raise
            sim = parsing.parse_cpin(lines) or "UNKNOWN"
            self._tries = self.pin_tries() if sim == "SIM PIN" else None
            modem.set_status(sim=sim, pin_tries=self._tries)
            if sim == "READY":
                modem.pin.announced = ""  # a later wait for a PIN is news again
                return
            if sim == "SIM PIN":
                self.renew_pin_memory()
                pin = self.choose_pin()
                if pin is None:
                    self.wait_for_pin()
                else:
                    self.enter(pin)
                continue
            if sim == "SIM PUK":
                modem.set_status(
                    state=ModemState.PUK_REQUIRED,
                    last_error=(
                        "SIM PUK required (too many wrong PINs): unlock the SIM in a phone, "
                        "then reconnect"
                    ),
                )
                self.announce(
                    logging.ERROR,
                    f"The SIM in {modem.url} needs its PUK (too many wrong PINs); the bridge "
                    "will not try to unlock it: unlock it in a phone with the PUK from the "
                    "SIM's card, then reconnect the modem",
                )
                self.wait_for_pin(puk=True)
                continue
            modem.set_status(state=ModemState.ERROR, last_error=f"unsupported SIM state {sim}")
            raise ModemUnavailable(f"unsupported SIM state {sim}", name="SIM state")

    def pin_tries(self) -> int | None:
        """The PIN tries the SIM has left, if the modem says (the maker's command, then
        3GPP's); only asked while the SIM waits for its PIN."""
        for command in dict.fromkeys((self.state.quirks.pin_tries, PIN_TRIES_3GPP)):
            tries = parsing.parse_pin_tries(self.optional(command, busy_retry=False) or [])
            if tries is not None:
                return tries
        return None

    def renew_pin_memory(self) -> None:
        """Forget the PINs the SIM rejected if it is another SIM (ICCID), or if its
        counter rose since (see PinMemory)."""
        if self._iccid is None:
            self._iccid = self.read_iccid()
            if self._iccid:
                self.modem.set_status(iccid=self._iccid)
        if why := self.modem.pin.renew(iccid=self._iccid, tries=self._tries):
            log.info("SIM PIN: %s; the PINs it rejected before may be entered again", why)

    def choose_pin(self) -> str | None:
        """The PIN to enter now, or None to wait for a person: the one they typed (once),
        else the configured one unless this SIM rejected it or has one try left (the
        memory lasts one run: a wrong configured PIN costs a try per start, and a
        service restarted in a loop must not use the last one).  A configured PIN changed
        while running (Settings, the config file) follows the same rules: an edit back to
        a rejected PIN, or a file emptied and written again, costs no try."""
        memory = self.modem.pin
        if memory.entered:
            pin, memory.entered = memory.entered, None
            return pin  # a deliberate user entry, even if equal to a rejected one
        pin = (self.options.pin or "").strip()
        if not pin or pin in memory.rejected:
            return None
        if not parsing.valid_pin(pin):
            # Never put an arbitrary string into an AT command; treat it as rejected.
            error = "the configured SIM PIN is not 4 to 8 digits; not used"
            memory.reject(pin, iccid=self._iccid or "", tries=self._tries, error=error)
            log.error("SIM PIN: %s", error)
            return None
        if self._tries == 1:
            return None  # an earlier run's wrong PINs are not remembered; the SIM's are
        return pin

    def enter(self, pin: str) -> None:
        modem, memory = self.modem, self.modem.pin
        log.info("Entering the SIM PIN")
        if modem.status.state == ModemState.PIN_REQUIRED:  # a configured PIN saved since
            modem.set_status(state=ModemState.CONNECTING, last_error="")
        self.state.cpin_ready_grace_until = time.monotonic() + 30
        modem.boot.expect(rank=2)  # the SMS side now starts: "SMS Ready" may follow
        for attempt in range(3):
            try:
                self.channel.command(
                    f'AT+CPIN="{pin}"', timeout=max(10.0, self.options.command_timeout_s)
                )
                log.info("SIM PIN accepted")
                memory.accept(pin, iccid=self._iccid or "")
                return
            except ConnectionLost:
                raise
            except ModemError as exc:
                if (exc.kind, exc.code) in _BUSY and attempt < 2:
                    self.sleep(0.5)  # not processed: the SIM was busy, no attempt used
                    continue
                if (exc.kind, exc.code) in _WRONG_PIN or exc.kind in ("cme", "cms"):
                    message = PIN_REJECTED
                else:
                    message = f"PIN entry failed ({exc.name}); not retried automatically"
                tries = self._tries = self.pin_tries()
                memory.reject(pin, iccid=self._iccid or "", tries=tries, error=message)
                log.error("SIM PIN: %s — %s (%s)", message, pin_tries_text(tries), exc.name)
                modem.set_status(
                    state=ModemState.PIN_REQUIRED,
                    last_error=f"{message} — {pin_tries_text(tries)}",
                    pin_tries=tries,
                )
                return

    def wait_for_pin(self, puk: bool = False) -> None:
        modem = self.modem
        if not puk:
            tries = pin_tries_text(modem.status.pin_tries)
            configured = (self.options.pin or "").strip()
            if modem.pin.error:
                why = said = modem.pin.error
            elif configured in modem.pin.rejected:  # then another PIN unlocked this SIM
                why = CONFIGURED_PIN_REJECTED
                said = f"{why}: enter the PIN"
            elif configured and modem.status.pin_tries == 1:
                why = LAST_TRY_HELD_BACK
                said = f"{why}: enter the PIN"
            else:
                why, said = "no PIN is configured", "SIM PIN required: enter the PIN"
            modem.set_status(state=ModemState.PIN_REQUIRED, last_error=f"{said} — {tries}")
            if modem.status.pin_tries == 1:  # a configured PIN, new or not, is held back
                todo = (
                    "A PIN set in the config file or Settings is not entered on the last "
                    "try: enter the PIN in the window's Modem tab, or unlock the SIM in a phone"
                )
            else:
                todo = (
                    "Set modem.pin in the config file to the right PIN (a running gsmbridge "
                    "tries it within seconds), or enter the PIN in the window's Modem tab"
                )
            self.announce(
                logging.WARNING,
                f"The SIM in {modem.url} waits for its PIN ({why} — {tries}): nothing is sent "
                f"until it is unlocked. {todo}",
                configured,
            )
        while True:
            event = modem.next_event(3600.0, self.channel)
            if event is not None and event[0] == "pin":
                if puk:
                    modem.pin.entered = None  # not kept for once the PUK unlocked the SIM
                    log.warning("The SIM needs its PUK, not a PIN; PIN ignored")
                    continue
                modem.set_status(state=ModemState.CONNECTING, last_error="")
                return
            if event is not None and event[0] == "configured pin" and not puk:
                # Decide again by the configured PIN's rules (choose_pin); why the SIM
                # stays locked is now the new PIN's news, not the last entry's.
                modem.pin.error = ""
                return

    def announce(self, level: int, text: str, pin: str = "") -> None:
        """Log why the SIM waits for a person, once (not again at each reconnect); again
        for another configured ``pin`` held back for the same reason (the text does not
        name it)."""
        memory = self.modem.pin
        said = f"{pin}\n{text}"
        if memory.announced != said:
            memory.announced = said
            log.log(level, "%s", text)

    # -- polling -------------------------------------------------------------------------
    def poll(self) -> None:
        """Signal, registration and operator; publishes the status."""
        rssi = parsing.parse_csq(self.optional("AT+CSQ", busy_retry=False) or [])
        stat = parsing.parse_registration(self.optional("AT+CREG?", busy_retry=False) or [])
        if stat not in parsing.REGISTERED:
            # LTE-only modules may register for SMS on EPS only.
            eps = parsing.parse_registration(
                self.optional("AT+CEREG?", busy_retry=False) or [], "+CEREG:"
            )
            if eps in parsing.REGISTERED:
                stat = eps
        operator = ""
        if stat in parsing.REGISTERED:
            operator = parsing.parse_cops(self.optional("AT+COPS?", busy_retry=False) or [])
        self.modem.set_status(
            signal_dbm=parsing.rssi_to_dbm(rssi),
            signal_bars=parsing.signal_bars(rssi),
            operator=operator,
        )
        self.apply_registration(stat)

    def apply_registration(self, stat: int | None, *, from_urc: bool = False) -> None:
        modem, connection = self.modem, self.modem.connection
        name = parsing.REGISTRATION.get(stat, "unknown") if stat is not None else "unknown"
        if connection is None or not connection.initialised:
            modem.set_status(registration=name)
            return
        if stat in parsing.REGISTERED:
            if not modem.status.ready:
                log.info("Modem %s registered (%s): ready", modem.url, name)
                if from_urc:
                    modem.request_poll()  # fresh signal/operator right away
            modem.set_status(registration=name, state=ModemState.READY, last_error="")
            return
        waited = time.monotonic() - connection.init_started
        if stat == 3:
            state, error = (
                ModemState.DENIED,
                "network registration denied (SIM barred or no roaming)",
            )
        else:
            state, error = ModemState.SEARCHING, f"not registered on the network ({name})"
            if waited > self.options.register_timeout_s:
                error += f" for more than {self.options.register_timeout_s:.0f} s; still trying"
        if modem.status.ready:
            log.warning("Modem %s lost the network: %s", modem.url, name)
        modem.set_status(registration=name, state=state, last_error=error)
