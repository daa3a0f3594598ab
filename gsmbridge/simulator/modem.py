"""The simulated modem's AT command handlers (the transport lives in server.py).

``SimulatedModem`` is fed the bytes a client writes and answers through a writer
callback, like a real modem would over its serial line: echo, V.250 framing,
PDU-mode AT+CMGS with a ``> `` prompt, status reports (reports.py), and the faults
the tests need (PIN, late registration, CMS errors, dropped connections, garbage,
URC spam, reboots).  State survives a client reconnecting, as on a real modem.
"""

from __future__ import annotations

import collections
import functools
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from gsmbridge.modem import pdu
from gsmbridge.modem.errors import CME_ERRORS, CMS_ERRORS
from gsmbridge.simulator import memory as sim_memory
from gsmbridge.simulator import reports as sim_reports
from gsmbridge.simulator import ussd as sim_ussd
from gsmbridge.simulator.state import Outbox, Scheduler, SimulatorOptions

log = logging.getLogger("gsmbridge.simulator")


# Boot lines after a reset, in the order the firmware prints them, at fractions of
# boot_trail_s after the port is back (SIM800 and EC2x manuals; see modem-notes).
BOOT_LINES = {
    "simcom": (
        ("RDY", 0.05),
        ("+CFUN: 1", 0.18),
        ("+CPIN: READY", 0.27),
        ("Call Ready", 0.64),
        ("SMS Ready", 1.0),
    ),
    "quectel": (
        ("RDY", 0.04),
        ("+CFUN: 1", 0.125),
        ("+CPIN: READY", 0.21),
        ("+QUSIM: 1", 0.25),
        ("+QIND: SMS DONE", 0.83),
        ("+QIND: PB DONE", 1.0),
    ),
}
_SMS_READY_LINES = frozenset({"SMS Ready", "+QIND: SMS DONE"})
# Refused ("operation not allowed") until the boot's SMS-ready line, as SIM800 does.
_SMS_COMMANDS = frozenset(
    {"+CMGF", "+CMGS", "+CNMI", "+CSMS", "+CPMS", "+CMGR", "+CMGL", "+CMGD", "+CNMA", "+CSCA"}
)


@dataclass
class _Settings:
    """What AT&F / a reboot resets."""

    echo: bool = True
    cmee: int = 0
    cmgf: int = 1  # text mode until the client asks for PDU mode
    cnmi: tuple[int, ...] = (0, 0, 0, 0, 0)
    csms: int = 0
    cmms: int = 0
    creg_n: int = 0
    cscs: str = "GSM"


@dataclass
class _Sim:
    state: str = "READY"  # READY | SIM PIN | SIM PUK
    pin_tries_left: int = 3
    busy_left: int = 0
    unlocked_at: float = field(default_factory=time.monotonic)


