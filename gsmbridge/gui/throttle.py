"""One reusable throttle for the window: a burst of events becomes one call.

Events arrive in bursts (a webhook burst changes hundreds of jobs, a log line per
record, a key per character typed); redrawing or querying on each one would stall the
window.  A ``Throttle`` runs its callback once, ``interval_ms`` after the first
``trigger()`` of a burst; with ``restart=True`` it waits for a pause instead (each
trigger starts the wait again: one query per pause in typing).  GUI thread only: it is
a single-shot ``QTimer``, the pattern qutebrowser's ``misc/throttle.py`` names.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Slot


class Throttle(QObject):
    """Calls ``callback`` once per burst of ``trigger()`` calls."""

    def __init__(
        self,
        interval_ms: int,
        callback: Callable[[], object],
        parent: QObject,
        *,
        restart: bool = False,
    ) -> None:
        super().__init__(parent)
        self._callback = callback
        self._restart = restart
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._fire)

    @Slot()
    def trigger(self) -> None:
        """Note an event: the callback runs at the end of the wait (started if idle)."""
        if self._restart or not self._timer.isActive():
            self._timer.start()

    def cancel(self) -> None:
        """Forget the pending call (the caller did the work itself, or is closing)."""
        self._timer.stop()

    @property
    def pending(self) -> bool:
        return self._timer.isActive()

    @property
    def interval_ms(self) -> int:
        return self._timer.interval()

    @Slot()
    def _fire(self) -> None:
        self._callback()
