"""Modem test fixtures: a scripted peer and the simulator, both over real pyserial paths."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from gsmbridge.core.events import Listener
from gsmbridge.modem.at import AtChannel, Urc
from gsmbridge.modem.gsm import Modem, ModemOptions
from gsmbridge.modem.ports import open_port
from gsmbridge.modem.status import ModemStatus
from gsmbridge.simulator import ModemSimulator, fast_options

TRANSPORTS = ["tcp", "pty"] if sys.platform != "win32" else ["tcp"]


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


class ScriptedPeer:
    """A fake modem on a TCP socket that answers commands from a script.

    ``script`` maps a command (as typed, without CR) to the bytes to answer, or is a
    callable ``(command) -> bytes | None``.  After a ``>`` prompt the peer collects
    the PDU up to Ctrl-Z and looks up ``"PDU"`` in the script.  ``send()`` writes
    raw bytes at any time; ``received`` is everything the client wrote.
    """

    def __init__(
        self, script: dict[str, bytes] | Callable[[str], bytes | None], echo: bool = False
    ) -> None:
        self.script = script
        self.echo = echo
        self.received = bytearray()
        self.commands: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.1)
        self.url = f"socket://127.0.0.1:{self._server.getsockname()[1]}"
        self._conn: socket.socket | None = None
        self.in_pdu = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def answer(self, command: str) -> bytes | None:
        if callable(self.script):
            return self.script(command)
        return self.script.get(command, b"\r\nERROR\r\n")

    def send(self, data: bytes) -> None:
        assert wait_until(lambda: self._conn is not None, 2)
        assert self._conn is not None
        self._conn.sendall(data)

    def close_client(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.close_client()
        self._server.close()
        self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(0.1)
            self._conn = conn
            self._serve(conn)

    def prompt_later(self, delay: float) -> None:
        """Show a '>' prompt after ``delay`` s (a slow modem); input is then PDU text."""

        def show() -> None:
            self.in_pdu = True
            self.send(b"\r\n> ")

        threading.Timer(delay, show).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        self.in_pdu = False
        while not self._stop.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            self.received += data
            buf += data
            while True:
                end = b"\x1a" if self.in_pdu else b"\r"
                if self.in_pdu and b"\x1b" in buf:
                    buf = buf[buf.index(b"\x1b") + 1 :]  # ESC: leave the prompt, send nothing
                    self.in_pdu = False
                    continue
                if end not in buf:
                    break
                token, buf = buf.split(end, 1)
                text = token.decode("ascii", "replace").strip("\r\n\x1b")
                in_pdu, self.in_pdu = self.in_pdu, False
                if self.echo and not in_pdu:
                    conn.sendall(token + b"\r")
                key = "PDU" if in_pdu else text
                if not key:
                    continue
                self.commands.append("PDU:" + text if in_pdu else key)
                reply = self.answer(key)
                if reply:
                    if reply.rstrip(b"\r\n ").endswith(b">"):
                        self.in_pdu = True
                    with contextlib.suppress(OSError):
                        conn.sendall(reply)


@pytest.fixture
def peer_factory() -> Iterator[Callable[..., ScriptedPeer]]:
    peers: list[ScriptedPeer] = []

    def make(script, echo: bool = False) -> ScriptedPeer:
        peer = ScriptedPeer(script, echo)
        peers.append(peer)
        return peer

    yield make
    for peer in peers:
        peer.stop()


@pytest.fixture
def channel_factory() -> Iterator[Callable[..., tuple[AtChannel, list[Urc]]]]:
    channels: list[AtChannel] = []

    def make(url: str) -> tuple[AtChannel, list[Urc]]:
        urcs: list[Urc] = []
        channel = AtChannel(open_port(url), on_urc=urcs.append, name=url)
        channel.start()
        channels.append(channel)
        return channel, urcs

    yield make
    for channel in channels:
        channel.close()


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., ModemSimulator]]:
    sims: list[ModemSimulator] = []

    def make(transport: str = "tcp", **options: object) -> ModemSimulator:
        sim = ModemSimulator(fast_options(**options))
        if transport == "pty":
            sim.serve_pty()
        else:
            sim.serve_tcp()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        sim.stop()


class RecordingListener(Listener):
    def __init__(self) -> None:
        self.statuses: list[ModemStatus] = []
        self.lock = threading.Lock()

    def modem_status_changed(self, status: ModemStatus) -> None:
        with self.lock:
            self.statuses.append(status)

    def states(self) -> list[str]:
        with self.lock:
            return [s.state for s in self.statuses]


def fast_modem_options(**overrides: object) -> ModemOptions:
    values: dict[str, object] = dict(
        command_timeout_s=1.0,
        prompt_timeout_s=1.0,
        send_timeout_s=2.0,
        register_timeout_s=5.0,
        poll_interval_s=5.0,
        reconnect_min_s=0.05,
        reconnect_max_s=0.2,
    )
    values.update(overrides)
    return ModemOptions(**values)  # type: ignore[arg-type]


@pytest.fixture
def modem_factory() -> Iterator[Callable[..., Modem]]:
    modems: list[Modem] = []

    def make(
        url: str,
        *,
        listener: Listener | None = None,
        on_status_report=None,
        on_incoming=None,
        **options: object,
    ) -> Modem:
        modem = Modem(
            url,
            fast_modem_options(**options),
            listener=listener,
            on_status_report=on_status_report,
            on_incoming=on_incoming,
        )
        modems.append(modem)
        modem.start()
        return modem

    yield make
    for modem in modems:
        modem.stop()


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs over socket:// and over a pty (where there are ptys)."""
    return str(request.param)


def ready_modem(
    sim_factory: Callable[..., ModemSimulator],
    modem_factory: Callable[..., Modem],
    transport: str = "tcp",
    sim_options: dict[str, object] | None = None,
    **options: object,
) -> tuple[ModemSimulator, Modem]:
    """A simulator and a Modem on it, ready (the modem tests' usual start)."""
    sim = sim_factory(transport, **(sim_options or {}))
    modem = modem_factory(sim.url, **options)
    assert modem.wait_ready(5), modem.status
    return sim, modem
