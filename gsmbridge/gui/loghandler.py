"""``logging`` into the GUI: a handler that only keeps records and emits a signal.

The handler runs on whichever thread logs.  It appends to a bounded deque
(so a log view opened later still shows the recent past) and emits
``record_logged``; the view connects to it with a queued connection.  It
never touches a widget.  Qt's own warnings are routed into ``logging`` too.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from PySide6.QtCore import QMessageLogContext, QObject, QtMsgType, Signal, qInstallMessageHandler

# The GUI's lines are shorter than the file's: time of day, no date.
GUI_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
GUI_DATEFMT = "%H:%M:%S"


class LogRelay(QObject):
    """Carries log records from any thread to the GUI.

    Signals:
        record_logged(int, int, str): a record was logged (serial, level number,
            formatted line).
    """

    record_logged = Signal(int, int, str)


class QtLogHandler(logging.Handler):
    """Keeps the last ``capacity`` records and emits each one through ``relay``."""

    def __init__(self, capacity: int = 5000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(GUI_FORMAT, GUI_DATEFMT))
        # (serial, level number, line); the serial survives the deque dropping old ones
        self.records: deque[tuple[int, int, str]] = deque(maxlen=capacity)
        self._records_lock = threading.Lock()
        self._serial = 0
        self.relay = LogRelay()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)
            return
        with self._records_lock:
            self._serial += 1
            serial = self._serial
            self.records.append((serial, record.levelno, text))
        try:
            self.relay.record_logged.emit(serial, record.levelno, text)
        except RuntimeError:  # relay deleted at shutdown; the deque still has it
            pass

    def snapshot(self, after: int = 0) -> list[tuple[int, int, str]]:
        """(serial, level, line) of the kept records with a serial above ``after``."""
        with self._records_lock:
            return [r for r in self.records if r[0] > after]

    @property
    def last_serial(self) -> int:
        with self._records_lock:
            return self._serial


# -- Qt's own messages ---------------------------------------------------------------

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}
_qt_log = logging.getLogger("qt")
_inside = threading.local()


def qt_message_handler(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Log a Qt message (any thread); a message raised while logging one is dropped."""
    if getattr(_inside, "active", False):
        return
    _inside.active = True
    try:
        where = f" ({context.category})" if context.category not in (None, "", "default") else ""
        _qt_log.log(_QT_LEVELS.get(mode, logging.WARNING), "%s%s", message, where)
    finally:
        _inside.active = False


def install_qt_message_handler() -> Any:
    """Route Qt's messages into ``logging``; return the previous handler to restore."""
    return qInstallMessageHandler(qt_message_handler)


__all__ = [
    "LogRelay",
    "QtLogHandler",
    "install_qt_message_handler",
    "qt_message_handler",
]
