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
import threading
import time
from typing import Any

from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask

from gsmbridge.web.app import too_large_message

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


def _json_errors_channel(max_body: int) -> type[HTTPChannel]:
    """A waitress channel whose own errors answer like the app: JSON ``{"error": ...}``.

    waitress answers some requests itself, before the app sees them: a body over
    its limit (413, also while a chunked body streams in), a malformed request (400),
    headers too large (431).  Its plain-text page would be the one answer of the
    API that a client cannot parse, and would not name our setting.
    """

    class JsonErrorTask(ErrorTask):  # type: ignore[misc]
        def execute(self) -> None:
            error = self.request.error
            if error.code == 413:
                message = too_large_message(max_body)
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
        self, app: Any, host: str, port: int, *, threads: int = 16, max_body: int = 1 << 20
    ) -> None:
        self.app = app
        self.host = host
        self.requested_port = port
        self._threads = threads
        self._max_body = max_body
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if self.host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        try:
            self._server = create_server(
                self.app,
                host=self.host,
                port=self.requested_port,
                threads=self._threads,
                # waitress reads a whole body before the app runs, so it enforces the
                # limit itself (in JSON, see _json_errors_channel); the slack lets a
                # chunked body's framing through to Flask's exact MAX_CONTENT_LENGTH.
                max_request_body_size=self._max_body + 1 + max(4096, self._max_body // 16),
                channel_timeout=30,
                connection_limit=200,
                ident="gsmbridge",
            )
        except OSError as exc:
            if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
                raise ServerError(
                    f"port {self.requested_port} on {self.host} is already in use: another "
                    "program (or another gsmbridge) is listening there. Choose another port "
                    "with --port or stop the other program."
                ) from exc
            if isinstance(exc, socket.gaierror) or exc.errno in (99, 49, 10049):
                raise ServerError(f"cannot listen on {self.host}: {exc.strerror or exc}") from exc
            raise ServerError(f"cannot listen on {self.host}:{self.requested_port}: {exc}") from exc
        channel = _json_errors_channel(self._max_body)
        listeners = getattr(self._server, "map", None) or self._server._map
        for listener in list(listeners.values()):
            if isinstance(listener, BaseWSGIServer):  # each listening socket, before any accept
                listener.channel_class = channel
        self._thread = threading.Thread(target=self._run, name="web-server", daemon=True)
        self._thread.start()
        log.info("Webhook listening on %s/webhook", self.url)

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
            for channel in list(server._map.values()):
                try:
                    # The listening socket has no handle_close; channels clean up in theirs.
                    channel.close() if channel is server else channel.handle_close()
                except Exception:  # noqa: BLE001 - closing anyway
                    channel.close()
            closed.set()

        try:
            server.trigger.pull_trigger(close_all)
        except OSError:
            log.warning("web server's wake-up pipe was already closed", exc_info=True)
        if not closed.wait(timeout):
            log.warning("web server did not stop within %.0f s", timeout)
        thread.join(timeout)
        self._server = None
        self._thread = None
        log.info("Web server stopped")
