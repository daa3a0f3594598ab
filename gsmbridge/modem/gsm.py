"""The Modem: supervision, status and sending on top of an AT channel.

Threads: a *supervisor* opens the port, runs the init sequence (``setup.py``),
polls signal/registration, handles URCs (status reports, received SMS, reboot
hints) and reconnects with exponential backoff.  Only a lost port is closed and
reopened: a modem that restarted is initialised again on the open port once its
boot is over (one restart, one initialisation; see ``urcs.BootWatch``).
``send_sms`` runs on the caller's thread (the sender) and takes the channel's lock
for the whole message, so polling never interleaves with a multi-part send.  Every
wait has a deadline and uses an Event or queue, so ``stop()`` is prompt.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from gsmbridge.modem import pdu, ussd
from gsmbridge.modem.at import AtChannel, Urc
from gsmbridge.modem.connection import ConnectionState, PinMemory
from gsmbridge.modem.deliver import Deliver
from gsmbridge.modem.errors import (
    ConnectionLost,
    ModemError,
    ModemUnavailable,
    describe_open_error,
)
from gsmbridge.modem.masking import mask
from gsmbridge.modem.options import ModemOptions, SendResult, encode_message
from gsmbridge.modem.parsing import valid_pin
from gsmbridge.modem.ports import find_by_imei, open_port
from gsmbridge.modem.setup import Initialiser, ModemRestarted, Reconnect, ReconnectNow
from gsmbridge.modem.status import ModemState, ModemStatus, StatusListener, UssdAnswer
from gsmbridge.modem.urcs import BootWatch, UrcHandler, boot_rank
from gsmbridge.modem.ussd import UssdWaiter, valid_code

__all__ = ["Modem", "ModemOptions", "SendResult", "mask"]

log = logging.getLogger("gsmbridge.modem")

# Errors during a send that mean "the modem/SIM is not usable", not "this message is bad".
_UNAVAILABLE_CODES = {("cms", c) for c in (310, 311, 313, 316, 331)} | {
    ("cme", c) for c in (10, 11, 12, 13, 30)
}


# States in which the modem is not on the network: its signal, operator and
# registration are shown as unknown, not as they were before.
_OFF_THE_NETWORK = frozenset(
    {
        ModemState.DISCONNECTED,
        ModemState.CONNECTING,
        ModemState.PIN_REQUIRED,
        ModemState.PUK_REQUIRED,
        ModemState.ERROR,
    }
)


class Modem:
    """One GSM modem; see the module docstring.  Thread-safe.

    ``url``: a device (``COM3``, ``/dev/ttyUSB2``), a pyserial URL, or
    ``imei:<digits>`` to find the modem by IMEI on every (re)connect, so it is found
    again after the OS renames its port.  ``port_url``, when given, is what is opened
    instead and ``url`` only names the modem (the caller resolved the name to a URL;
    the driver opens only what it is given).
    """

    def __init__(
        self,
        url: str,
        options: ModemOptions,
        *,
        listener: StatusListener | None = None,
        on_status_report: Callable[[pdu.StatusReport], None] | None = None,
        on_incoming: Callable[[Deliver], None] | None = None,
        port_url: str | None = None,
    ) -> None:
        self.url = url
        self.port_url = port_url
        self.options = options
        self._listener = listener
        self._on_status_report = on_status_report
        self._on_incoming = on_incoming
        self.incoming_swept = threading.Event()  # the connect sweep of received SMS is over
        self._status = ModemStatus(port=url, simulated=options.simulated)
        self._status_lock = threading.RLock()
        self._stop = threading.Event()
        self._events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._ready = threading.Event()
        self._send_lock = threading.Lock()
        self._channel: AtChannel | None = None
        self._thread: threading.Thread | None = None
        self._ref_lock = threading.Lock()
        self._concat_ref = random.randrange(256)
        self._last_send_end = 0.0
        # The current connection's facts (made by the Initialiser, dropped with the
        # connection); None while there is none.
        self.connection: ConnectionState | None = None
        self.pin = PinMemory()  # outlives connections: a rejected PIN stays rejected
        self._ussd: UssdWaiter | None = None  # a USSD request waiting for its +CUSD
        self.boot = BootWatch()  # the firmware's boot lines, across reconnects
        self.connects = 0  # ports opened (for the Modem tab and tests)
        self.initialisations = 0  # init sequences completed
        self._boot_line_at = 0.0  # when the reader last saw a boot line

    # -- public API ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._supervise, name=f"modem {self.url}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        """Let an exchange in flight finish for a moment, then abort it and close."""
        self._stop.set()
        self._events.put(("stop", None))
        waiter = self._ussd
        if waiter is not None:
            waiter.abort("the modem was stopped while waiting for the USSD answer")
        if self._send_lock.acquire(timeout=min(0.5, timeout / 4)):
            self._send_lock.release()
        self._close_channel()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self.set_status(state=ModemState.DISCONNECTED)

    @property
    def status(self) -> ModemStatus:
        with self._status_lock:
            return self._status

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def enter_pin(self, pin: str) -> None:
        """A PIN typed by the user; tried once, on the supervisor thread."""
        if not valid_pin(pin or ""):
            raise ValueError("a PIN is 4 to 8 digits")
        self.pin.entered = pin
        self._events.put(("pin", pin))

    def configured_pin_changed(self) -> None:
        """``options.pin`` changed (Settings, the config file): a modem waiting for a PIN
        decides again by the configured PIN's rules (never one this SIM rejected, never
        on its last try), unlike a PIN a person typed.  A modem in another state reads
        the option when its SIM next asks (the event is dropped)."""
        self._events.put(("configured pin", None))

    def reconnect(self) -> None:
        self._events.put(("reconnect", None))

    def request_poll(self) -> None:
        self._events.put(("poll", None))

    def next_concat_ref(self) -> int:
        """A new 8-bit concatenation reference (consecutive messages differ)."""
        with self._ref_lock:
            self._concat_ref = (self._concat_ref + 1) & 0xFF
            return self._concat_ref

    def send_sms(
        self,
        number: str,
        text: str,
        *,
        concat_ref: int | None = None,
        first_part: int = 1,
        on_part_sent: Callable[[int, int], None] | None = None,
        on_parts_planned: Callable[[int], None] | None = None,
        more_to_come: bool = False,
    ) -> SendResult:
        """Send ``text`` to ``number``; see the class docs of SendResult.

        ``first_part > 1`` resumes a message whose earlier parts were sent (same
        ``concat_ref`` required).  ``on_part_sent(seq, mr)`` runs after each +CMGS;
        ``on_parts_planned(total)`` once before the first, so a send that fails
        half-way still tells how many parts the message has.
        """
        if first_part < 1:
            raise ValueError("first_part starts at 1")
        if first_part > 1 and concat_ref is None:
            raise ValueError("resuming a message needs its original concat_ref")
        ref = self.next_concat_ref() if concat_ref is None else concat_ref & 0xFF
        state = self.connection
        reports = state is None or state.reports_possible
        message = encode_message(number, text, ref, self.options, reports=reports)
        todo = message.parts[first_part - 1 :]
        references: list[int] = []
        if todo and on_parts_planned is not None:
            on_parts_planned(len(message.parts))
        if todo:
            with self._send_lock:
                references = self._send_parts(number, message, todo, on_part_sent, more_to_come)
        return SendResult(
            encoding=message.encoding,
            text_sent=message.text,
            parts=len(message.parts),
            references=references,
            concat_ref=ref,
            truncated=message.truncated,
            first_part=first_part,
        )

    def ussd(self, code: str, timeout: float = 30.0) -> UssdAnswer:
        """Send a USSD code (``*100#``) and return the network's answer, also kept in
        the status (``status.ussd``).

        Never in the middle of an SMS: it takes the send lock (waiting for a message in
        flight) for the whole exchange.  ValueError for a code that is not digits, *
        and #; ModemError for no answer within ``timeout`` s, a refusal or an error.
        """
        if not valid_code(code):
            raise ValueError(
                f"a USSD code is digits, * and # (at most {ussd.MAX_CODE}), like *100#"
            )
        if not self._send_lock.acquire(timeout=self.options.send_timeout_s + 5):
            raise ModemUnavailable("the modem is busy sending; try again", name="modem busy")
        try:
            channel, state = self._channel, self.connection
            if channel is None or state is None or not self._ready.is_set():
                status = self.status
                raise ModemUnavailable(
                    f"modem not ready ({status.state}"
                    f"{': ' + status.last_error if status.last_error else ''})",
                    name="modem not ready",
                )
            log.info("USSD %s on %s", code, self.url)
            self._ussd = waiter = UssdWaiter()
            try:
                answer = ussd.exchange(
                    channel,
                    code,
                    quirks=state.quirks,
                    waiter=waiter,
                    timeout=timeout,
                    command_timeout=self.options.command_timeout_s,
                )
            except ModemError as exc:
                log.warning("USSD %s failed: %s", code, exc)
                raise
            finally:
                self._ussd = None
        except ConnectionLost as exc:
            raise ModemUnavailable(str(exc), name="connection lost") from exc
        finally:
            self._send_lock.release()
        log.info("USSD %s answered: %s", code, answer.text)
        self.set_status(ussd=answer)
        return answer

    # -- sending -------------------------------------------------------------------------
    def _send_parts(
        self,
        number: str,
        message: pdu.EncodedMessage,
        todo: tuple[pdu.SubmitPart, ...],
        on_part_sent: Callable[[int, int], None] | None,
        more_to_come: bool,
    ) -> list[int]:
        channel, state = self._channel, self.connection
        if channel is None or state is None or not self._ready.is_set() or not channel.alive:
            status = self.status
            raise ModemUnavailable(
                f"modem not ready ({status.state}"
                f"{': ' + status.last_error if status.last_error else ''})",
                name="modem not ready",
            )
        opts = self.options
        log.info(
            "Sending SMS to %s (%s, part%s %d..%d of %d)",
            mask(number),
            message.encoding,
            "" if len(message.parts) == 1 else "s",
            todo[0].seq,
            todo[-1].seq,
            len(message.parts),
        )
        references: list[int] = []
        restarts, started = self.boot.restarts, time.monotonic()
        try:
            with channel.lock:
                for index, part in enumerate(todo):
                    self._set_cmms(channel, state, index < len(todo) - 1 or more_to_come)
                    mr = channel.send_pdu(
                        part.tpdu_length,
                        part.pdu,
                        prompt_timeout=opts.prompt_timeout_s,
                        timeout=opts.send_timeout_s,
                    )
                    references.append(mr)
                    log.debug("part %d/%d sent, TP-MR %d", part.seq, part.total, mr)
                    if on_part_sent is not None:
                        on_part_sent(part.seq, mr)
                if not more_to_come:
                    self._set_cmms(channel, state, False)
        except ConnectionLost as exc:
            log.info("Send to %s failed: connection lost", mask(number))
            raise ModemUnavailable(
                str(exc), kind="io", name="connection lost", maybe_sent=exc.maybe_sent
            ) from exc
        except ModemError as exc:
            restarted = self.boot.restarts != restarts or self._boot_line_at >= started
            if restarted or (exc.kind == "timeout" and not self._ready.is_set()):
                # The modem restarted under this send (it went silent, then printed
                # RDY): not the message's fault.
                log.info("Send to %s interrupted: the modem restarted", mask(number))
                raise ModemUnavailable(
                    "the modem restarted during the send",
                    kind=exc.kind,
                    name="modem restarted",
                    maybe_sent=exc.maybe_sent,
                ) from exc
            log.warning("Send to %s failed: %s", mask(number), exc.name)
            if exc.kind == "timeout":
                state.send_timeouts += 1
                self._events.put(("check", channel))
            if (exc.kind, exc.code) in _UNAVAILABLE_CODES:
                self._events.put(("check", channel))
                raise ModemUnavailable(
                    str(exc), kind=exc.kind, code=exc.code, name=exc.name
                ) from exc
            raise
        finally:
            self._last_send_end = time.monotonic()
        state.send_timeouts = 0
        log.info("SMS to %s sent (TP-MR %s)", mask(number), ",".join(map(str, references)))
        return references

    def _set_cmms(self, channel: AtChannel, state: ConnectionState, on: bool) -> None:
        """AT+CMMS=2 keeps the radio link up between parts/messages; best effort."""
        if on == state.cmms_on or not state.cmms_supported:
            return
        try:
            channel.command(f"AT+CMMS={2 if on else 0}", timeout=self.options.command_timeout_s)
            state.cmms_on = on
        except ConnectionLost:
            raise
        except ModemError as exc:
            if exc.kind != "timeout":
                log.info("AT+CMMS not supported (%s); sending without it", exc.name)
                state.cmms_supported = False

    # -- status --------------------------------------------------------------------------
    def set_status(self, **changes: Any) -> None:
        if "state" in changes:
            changes["state"] = state = ModemState(changes["state"])  # a typo fails loudly
            if state in _OFF_THE_NETWORK:  # what was true of the network is not any more
                for name, nothing in (("registration", ""), ("operator", "")):
                    changes.setdefault(name, nothing)
                changes.setdefault("signal_dbm", None)
                changes.setdefault("signal_bars", 0)
            if state is ModemState.DISCONNECTED:  # the next connection may find another SIM
                changes.setdefault("imsi", "")
                changes.setdefault("iccid", "")
                changes.setdefault("pin_tries", None)
        with self._status_lock:
            new = dataclasses.replace(self._status, **changes)
            if new == self._status:
                return
            self._status = new
            if new.ready:
                self._ready.set()
            else:
                self._ready.clear()
            if self._listener is not None:
                try:
                    self._listener.modem_status_changed(new)
                except Exception:  # noqa: BLE001 - a listener must not break the modem
                    log.exception("listener failed")

    def set_extra(self, **values: str) -> None:
        with self._status_lock:
            extra = dict(self._status.extra)
            extra.update(values)
            self.set_status(extra=extra)

    def deliver_status_report(self, report: pdu.StatusReport) -> None:
        """Pass a decoded report to ``on_status_report``; a failing callback is only logged."""
        _call(self._on_status_report, report, "status report callback failed")

    @property
    def takes_reports(self) -> bool:
        """Stored reports are read and deleted only when someone applies them (not by
        ``gsmbridge send``, which would take them from the app)."""
        return self._on_status_report is not None

    @property
    def takes_incoming(self) -> bool:
        """Received SMS are read and deleted only when someone stores them (not, for
        instance, by ``gsmbridge send``): otherwise they stay in the SIM."""
        return self._on_incoming is not None

    def deliver_incoming(self, sms: Deliver) -> bool:
        """Pass a received SMS to ``on_incoming``; True once stored, so it may be deleted
        from the modem (else it stays there for the next sweep)."""
        return _call(self._on_incoming, sms, "received SMS not stored; it stays in the modem")

    # -- supervisor ----------------------------------------------------------------------
    def _supervise(self) -> None:
        delay = self.options.reconnect_min_s
        failing = ""  # the problem already logged: its repeats go to the debug log
        while not self._stop.is_set():
            immediate = False
            error = ""
            try:
                channel = self._connect()
                while True:  # one connection; a restarted modem is initialised again on it
                    try:
                        Initialiser(self, channel).run()
                        self.initialisations += 1
                        delay = self.options.reconnect_min_s
                        if failing:
                            log.info("Modem %s is back (%s)", self.url, self._status.state)
                            failing = ""
                        self._session(channel)
                    except ModemRestarted as exc:
                        self._restarted(channel, exc)
            except ReconnectNow as exc:
                log.info("Reconnecting %s: %s", self.url, exc)
                immediate, error = True, str(exc)
            except (Reconnect, ModemError) as exc:
                error = str(exc)
                if not self._stop.is_set():
                    # One warning per outage, not one per attempt ("cannot open" every
                    # second); what changes during it goes to the info log.
                    same = _problem(error) == _problem(failing)
                    level = logging.DEBUG if same else logging.INFO if failing else logging.WARNING
                    log.log(level, "Modem %s: %s; reconnecting", self.url, exc)
                    failing = error
            except Exception as exc:  # noqa: BLE001 - the supervisor must keep going
                log.exception("Modem %s: unexpected error", self.url)
                error = f"internal error: {exc}"
            finally:
                if self._status.ready:  # before the close, which can take a moment
                    self.set_status(
                        state=ModemState.DISCONNECTED, last_error=error or "reconnecting"
                    )
                self._ready.clear()
                self._close_channel()
            if self._stop.is_set():
                break
            status = self._status
            if (
                status.state in (ModemState.PIN_REQUIRED, ModemState.PUK_REQUIRED, ModemState.ERROR)
                and status.last_error
            ):
                self.set_status(state=status.state)  # keep the SIM problem on show
            else:
                self.set_status(state=ModemState.DISCONNECTED, last_error=error)
            wait = 0.0 if immediate else delay
            if not immediate:
                delay = min(delay * 2, self.options.reconnect_max_s)
            self._backoff(wait)

    def _restarted(self, channel: AtChannel, exc: ModemRestarted) -> None:
        """The firmware restarted (or the SIM changed): no sending until it has booted;
        the rest of that boot's lines are part of this one restart."""
        self.boot.restarts += 1
        # The firmware forgot its settings (AT+CNMI, AT+CMMS...): this connection's
        # facts go; the next initialisation finds them again.
        self.connection = None
        log.warning(
            "Modem %s: %s; initialising it again once it has booted%s",
            self.url,
            exc,
            " (frequent restarts: check its power supply and USB cable)"
            if self.boot.restarts % 3 == 0
            else "",
        )
        self.set_status(state=ModemState.CONNECTING, last_error=f"{exc}; waiting for it to boot")
        while exc.booting and (left := self.boot.settle_left()) > 0:
            try:
                self.next_event(left, channel)
            except ModemRestarted as again:
                exc = again  # restarted again while booting: still one recovery to do
                log.debug("Modem %s: %s", self.url, again)

    def _backoff(self, seconds: float) -> None:
        """Sleep before reconnecting; a reconnect request or a PIN cuts it short."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                kind, _payload = self._events.get(timeout=left)
            except queue.Empty:
                return
            if kind in ("stop", "reconnect", "pin"):
                return

    def _resolve(self) -> str:
        """The port to open: ``port_url``, an ``imei:<digits>`` lookup, or the URL."""
        if self.port_url is not None:
            return self.port_url
        if self.url.lower().startswith("imei:"):
            imei = self.url[5:].strip()
            found = find_by_imei(imei, ports=self.options.candidate_ports)
            if found is None:
                raise ModemUnavailable(f"no modem with IMEI {imei} found", name="port missing")
            self.set_extra(device=found)
            return found
        return self.url

    def _connect(self) -> AtChannel:
        self.set_status(state=ModemState.CONNECTING)
        url = self._resolve()
        log.info("Opening modem port %s", url)
        try:
            port = open_port(url, baudrate=self.options.baudrate)
        except Exception as exc:  # noqa: BLE001 - SerialException, OSError, ValueError
            raise ModemUnavailable(describe_open_error(url, exc), name="port missing") from exc
        channel = AtChannel(
            port,
            name=self.url,
            default_timeout=self.options.command_timeout_s,
            on_urc=lambda urc: self._urc(channel, urc),
            on_lost=lambda exc: self._lost(channel, exc),
        )
        self.connects += 1
        self.boot.expect()  # a port that just came back: its boot's lines may trail
        channel.start()
        self._channel = channel
        if self._stop.is_set():
            channel.close()
        return channel

    def _urc(self, channel: AtChannel, urc: Urc) -> None:
        """On the reader thread: a boot line is noted at once, for a send in flight
        (the supervisor may be waiting for the channel's lock); a first boot line
        (RDY) after the initialisation is always a restart, so the sender stops now
        rather than send into the boot (SMS commands refused) until the supervisor
        gets to it."""
        rank = boot_rank(urc.line)
        if rank is not None:
            self._boot_line_at = time.monotonic()
            state = self.connection
            initialised = state is not None and state.initialised
            if rank == 0 and initialised and channel is self._channel and self._status.ready:
                self.set_status(
                    state=ModemState.CONNECTING, last_error=f"modem restarted (saw {urc.line})"
                )
        waiter = self._ussd
        if urc.name == "+CUSD" and waiter is not None and channel is self._channel:
            waiter.offer(urc.line)  # straight to the request waiting for it
            return
        self._events.put(("urc", (channel, urc)))

    def _lost(self, channel: AtChannel, exc: Exception) -> None:
        """On the reader thread: not ready at once, so the sender stops claiming."""
        if channel is self._channel and not self._stop.is_set():
            self.set_status(state=ModemState.DISCONNECTED, last_error="connection lost")
            waiter = self._ussd
            if waiter is not None:
                waiter.abort(f"port lost while waiting for the USSD answer: {exc}")
        self._events.put(("lost", channel))

    def _close_channel(self) -> None:
        channel, self._channel = self._channel, None
        self.connection = None
        if channel is not None:
            channel.close()

    def next_event(self, timeout: float, channel: AtChannel) -> tuple[str, Any] | None:
        """The next supervisor event for ``channel`` (stale ones dropped), or None.

        Raises Reconnect/ReconnectNow for loss/reconnect requests; URCs are handled here.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self._stop.is_set():
                raise Reconnect("stopping")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                kind, payload = self._events.get(timeout=left)
            except queue.Empty:
                return None
            if kind == "stop":
                raise Reconnect("stopping")
            if kind == "reconnect":
                raise ReconnectNow("reconnect requested")
            if kind == "lost":
                if payload is channel:
                    raise Reconnect("connection lost")
                continue
            if kind == "urc":
                urc_channel, urc = payload
                if urc_channel is channel:
                    UrcHandler(self, channel).handle(urc)
                continue
            if kind == "check":
                # A modem that answers AT but never +CMGS is as stuck as a silent one.
                state = self.connection
                sends = state.send_timeouts if state is not None else 0
                worst = max(channel.consecutive_timeouts, sends)
                if payload is channel and worst >= self.options.max_timeouts:
                    if state is not None:
                        state.send_timeouts = 0
                    raise Reconnect(f"modem stopped answering ({worst} timeouts in a row)")
                continue
            return kind, payload

    def _session(self, channel: AtChannel) -> None:
        """Poll and handle events until something requires a reconnect (raised)."""
        self.incoming_swept.clear()
        UrcHandler(self, channel).sweep_at_connect()
        self.incoming_swept.set()
        started = time.monotonic()
        next_poll = started + (
            self.options.poll_interval_s
            if self._ready.is_set()
            else min(1.0, self.options.poll_interval_s / 5)
        )
        while True:
            now = time.monotonic()
            if now >= next_poll:
                recent = now - self._last_send_end < 2.0
                if self._send_lock.locked() or recent:
                    next_poll = now + 1.0  # never poll between back-to-back sends
                else:
                    self._poll(channel)
                    searching = not self._ready.is_set()
                    fast = searching and now - started < self.options.register_timeout_s
                    next_poll = time.monotonic() + (
                        min(1.0, self.options.poll_interval_s / 5)
                        if fast
                        else self.options.poll_interval_s
                    )
            event = self.next_event(max(0.0, next_poll - time.monotonic()), channel)
            if event is not None:
                kind, _ = event
                if kind == "pin":
                    self.pin.entered = None  # not kept for the next time the SIM asks
                    log.info("PIN entered but the SIM is already unlocked; ignored")
                elif kind == "poll":
                    next_poll = min(next_poll, time.monotonic())

    def _poll(self, channel: AtChannel) -> None:
        try:
            with channel.lock:
                Initialiser(self, channel).poll()
                UrcHandler(self, channel).sweep_at_poll()
        except ConnectionLost as exc:
            raise Reconnect("connection lost") from exc
        except ModemError as exc:
            log.info("Status poll failed: %s", exc.name)
            if channel.consecutive_timeouts >= self.options.max_timeouts:
                raise Reconnect("modem stopped answering") from exc


def _problem(error: str) -> str:
    """An error without its numbers (timeouts, counts), to tell repeats apart."""
    return "".join(ch for ch in error if not ch.isdigit())


def _call(callback: Callable[[Any], None] | None, value: Any, failure: str) -> bool:
    """Run a callback; False (logged) when there is none or it raises."""
    if callback is None:
        return False
    try:
        callback(value)
    except Exception:  # noqa: BLE001 - a callback must not break the modem
        log.exception(failure)
        return False
    return True
