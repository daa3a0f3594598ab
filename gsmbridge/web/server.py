"""waitress in a background thread, with a clean stop.

waitress has no public API to stop an embedded server (waitress issues #343
and #372): ``serve()`` runs until the process ends.  So this builds the
server with ``create_server`` and stops it from inside its own event loop
(a thunk pulled through the server's trigger closes every channel; the loop
ends when its map is empty), then shuts the worker threads down.  Tested
against waitress 3.0; the version is pinned below 4 in pyproject.toml.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask

from gsmbridge.web.app import too_large_message
from gsmbridge.web.refusals import RefusalKind, WebhookWatch, client_of
from gsmbridge.web.webhook import PATH

log = logging.getLogger(__name__)


class ServerError(Exception):
    """The server could not start; the message says why and what to do."""


class ExposureError(ServerError):
    pass


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, auth_enabled: bool, missing: str = "") -> None:
    """Refuse an unauthenticated webhook anywhere but loopback; ``missing`` says why
    the credentials are incomplete (AuthSettings.missing)."""
    if auth_enabled:
        return
    why = f" ({missing})" if missing else ""
    if not is_loopback(host):
        raise ExposureError(
            f"refusing to listen on {host} without credentials{why}: anyone on the network "
            "could queue SMS through your SIM. Set auth.username and a password "
            "(GSMBRIDGE_AUTH_USERNAME / GSMBRIDGE_AUTH_PASSWORD), or listen on 127.0.0.1"
        )
    log.warning(
        "NO CREDENTIALS CONFIGURED%s: the webhook accepts anyone who can reach %s. "
        "Set a username and password (gsmbridge set-password) before exposing it "
        "through a tunnel.",
        why,
        host,
    )


# Windows' codes (winerror) and the POSIX errno values for the same failures.
_IN_USE = {98, 48, 10048}  # EADDRINUSE on Linux, macOS; WSAEADDRINUSE
_ACCESS = {13, 10013}  # EACCES; WSAEACCES
_NO_ADDRESS = {99, 49, 10049}  # EADDRNOTAVAIL; WSAEADDRNOTAVAIL
# SO_EXCLUSIVEADDRUSE is ~SO_REUSEADDR in winsock2.h; CPython only defines it on Windows.
_SO_EXCLUSIVEADDRUSE = -5


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def _socket_map(server: Any) -> dict[int, Any]:
    # A MultiSocketServer has ``map``; a single TcpWSGIServer is a dispatcher with ``_map``.
    found = getattr(server, "map", None)
    return found if isinstance(found, dict) else server._map


def _bind_error(exc: OSError, host: str, port: int) -> ServerError:
    code = getattr(exc, "winerror", None) or exc.errno
    if code in _IN_USE:
        return ServerError(
            f"port {port} on {host} is already in use: another program (or another "
            "gsmbridge) is listening there. Choose another port with --port or stop the "
            "other program."
        )
    if code == 10013:
        return ServerError(
            f"Windows refused port {port} on {host} (access denied): the port is in a range "
            "Windows reserves (Hyper-V, WSL or Docker reserve ranges; see them with "
            "'netsh interface ipv4 show excludedportrange protocol=tcp'), or security "
            "software blocks it. Choose a port outside those ranges with --port."
        )
    if code in _ACCESS:
        return ServerError(
            f"not allowed to listen on port {port} on {host}: ports below 1024 need "
            "administrator rights. Choose a port such as 8080 with --port."
        )
    if isinstance(exc, socket.gaierror) or code in _NO_ADDRESS:
        return ServerError(f"cannot listen on {host}: {exc.strerror or exc}")
    return ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def bind_sockets(host: str, port: int) -> list[socket.socket]:
    """Bound sockets for every address ``host`` resolves to (``localhost``: maybe two).

    Bound here rather than by waitress, which sets SO_REUSEADDR: on Windows that
    lets a second program bind a port someone already listens on, silently.  On
    Windows each socket gets SO_EXCLUSIVEADDRUSE instead, so a used port fails.
    With port 0 every address gets the port the first one was given.
    """
    try:
        infos = socket.getaddrinfo(
            host or None,
            port,
            socket.AF_UNSPEC,
            socket.SOCK_STREAM,
            socket.IPPROTO_TCP,
            socket.AI_PASSIVE,
        )
    except OSError as exc:
        raise _bind_error(exc, host, port) from exc
    windows = sys.platform == "win32"
    bound: list[socket.socket] = []
    seen: set[tuple[int, str]] = set()
    try:
        for family, socktype, proto, _name, sockaddr in infos:
            address = str(sockaddr[0]).split("%", 1)[0]
            if (family, address) in seen:  # getaddrinfo may repeat an address
                continue
            seen.add((family, address))
            sock = socket.socket(family, socktype, proto)
            bound.append(sock)
            if windows:
                option = getattr(socket, "SO_EXCLUSIVEADDRUSE", _SO_EXCLUSIVEADDRUSE)
                sock.setsockopt(socket.SOL_SOCKET, option, 1)
            else:  # what waitress does: a restart binds despite TIME_WAIT connections
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if bound[1:] and sockaddr[1] == 0:  # port 0: the same port on every address
                sockaddr = (sockaddr[0], bound[0].getsockname()[1], *sockaddr[2:])
            try:
                sock.bind(sockaddr)
            except OSError as exc:
                raise _bind_error(exc, address, port) from exc
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    return bound


class _QueueDepthFilter(logging.Filter):
    """Lets one of waitress's "Task queue depth" warnings through per interval.

    A burst of webhooks (a 30-member group) queues tasks briefly by design;
    one warning a minute says so without flooding the log.
    """

    def __init__(self, interval_s: float = 60.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last = 0.0
        self._suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            self._suppressed += 1
            return False
        if self._suppressed:
            record.msg = f"{record.msg} ({self._suppressed} similar warnings suppressed)"
        self._last, self._suppressed = now, 0
        return True


_queue_filter = _QueueDepthFilter()
logging.getLogger("waitress.queue").addFilter(_queue_filter)


def _json_errors_channel(max_body: int, watch: WebhookWatch | None) -> type[HTTPChannel]:
    """A waitress channel whose own errors answer like the app: JSON ``{"error": ...}``.

    waitress answers some requests itself, before the app sees them: a body over
    its limit (413, also while a chunked body streams in), a malformed request (400),
    headers too large (431).  Its plain-text page would be the one answer of the
    API that a client cannot parse, and would not name our setting.  A webhook it
    refuses is told to ``watch`` like the app's own refusals.
    """

    class JsonErrorTask(ErrorTask):  # type: ignore[misc]
        def execute(self) -> None:
            error = self.request.error
            if error.code == 413:
                message = too_large_message(max_body)
                if watch is not None and getattr(self.request, "path", "") == PATH:
                    client = {"REMOTE_ADDR": self.channel.addr[0] if self.channel.addr else ""}
                    watch.refused(413, RefusalKind.TOO_LARGE, message, client_of(client))
            else:
                message = f"{error.reason}: {error.body}" if error.body else error.reason
            body = json.dumps({"error": message}).encode()
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonErrorChannel(HTTPChannel):  # type: ignore[misc]
        error_task_class = JsonErrorTask

    return JsonErrorChannel


class WebServer:
    """Serves a WSGI app on host:port in a daemon thread."""

    def __init__(
        self, app: Any, host: str, port: int, *, threads: int = 32, max_body: int = 1 << 20
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self._threads = threads
        self._max_body = max_body
        self._server: Any = None
        self._listeners: list[BaseWSGIServer] = []
        self.addresses: list[tuple[str, int]] = []  # (host, port) of each listening socket
        self._thread: threading.Thread | None = None

    @property
    def _watch(self) -> WebhookWatch | None:
        found = getattr(self.app, "extensions", {}).get("gsmbridge.webhook_watch")
        return found if isinstance(found, WebhookWatch) else None

    @property
    def port(self) -> int:
        if not self.addresses:
            return self.requested_port
        return self.addresses[0][1]

    @property
    def urls(self) -> list[str]:
        """Every address listened on (``localhost`` may be both 127.0.0.1 and ::1)."""
        if not self.addresses:
            return [_url(self.host, self.requested_port)]
        return [_url(host, port) for host, port in self.addresses]

    @property
    def url(self) -> str:
        return self.urls[0]

    def start(self) -> None:
        sockets = bind_sockets(self.host, self.requested_port)
        try:
            self._server = create_server(
                self.app,
                sockets=sockets,
                threads=self._threads,
                # waitress reads a whole body before the app runs, so it enforces the
                # limit itself (in JSON, see _json_errors_channel); the slack lets a
                # chunked body's framing through to Flask's exact MAX_CONTENT_LENGTH.
                max_request_body_size=self._max_body + 1 + max(4096, self._max_body // 16),
                channel_timeout=30,
                connection_limit=200,
                ident="gsmbridge",
                # waitress would delete X-Forwarded-* and Forwarded (it trusts no proxy
                # here) before the app sees them; /metrics needs to see them to know a
                # request came through a proxy (web/metrics.py).  Nothing in gsmbridge
                # trusts them: Flask reads neither the scheme nor the address from them.
                clear_untrusted_proxy_headers=False,
            )
        except (OSError, ValueError) as exc:
            for sock in sockets:
                sock.close()
            raise ServerError(f"cannot listen on {self.host}:{self.requested_port}: {exc}") from exc
        channel = _json_errors_channel(self._max_body, self._watch)
        # One listener per socket; several make waitress return a MultiSocketServer,
        # which has neither ``effective_port`` nor ``trigger``: use the listeners'.
        self._listeners = [
            listener
            for listener in list(_socket_map(self._server).values())
            if isinstance(listener, BaseWSGIServer)
        ]
        for listener in self._listeners:  # each listening socket, before any accept
            listener.channel_class = channel
        self.addresses = [
            (str(listener.effective_host), int(listener.effective_port))
            for listener in self._listeners
        ]
        self._thread = threading.Thread(target=self._run, name="web-server", daemon=True)
        self._thread.start()
        log.info(
            "Webhook listening on %s",
            " and ".join(f"{url}/webhook" for url in self.urls),
        )

    def _run(self) -> None:
        try:
            self._server.run()
        except Exception:  # noqa: BLE001 - logged; the thread ends
            log.exception("web server stopped unexpectedly")

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        # First let the worker threads finish what they are doing: a worker that
        # finished after the trigger closed would write to a closed (or reused) fd.
        server.task_dispatcher.shutdown(timeout=timeout)
        closed = threading.Event()

        def close_all() -> None:
            # Runs inside the event loop's thread, so nothing races the loop.
            for channel in list(_socket_map(server).values()):
                try:
                    # A listening socket has no handle_close; channels clean up in theirs.
                    if isinstance(channel, BaseWSGIServer):
                        channel.close()
                    else:
                        channel.handle_close()
                except Exception:  # noqa: BLE001 - closing anyway
                    channel.close()
            closed.set()

        try:
            self._listeners[0].trigger.pull_trigger(close_all)
        except OSError:
            log.warning("web server's wake-up pipe was already closed", exc_info=True)
        if not closed.wait(timeout):
            log.warning("web server did not stop within %.0f s", timeout)
        thread.join(timeout)
        self._server = None
        self._thread = None
        self._listeners = []
        self.addresses = []
        if self._watch is not None:  # the refusals held back for a summary
            self._watch.close()
        log.info("Web server stopped")
