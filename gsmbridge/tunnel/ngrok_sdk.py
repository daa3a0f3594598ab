"""ngrok in-process, through its official Python SDK (the ``ngrok`` package).

The agent is a native module inside our own process: no program to install, no
child that could outlive gsmbridge, no local API on port 4040.  The manager
talks to it through the small ``NgrokSdk`` protocol so tests can put a
stand-in behind it (there is no network in CI); ``load()`` gives the real one,
or None when the package cannot be imported on this platform (the manager
then falls back to the ``ngrok`` executable).

What the SDK does on its own: it reconnects a lost session by itself and
re-binds the listener; every heartbeat answer (about every 10 s) means the
session is alive.  When forwarding ends for good (the listener closed, a
reconnect gave up), ``Listener.join()`` returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from gsmbridge import __version__

log = logging.getLogger("gsmbridge.tunnel")

CLOSE_TIMEOUT_S = 5.0
T = TypeVar("T")


class NgrokSdkError(Exception):
    """An error the SDK raised, as ``message`` (one line) and ``code`` ("105", or "")."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.message, self.code = message, code


@dataclass(frozen=True)
class SessionEvent:
    """What the SDK told us while the listener runs."""

    kind: str  # "heartbeat" (the session is alive), "stop" (stopped from the dashboard)
    detail: str = ""


class NgrokListenerHandle(Protocol):
    def url(self) -> str: ...

    def wait(self, timeout: float) -> str | None:
        """Why forwarding ended, or None while it still runs after ``timeout`` s."""
        ...

    def close(self) -> None:
        """Close the listener and the session; bounded, never raises."""
        ...


class NgrokSdk(Protocol):
    version: str

    def forward(
        self,
        addr: str,
        *,
        authtoken: str,
        domain: str = "",
        on_event: Callable[[SessionEvent], None],
    ) -> NgrokListenerHandle:
        """Open a session and an https listener forwarding to ``addr`` (host:port).

        Raises ``NgrokSdkError``.
        """
        ...


# -- turning the SDK's errors into one line ---------------------------------------------

_CODE = re.compile(r"ERR_NGROK_(\d+)")


def sdk_error(exc: BaseException) -> NgrokSdkError:
    """The SDK raises ``ValueError(context, message[, "ERR_NGROK_105"])``."""
    parts = [str(a).strip() for a in getattr(exc, "args", ()) if str(a).strip()]
    code = ""
    for part in reversed(parts):
        if match := _CODE.search(part):
            code = match.group(1)
            break
    text = ": ".join(p for p in parts if not re.fullmatch(r"ERR_NGROK_\d+", p)) or repr(exc)
    # ngrok's messages span lines (headline, links, the code): the first line says it.
    lines = [line.strip() for line in text.replace("\r", "").split("\n") if line.strip()]
    headline = next((line for line in lines if not line.startswith(("ERR_NGROK_", "http"))), "")
    return NgrokSdkError(headline or text, code)


# -- the authtoken ------------------------------------------------------------------------


def config_paths() -> list[Path]:
    """Where ``ngrok config add-authtoken`` writes (ngrok v3's default locations)."""
    home = Path.home()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return [Path(local) / "ngrok" / "ngrok.yml", home / ".ngrok2" / "ngrok.yml"]
    if sys.platform == "darwin":
        return [home / "Library" / "Application Support" / "ngrok" / "ngrok.yml"]
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    return [Path(xdg) / "ngrok" / "ngrok.yml", home / ".ngrok2" / "ngrok.yml"]


_AUTHTOKEN_LINE = re.compile(r"""^\s*authtoken:\s*["']?([A-Za-z0-9_\-.~]+)["']?\s*$""", re.M)


def find_authtoken(configured: str, paths: list[Path] | None = None) -> str:
    """tunnel.token, else NGROK_AUTHTOKEN, else the ngrok agent's own config file.

    The SDK reads no config file; reading the agent's keeps working what
    ``ngrok config add-authtoken`` set up for the executable.
    """
    if configured.strip():
        return configured.strip()
    env = os.environ.get("NGROK_AUTHTOKEN", "").strip()
    if env:
        return env
    for path in config_paths() if paths is None else paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if match := _AUTHTOKEN_LINE.search(text):
            return match.group(1)
    return ""


# -- opening without blocking the supervisor ---------------------------------------------


class BackgroundForward:
    """``sdk.forward()`` in its own thread: opening a session can hang on a dead network.

    The supervisor waits for ``done`` in short slices (so stop() and restart() stay
    prompt) and ``abandon()``s it when it gives up; a listener that arrives after
    that is closed at once, never left running.
    """

    def __init__(
        self,
        sdk: NgrokSdk,
        addr: str,
        *,
        authtoken: str,
        domain: str,
        on_event: Callable[[SessionEvent], None],
    ) -> None:
        self.done = threading.Event()
        self.handle: NgrokListenerHandle | None = None
        self.error: NgrokSdkError | None = None
        self._lock = threading.Lock()
        self._abandoned = False
        self._thread = threading.Thread(
            target=self._run,
            args=(sdk, addr, authtoken, domain, on_event),
            name="ngrok-forward",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self,
        sdk: NgrokSdk,
        addr: str,
        authtoken: str,
        domain: str,
        on_event: Callable[[SessionEvent], None],
    ) -> None:
        handle: NgrokListenerHandle | None = None
        error: NgrokSdkError | None = None
        try:
            handle = sdk.forward(addr, authtoken=authtoken, domain=domain, on_event=on_event)
        except NgrokSdkError as exc:
            error = exc
        except Exception as exc:  # noqa: BLE001 - a stand-in or a new SDK may raise anything
            error = sdk_error(exc)
        with self._lock:
            self.handle, self.error = handle, error
            abandoned = self._abandoned
            self.done.set()
        if abandoned and handle is not None:
            handle.close()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            handle, self.handle = self.handle, None
        if handle is not None:
            handle.close()


