"""The core's listener interface: how events travel up to the GUI and the log.

Listeners are called on whatever thread produced the event (the web server's
worker, the sender, the modem's reader).  A listener must therefore be quick
and thread-safe; the GUI's listener only emits Qt signals.  No Qt here.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from gsmbridge.core.models import IncomingSms
from gsmbridge.modem.status import ModemStatus

log = logging.getLogger(__name__)


class Listener:
    """Base class with no-op handlers; override the ones you care about."""

    def job_changed(self, job_id: int, state: str) -> None:
        """A job was created or changed state (or was edited)."""

    def jobs_changed(self) -> None:
        """Many jobs changed at once (bulk retry, recovery, delete): reload."""

    def counts_changed(self, counts: dict[str, int]) -> None:
        """Counts of jobs by state."""

    def modem_status_changed(self, status: ModemStatus) -> None:
        """A modem's status changed (a ``gsmbridge.modem.status.ModemStatus``)."""

    def tunnel_changed(self, status: object) -> None:
        """The tunnel's state or public URL changed (a ``gsmbridge.tunnel.TunnelStatus``;
        the core cannot name the type: the tunnel sits above it)."""

    def sms_received(self, message: IncomingSms) -> None:
        """A modem received an SMS, or another part of one (a ``core.models.IncomingSms``)."""

    def webhook_trouble_changed(self, trouble: object) -> None:
        """Webhooks were refused or answered slowly, or one was accepted after that (a
        ``gsmbridge.web.refusals.WebhookTrouble``; the web layer sits above the core)."""


class EventHub(Listener):
    """Fans events out to registered listeners; safe to call from any thread.

    A listener that raises is logged and kept: one broken view must not stop
    the sender.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def add(self, listener: Listener) -> None:
        with self._lock:
            if listener not in self._listeners:
                self._listeners.append(listener)

    def remove(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _fan_out(self, name: str, *args: Any) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                getattr(listener, name)(*args)
            except Exception:  # noqa: BLE001 - a listener must not break the producer
                log.exception("listener %r failed on %s", listener, name)

    def job_changed(self, job_id: int, state: str) -> None:
        self._fan_out("job_changed", job_id, state)

    def jobs_changed(self) -> None:
        self._fan_out("jobs_changed")

    def counts_changed(self, counts: dict[str, int]) -> None:
        self._fan_out("counts_changed", counts)

    def modem_status_changed(self, status: ModemStatus) -> None:
        self._fan_out("modem_status_changed", status)

    def tunnel_changed(self, status: object) -> None:
        self._fan_out("tunnel_changed", status)

    def sms_received(self, message: IncomingSms) -> None:
        self._fan_out("sms_received", message)

    def webhook_trouble_changed(self, trouble: object) -> None:
        self._fan_out("webhook_trouble_changed", trouble)
