"""``logging`` into the GUI: a handler that only keeps records and emits a signal.

The handler runs on the log thread (``gsmbridge.logs.attach``; on whichever
thread logs where no log thread runs, as in some tests).  It appends to a bounded deque
(so a log view opened later still shows the recent past) and wakes its
relay with a queued signal; the relay, on the GUI thread, hands the batch to
the view.  The handler never touches a widget.  Qt's own warnings are routed into ``logging`` too.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

from PySide6.QtCore import (
    QMessageLogContext,
    QObject,
    Qt,
    QtMsgType,
    Signal,
    Slot,
    qInstallMessageHandler,
)

from gsmbridge.gui.compat import emit

# The GUI's lines are shorter than the file's: time of day, no date.
GUI_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
GUI_DATEFMT = "%H:%M:%S"


class LogRelay(QObject):
    """Carries log records from any thread to the GUI thread, in batches.

    The first record of a batch emits ``_ready`` (queued to ``_deliver``); the
    records logged before the GUI thread gets to it ride along.  A burst of
    thousands of lines costs a few deliveries.

    Signals:
        records_logged(object): new records, a list of (serial, level number,
            formatted line); emitted on the GUI thread.
    """

    records_logged = Signal(object)
    _ready = Signal()

    def __init__(self, handler: QtLogHandler) -> None:
        super().__init__()
        self._handler = handler
        self._ready.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _deliver(self) -> None:
        batch = self._handler.take_pending()
        if batch:
            emit(self.records_logged, batch)


class QtLogHandler(logging.Handler):
    """Keeps the last ``capacity`` records and emits each one through ``relay``."""

    def __init__(self, capacity: int = 5000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(GUI_FORMAT, GUI_DATEFMT))
        # (serial, level number, line); the serial survives the deque dropping old ones
        self.records: deque[tuple[int, int, str]] = deque(maxlen=capacity)
        self._records_lock = threading.Lock()
        self._serial = 0
        self._pending: deque[tuple[int, int, str]] = deque(maxlen=capacity)
        self.relay = LogRelay(self)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own convention
            self.handleError(record)
            return
        with self._records_lock:
            self._serial += 1
            entry = (self._serial, record.levelno, text)
            self.records.append(entry)
            wake = not self._pending
            self._pending.append(entry)
        if wake:
            try:
                emit(self.relay._ready)
            except RuntimeError:  # relay deleted at shutdown; the deque still has it
                pass

    def take_pending(self) -> list[tuple[int, int, str]]:
        with self._records_lock:
            batch = list(self._pending)
            self._pending.clear()
        return batch

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