# -- the real SDK -------------------------------------------------------------------------


def _run(make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
    """Await one of the SDK's awaitables from a plain thread (its own short event loop).

    The awaitable is made inside the loop (the SDK binds it to the running loop).
    The session and the forwarding run on the SDK's own native runtime, so they
    keep running after this loop ends (``ngrok.forward`` itself works this way).
    """

    async def wrapped() -> T:
        return await asyncio.wait_for(make(), timeout) if timeout else await make()

    coroutine: Coroutine[object, object, T] = wrapped()
    return asyncio.run(coroutine)


class _RealListener:
    def __init__(self, session: object, listener: object) -> None:
        self._session, self._listener = session, listener
        self._ended = threading.Event()
        self._reason = ""
        self._closing = False
        self._url = str(listener.url() or "")  # type: ignore[attr-defined]
        threading.Thread(target=self._join, name="ngrok-join", daemon=True).start()

    def _join(self) -> None:
        try:
            _run(lambda: self._listener.join())  # type: ignore[attr-defined]
            reason = "the ngrok listener ended"
        except Exception as exc:  # noqa: BLE001 - whatever ended it is the reason
            error = sdk_error(exc)
            reason = error.message + (f" [ERR_NGROK_{error.code}]" if error.code else "")
        self._reason = "closed" if self._closing else reason
        self._ended.set()

    def url(self) -> str:
        return self._url

    def wait(self, timeout: float) -> str | None:
        return self._reason if self._ended.wait(timeout) else None

    def close(self) -> None:
        self._closing = True
        for what, awaitable in (
            ("listener", lambda: self._listener.close()),  # type: ignore[attr-defined]
            ("session", lambda: self._session.close()),  # type: ignore[attr-defined]
        ):
            try:
                _run(awaitable, CLOSE_TIMEOUT_S)
            except Exception as exc:  # noqa: BLE001 - closing is best effort
                log.debug("closing the ngrok %s: %s", what, exc)


class RealNgrok:
    """The ``ngrok`` package; imported only when ``load()`` is called."""

    def __init__(self, module: object) -> None:
        self._ngrok = module
        self.version = _package_version()

    def forward(
        self,
        addr: str,
        *,
        authtoken: str,
        domain: str = "",
        on_event: Callable[[SessionEvent], None],
    ) -> NgrokListenerHandle:
        ngrok = self._ngrok

        def event(kind: str, detail: str = "") -> None:
            # Raising here would make the SDK give up reconnecting: never let it.
            try:
                on_event(SessionEvent(kind, detail))
            except Exception:  # noqa: BLE001
                log.exception("ngrok session event handler failed")

        async def start() -> tuple[object, object]:
            builder = ngrok.SessionBuilder()  # type: ignore[attr-defined]
            builder.authtoken(authtoken)
            builder.client_info("gsmbridge", __version__)
            # No handle_disconnection: 1.4.0 can abort the interpreter at exit while that
            # handler is still held (seen here); silence of the heartbeat says the same.
            builder.handle_heartbeat(lambda *_latency: event("heartbeat"))
            builder.handle_stop_command(lambda: event("stop", "stopped from the ngrok dashboard"))
            session = await builder.connect()
            endpoint = session.http_endpoint()
            if domain:
                endpoint.domain(domain)
            listener = await endpoint.listen_and_forward(f"http://{addr}")
            return session, listener

        try:
            session, listener = _run(start)
        except Exception as exc:  # noqa: BLE001 - the SDK raises ValueError, or worse
            raise sdk_error(exc) from exc
        return _RealListener(session, listener)


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("ngrok")
    except Exception:  # noqa: BLE001 - a frozen app may carry no metadata
        return ""


_unavailable = ""


def load() -> NgrokSdk | None:
    """The real SDK, or None when it cannot be imported here (``unavailable()`` says why)."""
    global _unavailable
    try:
        import ngrok
    except Exception as exc:  # noqa: BLE001 - ImportError, or a native module that fails to load
        _unavailable = f"{type(exc).__name__}: {exc}"
        log.info("The ngrok SDK is not available here (%s): using the ngrok program", exc)
        return None
    _unavailable = ""
    return RealNgrok(ngrok)


def unavailable() -> str:
    """Why the last ``load()`` found no SDK ("" when it did)."""
    return _unavailable


def available() -> bool:
    """Whether ngrok runs in-process here (for the wizard and the settings: no program needed)."""
    return load() is not None
