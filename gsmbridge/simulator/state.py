"""The simulator's data: options, what it "sent", and a tiny timer thread.

Kept apart from the AT handlers (modem.py) and the transports (server.py)
so each stays readable.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gsmbridge.modem import pdu
from gsmbridge.modem.masking import mask_number

log = logging.getLogger("gsmbridge.simulator")


@dataclass
class SimulatorOptions:
    """Behaviour and fault injection; the defaults are a healthy, slightly slow modem."""

    pin: str | None = None  # SIM PIN required at power-on
    puk: str = "12345678"
    register_delay_s: float = 0.0  # searching (+CREG stat 2) this long after the SIM unlocks
    registration: int = 1  # final +CREG stat: 1 home, 5 roaming, 3 denied
    echo: bool = True  # echo at power-on (until ATE0)
    status_reports: bool = True  # send +CDS when requested and AT+CNMI ds=1
    reports_stored_only: bool = False  # reject ds=1: store reports, announce +CDSI (ds=2)
    reports_inline_only: bool = False  # reject ds=2, as SIM800L does: +CDS only (ds=1)
    report_delay_s: float = 0.2
    report_fail_every: int = 0  # every Nth report says "incompatible destination" (0x41)
    prompt_delay_s: float = 0.05
    send_latency_s: float = 0.3  # Ctrl-Z -> +CMGS
    cms_error_every: int = 0  # every Nth AT+CMGS fails with cms_error_code
    cms_error_code: int = 500
    drop_every: int = 0  # every Nth AT+CMGS: drop the connection after the PDU (pty: go silent)
    garbage: float = 0.0  # chance per response of stray URCs inside it and junk after it
    urc_spam: float = 0.0  # seconds between Huawei-style ^RSSI/^BOOT/^DSFLOWRPT lines; 0 = off
    sms_memory: str = "SM"  # where received SMS are stored ("SM" or "ME"): AT+CPMS mem3
    reply_every: int = 0  # every Nth message sent is answered by its recipient (+CMTI)
    reply_text: str = "Thanks, got it! (a simulated reply)"
    reboot_after: int = 0  # reboot (RDY, +CFUN: 1, ...; settings reset) after every N sends
    # A reboot as real USB modems do it: the port is gone for reboot_downtime_s (socket:
    # refused; pty: silent), then the boot lines of boot_style trickle in over
    # boot_trail_s; SMS commands answer "operation not allowed" until its last SMS line.
    # Reports due meanwhile arrive spread over the boot (the network tries again).
    reboot_downtime_s: float = 3.0
    boot_trail_s: float = 11.0
    boot_style: str = "simcom"  # "simcom" (... Call Ready, SMS Ready) or "quectel" (+QIND)
    # USSD (AT+CUSD): the answer, its coding (simulator/ussd.py: gsm7, packed, ucs2,
    # none, error, unsupported) and how long the network takes.
    ussd_answer: str = "Your balance is 12.50 EUR, valid until 31.12.2026."
    ussd_coding: str = "gsm7"
    ussd_delay_s: float = 0.3
    sim_busy_after_pin: int = 0  # answer this many commands with +CME ERROR: 14 after unlocking
    # How it says the PIN tries left: "3gpp" (AT+CPINR), the makers' own "quectel"
    # (AT+QPINC), "simcom" (AT+SPIC), "huawei" (AT^CPIN?), "zte" (AT+ZPINPUK), or "none".
    pin_tries_style: str = "3gpp"
    smsc: str = "+31653131313"  # empty -> AT+CSCA? answers +CMS ERROR: 330
    operator: str = "Simulated"
    manufacturer: str = "gsmbridge"
    model: str = "Simulated GSM modem"
    revision: str = "SIM 1.0"
    imei: str = "356938035643809"
    imsi: str = "001010123456789"
    iccid: str = "8900101234567890123"
    seed: int | None = None


@dataclass(frozen=True)
class SimulatedPart:
    number: str
    text: str
    seq: int
    total: int
    concat_ref: int | None
    reference: int  # TP-MR answered in +CMGS
    encoding: str
    status_report_requested: bool
    time: float


@dataclass(frozen=True)
class SimulatedMessage:
    number: str
    text: str  # reassembled from all parts
    parts: int
    references: list[int]
    encoding: str
    time: datetime


class Outbox:
    """Parts as they arrive, and whole messages once all parts are in (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parts: list[SimulatedPart] = []
        self._messages: list[SimulatedMessage] = []
        self._partial: dict[tuple[str, int, int], dict[int, SimulatedPart]] = {}
        self._changed = threading.Condition(self._lock)
        self.on_message: Callable[[SimulatedMessage], None] | None = None

    @property
    def parts(self) -> list[SimulatedPart]:
        with self._lock:
            return list(self._parts)

    @property
    def messages(self) -> list[SimulatedMessage]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float) -> list[SimulatedMessage]:
        """Wait until ``count`` messages are complete (or the timeout); return them all."""
        with self._changed:
            self._changed.wait_for(lambda: len(self._messages) >= count, timeout)
            return list(self._messages)

    def record(self, decoded: pdu.DecodedSubmit, mr: int) -> None:
        ref, total, seq = decoded.concat or (None, 1, 1)
        part = SimulatedPart(
            decoded.number,
            decoded.text,
            seq,
            total,
            ref,
            mr,
            decoded.encoding,
            decoded.status_report_requested,
            time.time(),
        )
        with self._lock:
            self._parts.append(part)
            key = (decoded.number, -1 if ref is None else ref, total)
            bucket = self._partial.setdefault(key, {})
            bucket[seq] = part
            if len(bucket) < total:
                self._changed.notify_all()
                return
            del self._partial[key]
            ordered = [bucket[i] for i in sorted(bucket)]
            message = SimulatedMessage(
                number=decoded.number,
                text="".join(p.text for p in ordered),
                parts=total,
                references=[p.reference for p in ordered],
                encoding=decoded.encoding,
                time=datetime.now(UTC),
            )
            self._messages.append(message)
            self._changed.notify_all()
        preview = message.text if len(message.text) <= 40 else message.text[:40] + "…"
        log.info(
            "Simulated modem: SMS to %s (%d part%s, %s): %s",
            mask_number(message.number),
            total,
            "" if total == 1 else "s",
            message.encoding,
            preview,
        )
        if self.on_message is not None:
            try:
                self.on_message(message)
            except Exception:  # noqa: BLE001 - a test's callback must not break the modem
                log.exception("simulator on_message callback failed")


class Scheduler:
    """Runs callables after a delay on one thread; ``hold()`` defers them (URCs wait
    while the client is typing a command, as on a real modem)."""

    def __init__(self, stop: threading.Event, hold: Callable[[], bool]) -> None:
        self._stop = stop
        self._hold = hold
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._wake = threading.Condition(threading.Lock())
        threading.Thread(target=self._run, name="sim-clock", daemon=True).start()

    def schedule(self, delay: float, func: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._seq), func))
            self._wake.notify()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._wake:
                now = time.monotonic()
                due = self._timers[0][0] if self._timers else now + 0.2
                if due > now:
                    self._wake.wait(min(due - now, 0.05))
                    continue
                _when, _n, func = heapq.heappop(self._timers)
            if self._hold():
                self.schedule(0.01, func)
                continue
            try:
                func()
            except Exception:  # noqa: BLE001 - a failing timer must not stop the clock
                log.exception("simulator timer failed")
