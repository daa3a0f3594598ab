"""The built-in modem simulator, reached through a real pyserial path.

``--modem sim`` and ``gsmbridge simulate-modem`` use it; so do the tests.  The
AT protocol lives in :mod:`gsmbridge.simulator.modem`; this module only moves bytes:

* ``serve_tcp()``: clients open ``socket://127.0.0.1:PORT``.  One client at a
  time; a new connection replaces the old one (a reconnecting client), and the
  simulator keeps listening after ``drop_every`` closes a connection.
* ``serve_pty()`` (POSIX): a pseudo-terminal; clients open the slave path like
  any serial device.  The simulator keeps the slave open itself so the master
  never sees EIO between clients.  A pty cannot be "unplugged", so
  ``drop_every`` makes the modem go silent for that send instead.

A reboot (``reboot_after``) takes the port away for ``reboot_downtime_s``: the TCP
listener closes (clients are refused, as a vanished USB device is) and comes back on
the same port; a pty stays but the modem is silent meanwhile.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import select
import socket
import threading
from collections.abc import Callable

from gsmbridge.simulator import memory as sim_memory
from gsmbridge.simulator.modem import SimulatedModem
from gsmbridge.simulator.state import (
    SimulatedMessage,
    SimulatedPart,
    SimulatorOptions,
    mask_number,
)

__all__ = [
    "ModemSimulator",
    "SimulatedMessage",
    "SimulatedPart",
    "SimulatorOptions",
    "mask_number",
    "fast_options",
]

log = logging.getLogger("gsmbridge.simulator")


def fast_options(**overrides: object) -> SimulatorOptions:
    """Options with every delay near zero, for fast tests."""
    values: dict[str, object] = dict(
        prompt_delay_s=0.0,
        send_latency_s=0.0,
        report_delay_s=0.01,
        reboot_downtime_s=0.0,
        boot_trail_s=0.0,
    )
    values.update(overrides)
    return SimulatorOptions(**values)  # type: ignore[arg-type]


class ModemSimulator:
    """A simulated GSM modem serving one transport; see the module docstring."""

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        *,
        on_message: Callable[[SimulatedMessage], None] | None = None,
    ) -> None:
        self.options = options or SimulatorOptions()
        self._stop = threading.Event()
        self.modem = SimulatedModem(self.options, self._stop)
        self.modem.outbox.on_message = on_message
        self._url = ""
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._client: socket.socket | None = None
        self._client_lock = threading.Lock()
        self._pty_fds: tuple[int, int] | None = None
        self._address: tuple[str, int] = ("127.0.0.1", 0)
        self.connections = 0

    # -- results -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._url

    @property
    def sent(self) -> list[SimulatedMessage]:
        """Complete messages (concatenated parts reassembled), oldest first."""
        return self.modem.outbox.messages

    @property
    def parts(self) -> list[SimulatedPart]:
        """Every accepted part, in arrival order."""
        return self.modem.outbox.parts

    @property
    def pin_attempts(self) -> list[str]:
        return list(self.modem.pin_attempts)

    @property
    def commands(self) -> list[str]:
        return list(self.modem.commands)

    @property
    def on_message(self) -> Callable[[SimulatedMessage], None] | None:
        return self.modem.outbox.on_message

    @on_message.setter
    def on_message(self, callback: Callable[[SimulatedMessage], None] | None) -> None:
        self.modem.outbox.on_message = callback

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> list[SimulatedMessage]:
        return self.modem.outbox.wait_for(count, timeout)

    def receive_sms(self, sender: str, text: str, concat_ref: int = 0) -> list[int]:
        """An SMS from ``sender`` reaches the SIM: stored in "SM" and announced
        (``+CMTI``); returns the memory indexes of its parts."""
        return sim_memory.receive(self.modem, sender, text, concat_ref)

    # -- transports ----------------------------------------------------------------------
    def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        server = self._listen(host, port)
        bound = server.getsockname()[1]
        self._address = (host, bound)
        self._url = f"socket://{host}:{bound}"
        self.modem.on_port_down = self._tcp_port_down
        self.modem.on_port_back = self._tcp_port_back
        log.info("Simulated modem listening on %s", self._url)
        return bound

    def _listen(self, host: str, port: int) -> socket.socket:
        server = socket.create_server((host, port))
        server.settimeout(0.05)
        self._server = server
        self._spawn(functools.partial(self._accept_loop, server), "sim-accept")
        return server

    def _tcp_port_down(self) -> None:
        """The USB device vanished: refuse connections, drop the client."""
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.close()
        self._drop_client()

    def _tcp_port_back(self) -> None:
        for _attempt in range(50):  # the same port again (a device keeps its name)
            if self._stop.is_set():
                return
            try:
                self._listen(*self._address)
                return
            except OSError:
                self._stop.wait(0.1)
        log.error("Simulated modem: could not listen on %s again", self._url)

    def serve_pty(self) -> str:
        import tty  # POSIX only

        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._pty_fds = (master, slave)
        self._url = os.ttyname(slave)
        self.modem.attach(self._pty_writer(master), None)
        self._spawn(lambda: self._pty_loop(master), "sim-pty")
        log.info("Simulated modem on pseudo-terminal %s", self._url)
        return self._url

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            with contextlib.suppress(OSError):
                self._server.close()
        self._drop_client()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        if self._pty_fds is not None:
            for fd in self._pty_fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._pty_fds = None

    def __enter__(self) -> ModemSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def disconnect(self) -> None:
        """Close the current TCP client, as if the USB modem was unplugged."""
        self._drop_client()

    # -- internals -----------------------------------------------------------------------
    def _spawn(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _drop_client(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                client.close()

    def _accept_loop(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, _addr = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._drop_client()  # a reconnecting client replaces the old connection
            with self._client_lock:
                self._client = conn
            self.connections += 1
            self._spawn(functools.partial(self._serve_client, conn), "sim-client")

    def _serve_client(self, conn: socket.socket) -> None:
        def writer(data: bytes) -> None:
            with contextlib.suppress(OSError):
                conn.sendall(data)

        def closer() -> None:
            with self._client_lock:
                if self._client is conn:
                    self._client = None
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

        self.modem.attach(writer, closer)
        conn.settimeout(0.05)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                self.modem.feed(data)
        finally:
            self.modem.detach(writer)
            closer()

    @staticmethod
    def _pty_writer(master: int) -> Callable[[bytes], None]:
        def writer(data: bytes) -> None:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(master, view)
                except BlockingIOError:
                    return  # nobody is reading and the pty buffer is full: drop
                except OSError:
                    return
                view = view[written:]

        return writer

    def _pty_loop(self, master: int) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except (OSError, ValueError):
                if self._stop.wait(0.05):
                    return
                continue
            if data:
                self.modem.feed(data)
