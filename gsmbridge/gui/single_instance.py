"""One window per data directory: a second launch brings the first to the front.

The first instance listens on a QLocalServer whose name is derived from the
data directory (and the user, so two users never collide).  A second
instance connects, writes ``activate`` and exits.  The file lock in
``core.instance`` is what really guarantees one instance; this only makes
the second launch useful.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from gsmbridge.core.instance import StopRequest
from gsmbridge.gui.compat import emit

log = logging.getLogger(__name__)

MESSAGE = b"activate\n"


def server_name(data_dir: Path) -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name on some systems; the path still differs
        user = ""
    digest = hashlib.sha256(f"{user}\0{Path(data_dir).resolve()}".encode()).hexdigest()
    return f"gsmbridge-{digest[:20]}"


ASFW_ANY = -1  # AllowSetForegroundWindow: any process may take the foreground


def allow_foreground() -> None:
    """On Windows only the foreground process (this launch, just clicked) may bring a
    window forward; it hands that right on, or the first window only flashes in the
    taskbar."""
    if sys.platform != "win32":
        return
    try:
        import ctypes

        ctypes.windll.user32.AllowSetForegroundWindow(ASFW_ANY)
    except (AttributeError, OSError):
        log.debug("AllowSetForegroundWindow unavailable", exc_info=True)


def activate_running(name: str, timeout_ms: int = 1000, *, wait_s: float = 3.0) -> bool:
    """Ask a running instance to show itself; False if none answers.

    A first instance still starting holds the lock before it listens: try again for
    up to ``wait_s``.  Blocks (it runs before the event loop starts).
    """
    allow_foreground()
    deadline = time.monotonic() + wait_s
    while True:
        if _activate_once(name, timeout_ms):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)


def _activate_once(name: str, timeout_ms: int) -> bool:
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(timeout_ms):
        return False
    socket.write(MESSAGE)
    ok = socket.waitForBytesWritten(timeout_ms)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(timeout_ms)
    return ok


class SingleInstance(QObject):
    """Listens for later launches of the same data directory.

    Signals:
        activated(): another launch asked this instance to come to the front.
    """

    activated = Signal()

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_new_connection)

    def listen(self) -> bool:
        """Start listening.  Call only while holding the instance lock: a
        leftover socket from a crash is removed, which would steal a live
        instance's name otherwise."""
        QLocalServer.removeServer(self.name)
        if not self._server.listen(self.name):
            log.warning(
                "Cannot listen for other launches (%s); a second launch will not find this window",
                self._server.errorString(),
            )
            return False
        return True

    def close(self) -> None:
        self._server.close()

    @Slot()
    def _on_new_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            socket.setParent(self)
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    @Slot()
    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        data = bytes(socket.readAll().data())
        if MESSAGE.strip() in data:
            log.info("Another launch asked for this window")
            emit(self.activated)


class StopWatcher(QObject):
    """Looks for ``gsmbridge-cli stop``'s request file (core.instance.StopRequest).

    Signals:
        stop_requested(): the request was seen (and removed); quit without asking.
    """

    stop_requested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None, interval_ms: int = 500):
        super().__init__(parent)
        self.request = StopRequest(data_dir)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._check)

    def start(self) -> None:
        self.request.clear()  # one left from an earlier run is not for this one
        self.timer.start()

    @Slot()
    def _check(self) -> None:
        if self.request.pending():
            self.timer.stop()
            self.request.clear()
            log.info("Asked to stop (gsmbridge-cli stop), quitting")
            emit(self.stop_requested)
