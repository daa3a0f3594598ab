"""The one adapter between the core's threads and Qt: listener calls become signals.

The core calls its listeners on whatever thread produced the event (a
waitress worker, the sender, a modem's reader).  ``CoreEvents`` lives on the
GUI thread; its listener only emits signals, which receivers connect with
``Qt.QueuedConnection`` to ``@Slot`` methods of GUI-thread objects (see
``connect_queued``).  Nothing here touches a widget.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, SignalInstance, Slot

from gsmbridge.core.events import Listener
from gsmbridge.core.models import IncomingSms
from gsmbridge.gui.compat import emit
from gsmbridge.modem.status import ModemStatus

log = logging.getLogger(__name__)


class CoreEvents(QObject):
    """The core's events as Qt signals; add ``self.listener`` to ``bridge.events``.

    Signals:
        job_changed(int, str): a job was created or changed state (id, new state,
            "deleted" when it is gone); emitted on the core's thread, per event.
        jobs_updated(object): the same events as a dict {job id: latest state},
            emitted on the GUI thread at most once per event-loop turn.  Views use
            this one: a burst of 1,000 webhooks costs a few deliveries, not thousands.
        jobs_changed(): many jobs changed at once; views reload.
        counts_changed(object): a dict of job counts by state.
        modem_status_changed(object): a ``ModemStatus`` snapshot of one modem.
        tunnel_changed(object): the tunnel's status (has ``public_url`` when up).
        sms_received(object): a modem received an SMS or another part of one (an
            ``IncomingSms``, its parts joined so far; a later part keeps the same id).
        webhook_trouble_changed(object): webhooks were refused or answered slowly, or
            one was accepted after that (a ``WebhookTrouble``, web/refusals.py).
    """

    job_changed = Signal(int, str)
    jobs_updated = Signal(object)
    jobs_changed = Signal()
    counts_changed = Signal(object)
    modem_status_changed = Signal(object)
    tunnel_changed = Signal(object)
    sms_received = Signal(object)
    webhook_trouble_changed = Signal(object)
    _jobs_pending = Signal()  # internal wake-up: core thread -> _deliver_jobs

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.listener = _SignalListener(self)
        self._jobs_pending.connect(self._deliver_jobs, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _deliver_jobs(self) -> None:
        batch = self.listener.take_jobs()
        if batch:
            emit(self.jobs_updated, batch)


class _SignalListener(Listener):
    """Called from any thread; only emits (emitting is thread-safe in Qt)."""

    def __init__(self, events: CoreEvents) -> None:
        self._events = events
        self.detached = False
        self._lock = threading.Lock()
        self._jobs: dict[int, str] = {}  # waiting for the GUI thread to take them

    def _emit(self, signal: SignalInstance, *args: Any) -> None:
        if self.detached:
            return
        try:
            emit(signal, *args)
        except RuntimeError:  # the QObject is gone (window closed while the core runs on)
            self.detached = True

    def job_changed(self, job_id: int, state: str) -> None:
        with self._lock:
            wake = not self._jobs  # the first of a batch wakes the GUI; the rest ride along
            self._jobs[job_id] = state
        if wake:
            self._emit(self._events._jobs_pending)
        self._emit(self._events.job_changed, job_id, state)

    def take_jobs(self) -> dict[int, str]:
        with self._lock:
            batch, self._jobs = self._jobs, {}
        return batch

    def jobs_changed(self) -> None:
        self._emit(self._events.jobs_changed)

    def counts_changed(self, counts: dict[str, int]) -> None:
        self._emit(self._events.counts_changed, dict(counts))

    def modem_status_changed(self, status: ModemStatus) -> None:
        self._emit(self._events.modem_status_changed, status)

    def tunnel_changed(self, status: object) -> None:
        self._emit(self._events.tunnel_changed, status)

    def sms_received(self, message: IncomingSms) -> None:
        self._emit(self._events.sms_received, message)

    def webhook_trouble_changed(self, trouble: object) -> None:
        self._emit(self._events.webhook_trouble_changed, trouble)


def connect_queued(signal: SignalInstance, slot: Callable[..., Any]) -> None:
    """Connect a cross-thread signal to a bound ``@Slot`` of a GUI-thread QObject.

    Refuses plain functions and lambdas: PySide6 may run a slot that has no
    receiver object on the emitting thread.
    """
    owner = getattr(slot, "__self__", None)
    if not isinstance(owner, QObject):
        raise TypeError(f"{slot!r} must be a method of a QObject")
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)
