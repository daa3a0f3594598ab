"""Serial ports: open by URL, list what is plugged in, probe for modems.

Ports are opened only with ``serial.serial_for_url()`` so device names
(``/dev/ttyUSB2``, ``COM7``) and URLs (``socket://``, ``rfc2217://``,
``loop://``, ``spy://`` for a traffic dump) all work the same way.

Probing runs in a worker thread with a hard deadline: opening some ports
blocks (Windows Bluetooth COM ports, a socket:// host that never answers), and
a probe must never hang the caller.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass

import serial
import serial.tools.list_ports

log = logging.getLogger("gsmbridge.modem.ports")

_URL = re.compile(r"^[a-z][a-z0-9+]*://", re.IGNORECASE)


@dataclass(frozen=True)
class PortInfo:
    device: str
    vid: int | None = None
    pid: int | None = None
    manufacturer: str = ""
    product: str = ""
    description: str = ""
    serial_number: str = ""
    hwid: str = ""

    @property
    def vid_pid(self) -> str:
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid else ""

    @property
    def label(self) -> str:
        """What tells this port from its siblings: on Windows pyserial fills only
        ``description`` ("Quectel USB AT Port (COM5)" vs "... NMEA Port"), not ``product``."""
        detail = self.description if self.description != self.device else ""
        detail = detail or self.product
        if self.manufacturer and self.manufacturer.lower() not in detail.lower():
            detail = f"{self.manufacturer} {detail}".strip()
        return detail

    @property
    def is_bluetooth(self) -> bool:
        """A Bluetooth serial port: opening one may block for seconds and page a phone."""
        text = f"{self.description} {self.hwid} {self.product}".lower()
        return "bluetooth" in text or "bthenum" in text


_NUMBER = re.compile(r"(\d+)")


def device_sort_key(device: str) -> tuple[tuple[int, str, int], ...]:
    """Natural, case-insensitive order: COM2 before COM10, ttyUSB2 before ttyUSB10."""
    parts = _NUMBER.split(device.lower())
    return tuple((1, "", int(p)) if p.isdigit() else (0, p, 0) for p in parts if p)


def same_device(a: str, b: str) -> bool:
    """Do two names mean one port?  Windows device names ignore case (com3 is COM3)."""
    if a == b:
        return True
    return a.lower() == b.lower() and (sys.platform == "win32" or a.upper().startswith("COM"))


@dataclass(frozen=True)
class ProbeResult:
    url: str
    answers: bool
    manufacturer: str = ""
    model: str = ""
    imei: str = ""
    error: str = ""


def list_ports() -> list[PortInfo]:
    """Serial ports the OS knows about, sorted by device name."""
    infos = []
    for port in serial.tools.list_ports.comports():
        infos.append(
            PortInfo(
                device=port.device,
                vid=port.vid,
                pid=port.pid,
                manufacturer=port.manufacturer or "",
                product=port.product or "",
                description=port.description if port.description not in (None, "n/a") else "",
                serial_number=port.serial_number or "",
                hwid=port.hwid if port.hwid not in (None, "n/a") else "",
            )
        )
    return sorted(infos, key=lambda p: device_sort_key(p.device))


def open_port(
    url: str, *, baudrate: int = 115200, read_timeout: float = 0.05, write_timeout: float = 5.0
) -> serial.SerialBase:
    """Open ``url`` for an AtChannel: short read timeout (the reader polls its stop flag),
    bounded writes, and an exclusive lock on local devices so two programs cannot
    fight over one modem."""
    kwargs: dict[str, object] = dict(
        baudrate=baudrate, timeout=read_timeout, write_timeout=write_timeout
    )
    if not _URL.match(url):
        kwargs["exclusive"] = True
    port = serial.serial_for_url(url, **kwargs)
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket):
        # pyserial's socket:// does not disable Nagle; small AT lines would wait for ACKs.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return port


def close_port(port: serial.SerialBase) -> None:
    """Close ``port``; for socket:// skip pyserial's fixed 0.3 s sleep in close().

    (pyserial 3.5 sleeps "to give the server time" on every socket close, which
    would slow every reconnect and shutdown.)
    """
    sock = getattr(port, "_socket", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
        port._socket = None  # type: ignore[attr-defined]
        port.is_open = False
        return
    port.close()


def _probe_now(url: str, baudrate: int, deadline: float) -> ProbeResult:
    from gsmbridge.modem.at import AtChannel
    from gsmbridge.modem.errors import ModemError
    from gsmbridge.modem.parsing import parse_digits, parse_identity

    port = open_port(url, baudrate=baudrate, write_timeout=1.0)
    channel = AtChannel(port, name=url)
    channel.start()
    try:

        def left() -> float:
            return max(0.05, deadline - time.monotonic())

        channel.escape()
        try:
            channel.command("AT", timeout=left())
        except ModemError as exc:
            if exc.kind == "timeout":
                return ProbeResult(url, False, error="no answer to AT")
            # ERROR to AT is still an answer from something AT-speaking
        result = {"manufacturer": "", "model": "", "imei": ""}
        for key, cmd in (("imei", "AT+CGSN"), ("model", "AT+CGMM"), ("manufacturer", "AT+CGMI")):
            if deadline - time.monotonic() < 0.1:
                break
            try:
                lines = channel.command(cmd, timeout=left())
            except ModemError:
                continue
            result[key] = (
                parse_digits(lines, cmd, 14, 17) if key == "imei" else parse_identity(lines, cmd)
            )
        return ProbeResult(url, True, **result)
    finally:
        channel.close()


def probe(url: str, timeout: float = 1.5, *, baudrate: int = 115200) -> ProbeResult:
    """Does ``url`` answer ``AT``?  If so, its IMEI, model and manufacturer (best effort).

    Returns within ``timeout`` (+ a little) whatever the port does.
    """
    box: list[ProbeResult] = []
    deadline = time.monotonic() + timeout

    def work() -> None:
        try:
            box.append(_probe_now(url, baudrate, deadline))
        except (serial.SerialException, OSError, ValueError) as exc:
            box.append(ProbeResult(url, False, error=str(exc)))
        except Exception as exc:  # noqa: BLE001 - a probe reports, never raises
            log.debug("probe %s failed", url, exc_info=True)
            box.append(ProbeResult(url, False, error=str(exc)))

    worker = threading.Thread(target=work, name=f"probe {url}", daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    if box:
        return box[0]
    return ProbeResult(url, False, error="timed out")


def probe_all(urls: list[str], timeout: float = 1.5) -> list[ProbeResult]:
    """Probe several ports in parallel; results in the order given."""
    if not urls:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return list(pool.map(lambda u: probe(u, timeout), urls))


def find_by_imei(imei: str, *, ports: list[str] | None = None, timeout: float = 1.5) -> str | None:
    """The port whose modem reports ``imei`` (a pinned modem found again after the OS
    renamed its port), or None."""
    if ports is None:
        # Probing a Bluetooth COM port can block and page a paired phone; no modem there.
        listed = list_ports()
        skipped = [p.device for p in listed if p.is_bluetooth]
        if skipped:
            log.debug("IMEI search skips Bluetooth ports %s", ", ".join(skipped))
        candidates = [p.device for p in listed if not p.is_bluetooth]
    else:
        candidates = ports
    for result in probe_all(candidates, timeout):
        if result.answers and result.imei == imei:
            return result.url
    return None
