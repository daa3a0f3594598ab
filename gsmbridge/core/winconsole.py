"""Windows console control events: Ctrl+C, Ctrl+Break, the console closed, logoff, shutdown.

Windows delivers no SIGTERM.  A console process gets these events on a thread of
their own, and for close, logoff and shutdown the process is ended as soon as
the handler returns (or after about 5 s).  So the handler asks for the stop and
waits, bounded, until the stop is done: an SMS in flight is not left ``sending``
and the tunnel's process tree is ended with us.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

CTRL_C_EVENT = 0
CTRL_BREAK_EVENT = 1
CTRL_CLOSE_EVENT = 2
CTRL_LOGOFF_EVENT = 5
CTRL_SHUTDOWN_EVENT = 6
NAMES = {
    CTRL_C_EVENT: "Ctrl+C",
    CTRL_BREAK_EVENT: "Ctrl+Break",
    CTRL_CLOSE_EVENT: "the console window closing",
    CTRL_LOGOFF_EVENT: "the user logging off",
    CTRL_SHUTDOWN_EVENT: "Windows shutting down",
}
# Windows ends the process about 5 s after a close/logoff/shutdown event: stop within it.
STOP_BUDGET_S = 4.5


class _Kernel32(Protocol):
    def SetConsoleCtrlHandler(self, handler: object, add: bool) -> int: ...  # noqa: N802


class ConsoleStop:
    """Installs the console control handler; ``stopped.set()`` when the stop is done."""

    def __init__(
        self,
        request_stop: Callable[[], None],
        *,
        budget_s: float = STOP_BUDGET_S,
        kernel32: _Kernel32 | None = None,
    ) -> None:
        self.request_stop = request_stop
        self.budget_s = budget_s
        self.stopped = threading.Event()
        self._kernel32 = kernel32
        self._callback: object = None  # kept referenced: Windows calls it later

    def install(self) -> bool:
        """On Windows, register the handler; elsewhere (signals do it) nothing."""
        if sys.platform != "win32":
            return False
        import ctypes

        kernel32 = self._kernel32 or ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        prototype = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)
        self._callback = prototype(ctypes.c_int, ctypes.c_uint)(self.handle)
        if not kernel32.SetConsoleCtrlHandler(self._callback, True):
            log.warning("Cannot handle console events; closing the console will not stop cleanly")
            return False
        self._kernel32 = kernel32
        return True

    def uninstall(self) -> None:
        if self._kernel32 is not None and self._callback is not None:
            self._kernel32.SetConsoleCtrlHandler(self._callback, False)
            self._callback = None

    def handle(self, event: int) -> int:
        """The handler (on a thread Windows creates): ask for the stop, wait for it."""
        log.info("Received %s, stopping", NAMES.get(event, f"console event {event}"))
        self.request_stop()
        if event in (CTRL_C_EVENT, CTRL_BREAK_EVENT):
            return 1  # handled; the process goes on until the stop ends it
        if not self.stopped.wait(self.budget_s):
            log.warning("Not stopped within %.1f s; Windows ends the process now", self.budget_s)
        return 1
