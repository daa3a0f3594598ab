"""The AT command channel: one reader thread owns the port.

The reader frames lines, drops the modem's echo, routes unsolicited result codes
(URCs) to a callback and hands everything else to the one command in flight.
Commands are serialised by a lock; each has its own timeout.  Nothing here
waits without a deadline, and a vanished port fails the pending command at once.

Resynchronisation after a timeout (the hard part of AT parsing): a timed-out
command may still answer later, and that late ``OK`` must not be taken as the
next command's answer.  AT has no transaction ids, so after any timeout the
channel is marked *dirty* and the next command first resyncs:

1. if a ``>`` prompt may be open (CMGS timed out, or a stray ``>`` was seen),
   write ESC to abort it without sending anything;
2. drain: discard input until no answer line has come for 0.15 s (max 1.5 s;
   URCs do not count, or Huawei's ^RSSI spam would keep the line "busy");
3. send a plain ``AT`` and wait for its ``OK``;
4. watch for another 0.1 s of quiet: a second final result means the ``OK`` we
   took was the late answer and ours is the stray one, and a late ``>`` means the
   modem now waits for PDU text; either way go back to step 1.

Lines that arrive while no command is in flight are never attributed to a later
command (the reader only routes to the command registered before its write).
A late answer slower than the drain window can still slip through; the 120 s
CMGS answer is the main risk, and a CMGS timeout is reported as
``maybe_sent`` so the caller can decide.

Which line is a final result, a URC or noise is decided in :mod:`.at_lines`.
"""

from __future__ import annotations

import collections
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from gsmbridge.modem.at_lines import (
    REG_PREFIXES,
    TWO_LINE_URC,
    URC_PREFIXES,
    URC_WORDS,
    Urc,
    clean_line,
    is_final,
    is_hex,
    is_urc,
    looks_like_registration_urc,
    urc_name,
)
from gsmbridge.modem.errors import ConnectionLost, ModemError, parse_error, timeout_error
from gsmbridge.modem.ports import close_port

__all__ = [
    "CTRL_Z",
    "ESC",
    "URC_PREFIXES",
    "URC_WORDS",
    "AtChannel",
    "Urc",
    "is_final",
    "is_urc",
    "urc_name",
]

log = logging.getLogger("gsmbridge.modem.at")

CTRL_Z = b"\x1a"
ESC = b"\x1b"
_COMMAND = re.compile(r"^AT[\x20-\x7e]{0,250}$", re.IGNORECASE)
_EXPECT = re.compile(r"^AT([+^$%*#][A-Z0-9]+)")
_MAX_LINE = 4096


@dataclass
class _Pending:
    cmd: str
    expect: str | None
    want_prompt: bool
    events: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    done: bool = False