class SimulatedModem:
    """The protocol state machine; thread-safe ``feed()`` plus a scheduler for URCs."""

    def __init__(self, options: SimulatorOptions, stop: threading.Event) -> None:
        self.options = options
        self._stop = stop
        self._rng = random.Random(options.seed)
        self._lock = threading.RLock()  # state
        self._out_lock = threading.Lock()  # whole chunks on the wire
        self._writer: Callable[[bytes], None] | None = None
        self._closer: Callable[[], None] | None = None
        self._line = bytearray()
        self._pdu: bytearray | None = None  # collecting after the prompt
        self._pdu_length = 0
        self._mr = 0
        self._sends = 0
        self._ok_sends = 0
        self._reports = 0
        self._messages = 0  # complete messages accepted (for reply_every)
        self.outbox = Outbox()
        # Stored SMS and reports survive reboots, as on a SIM; AT+CPMS selects one.
        self.memories = {m: sim_memory.MessageMemory() for m in ("SM", "ME", "SR")}
        self.report_memory = self.memories["SR"]
        self.mem1 = "SM"
        self.commands: collections.deque[str] = collections.deque(maxlen=20000)
        self.pin_attempts: list[str] = []
        # USSD requests as typed and answers as sent, with their time.monotonic().
        self.ussd_requests: list[tuple[str, float]] = []
        self.ussd_answered: list[tuple[str, float]] = []
        self.boots = 0
        # A reboot's port loss: the transport refuses clients until the port is back.
        self.down = False
        self.sms_ready = True
        self.on_port_down: Callable[[], None] | None = None
        self.on_port_back: Callable[[], None] | None = None
        self.held_reports: list[Callable[[], None]] = []  # due while the modem was down
        self._scheduler = Scheduler(stop, lambda: bool(self._line) or self._pdu is not None)
        self.schedule = self._scheduler.schedule
        self._power_on()
        if options.urc_spam > 0:
            self.schedule(options.urc_spam, self._spam)

    # -- connection ----------------------------------------------------------------------
    def attach(self, writer: Callable[[bytes], None], closer: Callable[[], None] | None) -> None:
        with self._lock:
            self._writer, self._closer = writer, closer
            self._line.clear()
            self._pdu = None

    def detach(self, writer: Callable[[bytes], None]) -> None:
        with self._lock:
            if self._writer is writer:
                self._writer = self._closer = None

    def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is not None and not self.down:
            with self._out_lock:
                writer(data)

    def _lines(self, *lines: str) -> None:
        self._write(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in lines))

    # -- power ---------------------------------------------------------------------------
    def _power_on(self) -> None:
        self.settings = _Settings(echo=self.options.echo)
        self.sim = _Sim(state="SIM PIN" if self.options.pin else "READY")
        self._registered_stat = 0
        if self.sim.state == "READY":
            self._start_registration()

    def _start_registration(self) -> None:
        self.sim.unlocked_at = time.monotonic()
        if self.options.register_delay_s <= 0:
            # No search to simulate: registered at once.  Left to the scheduler, the
            # first AT+CMGS could find the modem still searching (CMS 331) whenever
            # its thread is slow to run, as under load.
            self._registered_stat = self.options.registration
            if self.settings.creg_n > 0:
                stat = self._registered_stat
                self.schedule(0.0, lambda: self._lines(f"+CREG: {stat}"))
            return
        self._registered_stat = 2
        self.schedule(self.options.register_delay_s, self._registration_done)

    def _registration_done(self) -> None:
        with self._lock:
            if self.sim.state != "READY":
                return
            self._registered_stat = self.options.registration
            if self.settings.creg_n > 0:
                self._lines(f"+CREG: {self._registered_stat}")

    def _reboot(self) -> None:
        """Settings lost at once; the port goes away, comes back, then the boot lines."""
        with self._lock:
            self.boots += 1
            boot = self.boots
            log.info("Simulated modem: rebooting")
            self._pdu = None
            self._line.clear()
            self._power_on()
            self.sms_ready = False
            self.down = self.options.reboot_downtime_s > 0
        if self.down and self.on_port_down is not None:
            self.on_port_down()
        self.schedule(self.options.reboot_downtime_s, lambda: self._port_back(boot))

    def _port_back(self, boot: int) -> None:
        with self._lock:
            if boot != self.boots or self._stop.is_set():
                return  # a later reboot took over
            was_down = self.down
            held, self.held_reports = self.held_reports, []
        if was_down and self.on_port_back is not None:
            self.on_port_back()  # the device is back; its firmware answers from RDY on
        trail = self.options.boot_trail_s
        lines: tuple[tuple[str, float], ...] = BOOT_LINES.get(
            self.options.boot_style, BOOT_LINES["simcom"]
        )
        if self.sim.state != "READY":
            lines = (*lines[:2], ("+CPIN: SIM PIN", lines[2][1]))
        for line, at in lines:
            self.schedule(trail * at, functools.partial(self._boot_line, boot, line))
        # Reports the network could not hand over while the modem was down come
        # again, spread over the boot: some before the host set AT+CNMI, some during.
        for n, report in enumerate(held):
            self.schedule(trail * (0.2 + 0.8 * (n + 1) / (len(held) + 1)), report)

    def _boot_line(self, boot: int, line: str) -> None:
        with self._lock:
            if boot != self.boots:
                return
            self.down = False
            if line in _SMS_READY_LINES or line.startswith("+CPIN: SIM"):
                self.sms_ready = True
        self._lines(line)

    def _spam(self) -> None:
        rssi = self._rng.randint(10, 25)
        line = self._rng.choice(
            [
                f"^RSSI:{rssi}",
                "^MODE:5,4",
                "^BOOT:20952,0,0,0,72",
                "^DSFLOWRPT:0000001E,00000000,00000000,0000000000000000",
                "^SRVST:2",
            ]
        )
        self._lines(line)
        if not self._stop.is_set():
            self.schedule(self.options.urc_spam, self._spam)

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.down:
            return  # rebooting: nobody reads the line
        echo = bytearray()  # echoed in chunks, flushed before any answer
        for byte in data:
            if self._stop.is_set():
                return
            if self._pdu is not None:
                if byte in (0x1A, 0x1B):
                    self._flush(echo)
                    self._end_pdu(byte)
                elif byte not in (0x0D, 0x0A) and len(self._pdu) < 2048:
                    if self.settings.echo:
                        echo.append(byte)
                    self._pdu.append(byte)
                continue
            if self.settings.echo:
                echo.append(byte)
            if byte == 0x0D:
                self._flush(echo)
                line = self._line.decode("ascii", "replace").strip()
                self._line.clear()
                if line:
                    self._command_line(line)
            elif byte == 0x1B:
                self._line.clear()  # ESC cancels a half-typed line
            elif byte not in (0x0A, 0x00) and len(self._line) < 1024:
                self._line.append(byte)
        self._flush(echo)

    def _flush(self, echo: bytearray) -> None:
        if echo:
            self._write(bytes(echo))
            echo.clear()

    def _end_pdu(self, byte: int) -> None:
        assert self._pdu is not None
        hex_text = self._pdu.decode("ascii", "replace")
        self._pdu = None
        if byte == 0x1B:
            self._lines("OK")  # Quectel acknowledges the abort; most modems say nothing
        else:
            self._submit(hex_text)

    def _command_line(self, line: str) -> None:
        self.commands.append(line)
        if not line.upper().startswith("AT"):
            return  # real modems skip anything until "AT"
        with self._lock:
            reply = self._dispatch(line[2:])
        if reply is not None:
            self._respond(*reply)
            return
        # AT+CMGS accepted: think a little, then prompt (the state lock is not held).
        self._stop.wait(self.options.prompt_delay_s)
        if self.options.garbage and self._rng.random() < self.options.garbage:
            self._lines('+ZPASR: "UMTS"')  # ZTE sends URCs before the prompt
        self._pdu = bytearray()
        self._write(b"\r\n> ")

    def _respond(self, *lines: str) -> None:
        chance = self.options.garbage
        if chance and self._rng.random() < chance:
            pos = self._rng.randrange(len(lines))
            urc = self._rng.choice(['+ZPASR: "UMTS"', "^RSSI:17", "+CREG: 1"])
            lines = (*lines[:pos], urc, *lines[pos:])
        self._lines(*lines)
        if chance and self._rng.random() < chance:
            self._write(self._junk())

    def _junk(self) -> bytes:
        choice = self._rng.randrange(4)
        if choice == 0:
            return bytes(self._rng.randrange(128, 256) for _ in range(6)) + b"\r\n"
        if choice == 1:
            return b'\r\n+ZDONR: "METEOR",272,3,"CS_ONLY","ROAM_OFF"\r\n'
        if choice == 2:
            return b"\r\n\x00\xff junk line\r\n"
        return b"\r\n^RSSI:18\r\n"

    def _error(self, kind: str, code: int) -> str:
        if self.settings.cmee == 0:
            return "ERROR"
        if self.settings.cmee == 2:
            table = CMS_ERRORS if kind == "cms" else CME_ERRORS
            return f"+{kind.upper()} ERROR: {table.get(code, ('unknown error', True))[0]}"
        return f"+{kind.upper()} ERROR: {code}"

    # -- commands ------------------------------------------------------------------------
    def _dispatch(self, body: str) -> tuple[str, ...] | None:
        upper = body.upper()
        if upper in ("", "Z", "&F"):
            if upper:
                self.settings = _Settings(echo=self.options.echo)
            return ("OK",)
        if re.fullmatch(r"E[01]?", upper):
            self.settings.echo = upper == "E1"
            return ("OK",)
        match = re.fullmatch(r"([+^][A-Z]+)(\?|=\?|=(.*))?", body, re.IGNORECASE)
        if not match:
            return ("ERROR",)
        name, suffix, arg = match.group(1).upper(), match.group(2) or "", match.group(3)
        handler = _HANDLERS.get(name)
        if handler is None:
            return ("ERROR",)
        if not self.sms_ready and name in _SMS_COMMANDS:
            return (self._error("cms", 302),)  # still booting: "operation not allowed"
        if self.sim.busy_left > 0 and name not in ("+CPIN", "+CMEE"):
            self.sim.busy_left -= 1
            return (self._error("cme", 14),)
        if self.sim.state != "READY" and name not in _WITHOUT_SIM:
            return (self._error("cme", 11 if self.sim.state == "SIM PIN" else 12),)
        return handler(self, suffix, arg)

    def _cmee(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        if suffix == "?":
            return (f"+CMEE: {self.settings.cmee}", "OK")
        if arg is not None and arg.strip() in ("0", "1", "2"):
            self.settings.cmee = int(arg)
            return ("OK",)
        return ("ERROR",)

    def _cpin(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        if suffix == "?":
            return (f"+CPIN: {self.sim.state}", "OK")
        if arg is None:
            return ("ERROR",)
        values = [v.strip().strip('"') for v in arg.split(",")]
        self.pin_attempts.append(values[0])
        if self.sim.state == "READY":
            return (self._error("cme", 3),)
        if self.sim.state == "SIM PUK":
            if values[0] == self.options.puk and len(values) > 1:
                self.options.pin = values[1]
                return self._unlocked()
            return (self._error("cme", 16),)
        if values[0] == self.options.pin:
            return self._unlocked()
        self.sim.pin_tries_left -= 1
        if self.sim.pin_tries_left <= 0:
            self.sim.state = "SIM PUK"
        return (self._error("cme", 16),)

    def _pin_tries(self, style: str, answer: str) -> tuple[str, ...]:
        """One of the ways modems say the PIN tries left; ERROR from the others."""
        if self.options.pin_tries_style != style:
            return ("ERROR",)
        puk = 10  # the simulator never counts PUK tries
        return (answer.format(pin=self.sim.pin_tries_left, puk=puk), "OK")

    def _cpinr(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        return self._pin_tries("3gpp", "+CPINR: SIM PIN,{pin},3")

    def _qpinc(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        return self._pin_tries("quectel", '+QPINC: "SC",{pin},{puk}')

    def _spic(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        return self._pin_tries("simcom", "+SPIC: {pin},{puk},3,10")

    def _huawei_cpin(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        # ^CPIN: <code>,[<times>],<puk times>,<pin times>,<puk2 times>,<pin2 times>
        return self._pin_tries("huawei", "^CPIN: " + self.sim.state + ",,{puk},{pin},10,3")

    def _zpinpuk(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        return self._pin_tries("zte", "+ZPINPUK: {pin},{puk}")

    def _unlocked(self) -> tuple[str, ...]:
        self.sim.state = "READY"
        self.sim.pin_tries_left = 3
        self.sim.busy_left = self.options.sim_busy_after_pin
        self._start_registration()
        self.schedule(0.01, lambda: self._lines("+CPIN: READY"))
        return ("OK",)

    def _registration(self, suffix: str, arg: str | None, name: str = "+CREG") -> tuple[str, ...]:
        if suffix == "?":
            return (f"{name}: {self.settings.creg_n},{self._registered_stat}", "OK")
        if suffix == "=?":
            return (f"{name}: (0-2)", "OK")
        if arg is not None and arg.strip() in ("0", "1", "2"):
            if name == "+CREG":
                self.settings.creg_n = int(arg)
            return ("OK",)
        return ("ERROR",)

    def _cgreg(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        return self._registration(suffix, arg, "+CGREG")

    def _csca(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        if suffix == "?":
            if not self.options.smsc:
                return (self._error("cms", 330),)
            return (f'+CSCA: "{self.options.smsc}",145', "OK")
        if arg:
            self.options.smsc = arg.split(",")[0].strip().strip('"')
            return ("OK",)
        return ("ERROR",)

    def _cops(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        if self._registered_stat in (1, 5):
            return (f'+COPS: 0,0,"{self.options.operator}",7', "OK")
        return ("+COPS: 0", "OK")

    def _csq(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        rssi = 99 if self._registered_stat not in (1, 5) else 18 + self._rng.randint(-2, 2)
        return (f"+CSQ: {rssi},99", "OK")

    def _cfun(self, suffix: str, arg: str | None) -> tuple[str, ...]:
        if suffix == "?":
            return ("+CFUN: 1", "OK")
        if arg is not None and arg.replace(" ", "") == "1,1":
            self.schedule(0.05, self._reboot)
        return ("OK",)

    # -- sending -------------------------------------------------------------------------
    def _cmgs(self, suffix: str, arg: str | None) -> tuple[str, ...] | None:
        if suffix == "=?":
            return ("OK",)
        if self.settings.cmgf != 0:
            return (self._error("cms", 302),)  # text mode is not simulated
        if arg is None or not arg.strip().isdigit() or not 7 <= int(arg) <= 176:
            return (self._error("cms", 304),)
        if self._registered_stat not in (1, 5):
            return (self._error("cms", 331),)
        self._pdu_length = int(arg)
        return None  # _command_line writes the prompt

    def _submit(self, hex_text: str) -> None:
        self._sends += 1
        n = self._sends
        opts = self.options
        if opts.drop_every and n % opts.drop_every == 0:
            log.info("Simulated modem: dropping the connection during send #%d", n)
            closer = self._closer
            if closer is not None:
                closer()
            return  # pty: no closer, so the modem just goes silent
        hex_text = hex_text.strip().replace(" ", "")
        try:
            if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", hex_text):
                raise pdu.PduError("not hex")
            raw = bytes.fromhex(hex_text)
            if len(raw) - 1 - raw[0] != self._pdu_length:
                raise pdu.PduError(f"length {len(raw) - 1 - raw[0]} != {self._pdu_length}")
            decoded = pdu.decode_submit(hex_text, with_sca=True)
        except pdu.PduError as exc:
            log.info("Simulated modem: rejecting PDU: %s", exc)
            self._respond(self._error("cms", 304))
            return
        self._stop.wait(opts.send_latency_s)
        if opts.cms_error_every and n % opts.cms_error_every == 0:
            self._respond(self._error("cms", opts.cms_error_code))
            return
        with self._lock:
            mr = self._mr
            self._mr = (self._mr + 1) & 0xFF
            self.outbox.record(decoded, mr)
            self._ok_sends += 1
            reboot = opts.reboot_after and self._ok_sends % opts.reboot_after == 0
            last_part = decoded.concat is None or decoded.concat[2] == decoded.concat[1]
            self._messages += last_part
            reply = last_part and opts.reply_every and self._messages % opts.reply_every == 0
            report = (
                opts.status_reports
                and decoded.status_report_requested
                and self.settings.cnmi[3] in (1, 2)
            )
        self._respond(f"+CMGS: {mr}", "OK")
        if report:
            self.schedule(opts.report_delay_s, lambda: sim_reports.report(self, mr, decoded.number))
        if reply:

            def answer() -> None:
                sim_memory.receive(self, decoded.number, opts.reply_text)

            self.schedule(opts.report_delay_s + 0.5, answer)
        if reboot:
            # At once, not through the scheduler, which holds timers while the client
            # types: back-to-back sends would put a reset off until the next pause.
            self._stop.wait(0.02)
            self._reboot()


Handler = Callable[[SimulatedModem, str, "str | None"], "tuple[str, ...] | None"]


def _setting(attr: str, allowed: tuple[int, ...], label: str) -> Handler:
    def handler(self: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
        if suffix == "?":
            return (f"{label}: {getattr(self.settings, attr)}", "OK")
        if suffix == "=?":
            return (f"{label}: ({','.join(map(str, allowed))})", "OK")
        if arg is not None and arg.strip().isdigit() and int(arg) in allowed:
            setattr(self.settings, attr, int(arg))
            return ("OK",)
        return (self._error("cms", 303),)

    return handler


def _info(option: str) -> Handler:
    def handler(self: SimulatedModem, suffix: str, arg: str | None) -> tuple[str, ...]:
        return (getattr(self.options, option), "OK") if suffix in ("", "?") else ("OK",)

    return handler


# Commands a locked SIM does not block.
_WITHOUT_SIM = frozenset(
    {
        "+CPIN",
        "+CMEE",
        "+CGMI",
        "+CGMM",
        "+CGMR",
        "+CGSN",
        "+CFUN",
        "+CREG",
        "+CGREG",
        "+CSQ",
        "+GMI",
        "+GMM",
        "+CSCS",
        "+CMGF",
        "+CPINR",
        "+QPINC",
        "+SPIC",
        "^CPIN",
        "+ZPINPUK",
        "+CCID",  # the ICCID is readable before the PIN, as on most modems
    }
)

_HANDLERS: dict[str, Handler] = {
    "+CMEE": SimulatedModem._cmee,
    "+CPIN": SimulatedModem._cpin,
    "+CPINR": SimulatedModem._cpinr,
    "+QPINC": SimulatedModem._qpinc,
    "+SPIC": SimulatedModem._spic,
    "^CPIN": SimulatedModem._huawei_cpin,
    "+ZPINPUK": SimulatedModem._zpinpuk,
    "+CREG": SimulatedModem._registration,
    "+CGREG": SimulatedModem._cgreg,
    "+CMGF": _setting("cmgf", (0, 1), "+CMGF"),
    "+CMMS": _setting("cmms", (0, 1, 2), "+CMMS"),
    "+CSCA": SimulatedModem._csca,
    "+CGMI": _info("manufacturer"),
    "+CGMM": _info("model"),
    "+CGMR": _info("revision"),
    "+CGSN": _info("imei"),
    "+CIMI": _info("imsi"),
    "+CCID": _info("iccid"),
    "+COPS": SimulatedModem._cops,
    "+CSQ": SimulatedModem._csq,
    "+CFUN": SimulatedModem._cfun,
    "+CMGS": SimulatedModem._cmgs,
    **sim_reports.HANDLERS,
    **sim_memory.HANDLERS,
    **sim_ussd.HANDLERS,
}
