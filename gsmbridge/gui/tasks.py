"""Blocking calls (SQLite writes, modem actions, start/stop) off the GUI thread.

A task runs on a QThreadPool; its result crosses back by one queued signal to
a slot of the runner, which lives on the GUI thread and calls the task's
callbacks there.  So the callbacks may be any callable (lambdas included):
they never run on the worker thread.
"""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from gsmbridge.gui.compat import emit

log = logging.getLogger(__name__)

Callback = Callable[[Any], None]


class _Task(QRunnable):
    """Runs one callable on the pool and reports through the runner (not a QObject)."""

    def __init__(self, runner: TaskRunner, task_id: int, fn: Callable[[], Any]) -> None:
        super().__init__()
        self._runner = runner
        self._id = task_id
        self._fn = fn
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result, ok = self._fn(), True
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            result, ok = exc, False
        try:
            emit(self._runner.task_ended, self._id, ok, result)
        except RuntimeError:  # the runner was deleted at shutdown; nobody is waiting
            pass


class TaskRunner(QObject):
    """Runs callables on a thread pool and reports back on the GUI thread.

    Signals:
        task_ended(int, bool, object): a task finished (id, ok, result or exception);
            internal, delivered by a queued connection to ``_on_task_ended``.
        task_failed(str, str): a task without its own error callback failed
            (what was being done, the error message), for the status bar.
        busy_changed(int): the number of running tasks changed.
    """

    task_ended = Signal(int, bool, object)
    task_failed = Signal(str, str)
    busy_changed = Signal(int)

    def __init__(self, parent: QObject | None = None, *, max_threads: int = 4) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[str, Callback | None, Callback | None]] = {}
        self._closed = False
        self.task_ended.connect(self._on_task_ended, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> int:
        return len(self._callbacks)

    def run(
        self,
        what: str,
        fn: Callable[..., Any],
        *args: Any,
        on_done: Callback | None = None,
        on_error: Callback | None = None,
        **kwargs: Any,
    ) -> int:
        """Run ``fn(*args, **kwargs)`` on the pool; return the task id.

        ``what`` names the action for error messages ("Retry", "Send test SMS").
        ``on_done(result)`` / ``on_error(exception)`` run later on the GUI thread.
        """
        if self._closed:
            log.debug("task %r refused: shutting down", what)
            return 0
        task_id = next(self._ids)
        self._callbacks[task_id] = (what, on_done, on_error)
        self.pool.start(_Task(self, task_id, lambda: fn(*args, **kwargs)))
        emit(self.busy_changed, self.busy)
        return task_id

    @Slot(int, bool, object)
    def _on_task_ended(self, task_id: int, ok: bool, result: object) -> None:
        what, on_done, on_error = self._callbacks.pop(task_id, ("", None, None))
        emit(self.busy_changed, self.busy)
        if self._closed:
            return
        if ok:
            if on_done is not None:
                on_done(result)
            return
        if on_error is not None:
            on_error(result)
            return
        log.error("%s failed: %s\n%s", what, result, getattr(result, "__traceback_text__", ""))
        emit(self.task_failed, what, str(result))

    def wait(self, timeout_ms: int = 10000) -> bool:
        """Block until the pool is idle (tests, and the final shutdown)."""
        return self.pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Refuse new tasks, wait for running ones; callbacks are no longer called."""
        self._closed = True
        self.pool.waitForDone(timeout_ms)