class AtChannel:
    """AT commands over an open pyserial port; see the module docstring."""

    def __init__(
        self,
        port: serial.SerialBase,
        *,
        on_urc: Callable[[Urc], None] | None = None,
        on_lost: Callable[[Exception], None] | None = None,
        name: str = "",
        default_timeout: float = 5.0,
    ) -> None:
        self._port = port
        self._on_urc = on_urc
        self._on_lost = on_lost
        self.name = name or getattr(port, "port", "") or "modem"
        self.default_timeout = default_timeout
        self.lock = threading.RLock()  # held for a whole exchange (or several)
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._lost_event = threading.Event()
        self._lost_exc: Exception | None = None
        self._pending: _Pending | None = None
        self._buf = b""
        self._two_line: str | None = None
        self._recent: collections.deque[str] = collections.deque(maxlen=4)
        # Time of the last line that was not a URC: "quiet" for the resync drain means no
        # answers in flight; Huawei's URC spam every few ms must not keep it busy.
        self._last_rx = time.monotonic()
        self._stray_finals = 0
        self._dirty = False
        self._prompt_open = False  # a '>' may be waiting for input
        self.consecutive_timeouts = 0
        self.noise_lines = 0  # undecodable lines seen (a baud-rate mismatch, line noise)
        self._reader = threading.Thread(
            target=self._read_loop, name=f"at-reader {self.name}", daemon=True
        )

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        self._reader.start()

    def close(self) -> None:
        """Stop the reader, fail any pending command and close the port.  Idempotent."""
        self._stop.set()
        self._fail_pending(ConnectionLost("channel closed", name="closed"))
        if self._reader.is_alive() and threading.current_thread() is not self._reader:
            self._reader.join(timeout=2.0)
        try:
            close_port(self._port)
        except Exception:  # noqa: BLE001 - closing a dead port may raise anything
            log.debug("%s: error closing port", self.name, exc_info=True)

    @property
    def alive(self) -> bool:
        return not self._stop.is_set() and not self._lost_event.is_set()

    def mark_dirty(self, prompt_open: bool = False) -> None:
        """Force a resync before the next command (e.g. at startup)."""
        self._dirty = True
        self._prompt_open = self._prompt_open or prompt_open

    # -- commands ------------------------------------------------------------------------
    def command(
        self,
        cmd: str,
        *,
        timeout: float | None = None,
        ok_optional_after: str | None = None,
        grace: float = 0.5,
    ) -> list[str]:
        """Run one AT command and return its information lines (without echo or OK).

        Raises ModemError for ERROR/+CME/+CMS answers, a timeout error, or
        ConnectionLost.  ``ok_optional_after``: once a line with this prefix has
        arrived, wait only ``grace`` seconds for the final result (Wavecom sends
        no OK after ``+CPIN:``).
        """
        if not _COMMAND.match(cmd):
            raise ValueError(f"not an AT command: {cmd!r}")
        timeout = timeout if timeout is not None else self.default_timeout
        with self.lock:
            self._ensure_sync(min(1.0, timeout))
            return self._exchange(cmd, timeout, ok_optional_after=ok_optional_after, grace=grace)

    def send_pdu(
        self,
        tpdu_length: int,
        pdu_hex: str,
        *,
        prompt_timeout: float,
        timeout: float,
        after_prompt_delay: float = 0.0,
    ) -> int:
        """``AT+CMGS=<len>``, wait for ``>``, write the hex PDU + Ctrl-Z; return TP-MR."""
        if not (1 <= tpdu_length <= 255) or not is_hex(pdu_hex) or len(pdu_hex) % 2:
            raise ValueError("invalid PDU or length")
        cmd = f"AT+CMGS={tpdu_length}"
        with self.lock:
            self._ensure_sync()
            pending = self._begin(cmd, want_prompt=True)
            self._write((cmd + "\r").encode("ascii"))
            lines: list[str] = []
            kind, text = self._wait(pending, prompt_timeout, lines)
            if kind == "timeout":
                self._end(pending)
                self._note_timeout()
                self._abort_prompt()
                raise timeout_error("no '>' prompt after AT+CMGS")
            if kind == "final":
                self._end(pending)
                self._raise_final(text)
                raise ModemError(
                    f"'{text}' instead of the '>' prompt",
                    kind="protocol",
                    name="no prompt",
                    transient=True,
                )
            pending.want_prompt = False
            if after_prompt_delay > 0:
                time.sleep(after_prompt_delay)
            self._recent.append(pdu_hex.upper())
            try:
                self._write(pdu_hex.upper().encode("ascii") + CTRL_Z)
                kind, text = self._wait(pending, timeout, lines)
            except ConnectionLost as exc:
                exc.maybe_sent = True
                raise
            finally:
                self._end(pending)
            if kind == "timeout":
                self._note_timeout()
                raise timeout_error("no +CMGS answer (the SMS may have been sent)", maybe_sent=True)
            self.consecutive_timeouts = 0
            self._raise_final(text)
            for line in lines:
                match = re.match(r"^\+CMGS:\s*(\d+)", line, re.IGNORECASE)
                if match:
                    return int(match.group(1)) & 0xFF
            raise ModemError(
                "OK without +CMGS: <mr>",
                kind="protocol",
                name="no +CMGS answer",
                transient=True,
                maybe_sent=True,
            )

    def escape(self) -> None:
        """Write ESC+CR: leaves a stuck '>' prompt or half-typed command without sending."""
        with self.lock:
            self._write(ESC + b"\r")
            self._prompt_open = False
            self._dirty = True

    # -- internals: command side ---------------------------------------------------------
    def _begin(self, cmd: str, *, want_prompt: bool = False) -> _Pending:
        match = _EXPECT.match(cmd.upper())
        pending = _Pending(
            cmd=cmd.upper(), expect=match.group(1) + ":" if match else None, want_prompt=want_prompt
        )
        if self._lost_event.is_set() or self._stop.is_set():
            raise ConnectionLost(f"port lost: {self._lost_exc or 'closed'}", name="port lost")
        self._recent.append(pending.cmd)
        self._pending = pending
        log.debug(
            "%s <- %s", self.name, cmd if not cmd.upper().startswith("AT+CPIN=") else "AT+CPIN=****"
        )
        return pending

    def _end(self, pending: _Pending) -> None:
        pending.done = True
        if self._pending is pending:
            self._pending = None

    def _wait(
        self,
        pending: _Pending,
        timeout: float,
        lines: list[str],
        ok_optional_after: str | None = None,
        grace: float = 0.5,
    ) -> tuple[str, str]:
        """Collect info lines until a final result, the prompt, loss or the deadline."""
        deadline = time.monotonic() + timeout
        optional_seen = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ("optional" if optional_seen else "timeout"), ""
            try:
                kind, text = pending.events.get(timeout=remaining)
            except queue.Empty:
                continue
            if kind == "info":
                lines.append(text)
                if ok_optional_after and text.upper().startswith(ok_optional_after):
                    optional_seen = True
                    deadline = min(deadline, time.monotonic() + grace)
            elif kind == "closed":
                raise ConnectionLost(f"port lost: {text}", name="port lost")
            elif kind == "final" or pending.want_prompt:
                return kind, text
            # else: a repeated prompt after we typed the PDU; ignore it

    def _exchange(
        self, cmd: str, timeout: float, *, ok_optional_after: str | None = None, grace: float = 0.5
    ) -> list[str]:
        pending = self._begin(cmd)
        self._write((cmd + "\r").encode("ascii"))
        lines: list[str] = []
        try:
            kind, text = self._wait(pending, timeout, lines, ok_optional_after, grace)
        finally:
            self._end(pending)
        if kind == "optional":
            self._dirty = True  # in case the final result does come, late
            return lines
        if kind == "timeout":
            self._note_timeout()
            raise timeout_error(cmd)
        self.consecutive_timeouts = 0
        self._raise_final(text)
        return lines

    @staticmethod
    def _raise_final(text: str) -> None:
        err = parse_error(text)
        if err is not None:
            raise err

    def _note_timeout(self) -> None:
        self.consecutive_timeouts += 1
        self._dirty = True
        log.info("%s: command timed out (%d in a row)", self.name, self.consecutive_timeouts)

    def _abort_prompt(self) -> None:
        # The prompt may still come; ESC makes the modem drop the message unsent.
        try:
            self._write(ESC)
        except ModemError:
            self._prompt_open = True  # try again before the next command

    def _ensure_sync(self, at_timeout: float = 1.0) -> None:
        if not self._dirty and not self._prompt_open:
            return
        for _attempt in range(3):
            if self._prompt_open:  # (again, if a late '>' turned up during the last try)
                self._write(ESC)
                self._prompt_open = False
            self._drain(quiet=0.15, limit=1.5)
            strays = self._stray_finals
            try:
                self._exchange("AT", at_timeout)
            except ConnectionLost:
                raise
            except ModemError as exc:
                if exc.kind == "timeout":
                    continue
                # ERROR to a plain AT is still an answer: the line is in sync.
            self._drain(quiet=0.1, limit=0.5)
            if self._stray_finals == strays and not self._prompt_open:
                self._dirty = False
                log.debug("%s: resynchronised", self.name)
                return
        raise timeout_error("modem does not answer AT (could not resynchronise)")

    def _drain(self, *, quiet: float, limit: float) -> None:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            idle = time.monotonic() - self._last_rx
            if idle >= quiet:
                return
            if self._lost_event.wait(min(quiet - idle, end - time.monotonic())):
                raise ConnectionLost(f"port lost: {self._lost_exc}", name="port lost")

    def _write(self, data: bytes) -> None:
        if self._lost_event.is_set() or self._stop.is_set():
            raise ConnectionLost(f"port lost: {self._lost_exc or 'closed'}", name="port lost")
        try:
            with self._write_lock:
                self._port.write(data)
        except serial.SerialTimeoutException as exc:
            self._dirty = True
            raise ModemError(
                f"write timeout: {exc}", kind="io", name="write timeout", transient=True
            ) from exc
        except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
            # TypeError/AttributeError: pyserial's fd/socket went to None under us;
            # ValueError: its select() on a socket the reader closed meanwhile (fd -1).
            self._lost(exc)
            raise ConnectionLost(f"port lost: {exc}", name="port lost") from exc

    # -- internals: reader side ----------------------------------------------------------
    def _read_loop(self) -> None:
        port = self._port
        while not self._stop.is_set():
            try:
                data = port.read(port.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError, ValueError) as exc:
                if not self._stop.is_set():
                    self._lost(exc)
                return
            if data:
                try:
                    self._feed(data)
                except Exception:  # noqa: BLE001 - the reader must survive any line
                    log.exception("%s: error handling input %r", self.name, data[:80])

    def _lost(self, exc: Exception) -> None:
        if self._lost_event.is_set():
            return
        self._lost_exc = exc
        self._lost_event.set()
        log.info("%s: port lost: %s", self.name, exc)
        self._fail_pending(ConnectionLost(f"port lost: {exc}", name="port lost"))
        if self._on_lost is not None and not self._stop.is_set():
            try:
                self._on_lost(exc)
            except Exception:  # noqa: BLE001
                log.exception("%s: on_lost callback failed", self.name)

    def _fail_pending(self, exc: Exception) -> None:
        pending = self._pending
        if pending is not None and not pending.done:
            pending.events.put(("closed", str(exc)))

    def _feed(self, data: bytes) -> None:
        self._buf += data
        *lines, self._buf = re.split(rb"[\r\n]", self._buf)
        for raw in lines:
            line = clean_line(raw)
            if line:
                self._handle_line(line)
        if len(self._buf) > _MAX_LINE:
            log.debug("%s: dropping %d bytes without line end", self.name, len(self._buf))
            self._buf = b""
        # The prompt has no line end: "\r\n> " (27.005), "\r\n>" or a bare ">".
        partial = clean_line(self._buf)
        if partial.startswith(">"):
            pending = self._pending
            if pending is not None and pending.want_prompt and not pending.done:
                self._buf = b""
                pending.events.put(("prompt", ""))
            elif partial == ">":
                self._buf = b""
                self._prompt_open = True
                self._dirty = True
                log.debug("%s: stray '>' prompt", self.name)

    def _handle_line(self, line: str) -> None:
        if self._two_line is not None:
            head, self._two_line = self._two_line, None
            if is_hex(line):
                self._deliver_urc(Urc(head, urc_name(head), line))
                return
            self._deliver_urc(Urc(head, urc_name(head)))
        if not is_urc(line):
            self._last_rx = time.monotonic()
        if "\ufffd" in line:
            # Undecodable bytes: line noise (or a baud-rate mismatch), never an answer.
            log.debug("%s: dropping noise %r", self.name, line[:80])
            self.noise_lines += 1
            return
        pending = self._pending
        active = pending is not None and not pending.done
        upper = line.upper()
        if active and pending is not None:
            if upper in self._recent:
                return  # echo (possibly doubled, or of the PDU we typed)
            if pending.want_prompt and line.startswith(">"):
                pending.events.put(("prompt", ""))
                return
            if is_final(line):
                pending.done = True  # anything after this belongs to nobody
                if self._pending is pending:
                    self._pending = None
                pending.events.put(("final", line))
                return
            if (
                pending.expect
                and upper.startswith(pending.expect)
                and not (pending.expect in REG_PREFIXES and looks_like_registration_urc(line))
            ):
                pending.events.put(("info", line))
                return
        if is_urc(line):
            if TWO_LINE_URC.match(line):
                self._two_line = line
                return
            self._deliver_urc(Urc(line, urc_name(line)))
            return
        if active and pending is not None:
            pending.events.put(("info", line))
            return
        if is_final(line):
            self._stray_finals += 1
        if upper.startswith("+CMGS:"):
            log.warning("%s: late %s after a timeout: that SMS was sent", self.name, line)
        elif upper not in self._recent:
            log.debug("%s: stray line %r", self.name, line[:80])

    def _deliver_urc(self, urc: Urc) -> None:
        log.debug("%s: URC %s", self.name, urc.line[:80])
        if self._on_urc is not None:
            try:
                self._on_urc(urc)
            except Exception:  # noqa: BLE001 - a listener must not kill the reader
                log.exception("%s: URC handler failed", self.name)
