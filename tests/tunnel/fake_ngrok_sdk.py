"""A stand-in for the ngrok SDK behind ``TunnelManager(ngrok=...)`` (no network here).

It raises what the real package raises (``ValueError(context, message[, code])``),
hands out listeners whose end, heartbeats and dashboard stop a test drives, and
records every call, so the manager's real code paths run against it.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from gsmbridge.tunnel.ngrok_sdk import SessionEvent

# The shapes ngrok-python 1.4.0 raises (py_err / py_ngrok_err in its src/lib.rs).
NO_NETWORK = ValueError("failed to connect session", "failed to establish tcp connection")
TLS_INTERCEPTED = ValueError("failed to connect session", "tls handshake error")
BAD_AUTHTOKEN = ValueError(
    "failed to connect session",
    "authentication failed: The authtoken you specified does not look like a proper ngrok "
    "tunnel authtoken.\nYour authtoken: 2abcdefghijklmnopqrstuvwxyz_0123456789ABCDEF\n"
    "Instructions to install your authtoken are on your ngrok dashboard:\n"
    "https://dashboard.ngrok.com/get-started/your-authtoken",
    "ERR_NGROK_105",
)
SESSION_LIMIT = ValueError(
    "failed to connect session",
    "authentication failed: Your account is limited to 1 simultaneous ngrok agent sessions.\n"
    "You can run multiple simultaneous tunnels from a single agent session by defining the "
    "tunnels in your agent configuration file and starting them with the command "
    "`ngrok start --all`.",
    "ERR_NGROK_108",
)
DOMAIN_NOT_RESERVED = ValueError(
    "failed to start listener",
    "failed to start tunnel: You must reserve a custom hostname for your account before it "
    "can be used to create endpoints.\n\nReserve this name on your dashboard: "
    "https://dashboard.ngrok.com/domains/new",
    "ERR_NGROK_319",
)
DOMAIN_TAKEN = ValueError(
    "failed to start listener",
    "failed to start tunnel: The domain 'sms.example.com' is reserved for another account.",
    "ERR_NGROK_320",
)


@dataclass
class Call:
    addr: str
    authtoken: str
    domain: str


class FakeListener:
    def __init__(self, url: str, on_event: Callable[[SessionEvent], None]) -> None:
        self._url = url
        self._on_event = on_event
        self._ended = threading.Event()
        self._reason = ""
        self.closed = threading.Event()

    # -- what the manager calls ----------------------------------------------------------

    def url(self) -> str:
        return self._url

    def wait(self, timeout: float) -> str | None:
        return self._reason if self._ended.wait(timeout) else None

    def close(self) -> None:
        self.closed.set()
        self._reason = self._reason or "closed"
        self._ended.set()

    # -- what a test does ------------------------------------------------------------------

    def end(self, reason: str) -> None:
        """Forwarding ended (``Listener.join()`` returned or raised)."""
        self._reason = reason
        self._ended.set()

    def heartbeat(self) -> None:
        self._on_event(SessionEvent("heartbeat"))

    def stop_from_dashboard(self) -> None:
        self._on_event(SessionEvent("stop", "stopped from the ngrok dashboard"))


@dataclass
class FakeNgrokSdk:
    """``script`` says what each ``forward()`` does, in order (the last one repeats):
    an exception to raise, or a URL for a listener.  ``hold`` makes ``forward()``
    block until it is set (a network that does not answer)."""

    script: list[BaseException | str] = field(default_factory=lambda: ["https://fake.ngrok.app"])
    version: str = "0.0-fake"
    calls: list[Call] = field(default_factory=list)
    listeners: list[FakeListener] = field(default_factory=list)
    hold: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    _count: itertools.count = field(default_factory=itertools.count)

    def forward(
        self,
        addr: str,
        *,
        authtoken: str,
        domain: str = "",
        on_event: Callable[[SessionEvent], None],
    ) -> FakeListener:
        self.calls.append(Call(addr, authtoken, domain))
        self.entered.set()
        if self.hold is not None:
            self.hold.wait(30)
        n = next(self._count)
        what = self.script[min(n, len(self.script) - 1)]
        if isinstance(what, BaseException):
            raise what
        listener = FakeListener(what.replace("{n}", str(n)), on_event)
        self.listeners.append(listener)
        return listener
