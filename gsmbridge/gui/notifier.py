"""Desktop notifications: a failed SMS, a reply, a modem lost, webhooks refused, said
through the tray.

Kept out of the main window: which events deserve a notification, and how a burst of
them becomes one, is its own concern.  Without a tray (none on this desktop, or the
offscreen platform) nothing is shown.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QWidget

from gsmbridge.core.models import IncomingSms
from gsmbridge.core.phones import mask_number
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.throttle import Throttle
from gsmbridge.modem.status import ModemStatus
from gsmbridge.web.refusals import LOST_STATUS, WebhookTrouble

FAILED_BURST_MS = 1000  # one notification for a burst of failures
REPLY_PREVIEW = 120  # characters of a reply shown


class Notify(Protocol):
    """What shows a notification: the tray (``gui.tray.Tray``) or a test's recorder."""

    def notify(self, title: str, message: str, *, warning: bool = True) -> None: ...


class DesktopNotifier(QObject):
    """Decides what deserves a desktop notification; GUI thread only."""

    def __init__(self, ctx: AppContext, window: QWidget, tray: Notify | None) -> None:
        super().__init__(window)
        self.ctx = ctx
        self.tray = tray
        self._window = window
        self._failed: list[int] = []
        self._failed_throttle = Throttle(FAILED_BURST_MS, self._say_failed, self)
        self._replies_seen: set[int] = set()
        self._refusal_told: float | None = None  # when the refusals last told began

    def say(self, title: str, message: str, *, warning: bool = True) -> None:
        if self.tray is not None:
            self.tray.notify(title, message, warning=warning)

    def jobs_failed(self, ids: list[int]) -> None:
        """Jobs that just failed; told once per burst."""
        self._failed.extend(ids)
        self._failed_throttle.trigger()

    def cancel(self) -> None:
        """The store is closing: pending failures are not looked up any more."""
        self._failed_throttle.cancel()
        self._failed.clear()

    def modem_changed(self, before: ModemStatus | None, status: ModemStatus) -> None:
        if before is not None and before.ready and not status.ready:
            self.say(f"Modem {status.port} lost", status.last_error or status.state)

    @Slot(object)
    def webhook_trouble(self, trouble: object) -> None:
        """Webhooks refused with none accepted since: said once per streak.  The app
        lives in the tray, and every notification refused meanwhile is lost."""
        if not isinstance(trouble, WebhookTrouble) or trouble.accepted_since:
            self._refusal_told = None  # accepted again (or a new run): a new streak is told
            return
        last = trouble.last_refusal
        if last is None or self._refusal_told is not None:
            return
        self._refusal_told = last.at
        what = "lost" if last.status == LOST_STATUS else "refused"  # 503: not queued
        self.say(f"Webhooks {what}: {last.reason}", f"{last.hint} CometChat does not resend them.")

    @Slot(object)
    def reply_received(self, message: IncomingSms) -> None:
        """A reply, once complete and once only, unless the window is in use."""
        if self.tray is None or not message.complete or self._window.isActiveWindow():
            return
        if message.id in self._replies_seen:  # the same SMS read again
            return
        self._replies_seen.add(message.id)
        masked = self.ctx.settings.gui.mask_numbers
        who = (
            message.name
            or message.uid
            or (mask_number(message.sender) if masked else message.sender)
        )
        text = message.text
        if len(text) > REPLY_PREVIEW:
            text = text[: REPLY_PREVIEW - 1] + "…"
        self.say(f"Reply from {who}", text, warning=False)

    def _say_failed(self) -> None:
        ids, self._failed = self._failed, []
        if not ids:
            return
        if len(ids) > 1:
            self.say(f"{len(ids)} SMS failed", "They will not be retried; see the Queue tab.")
            return
        store = self.ctx.store
        job = store.get(ids[0]) if store is not None else None
        who = (job.name or job.uid) if job else f"job {ids[0]}"
        self.say(f"SMS to {who} failed", job.last_error if job else "")
