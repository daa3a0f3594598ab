"""Wizard page 3: a test SMS to your own number, followed until it is delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
)

from gsmbridge.gui.views.dialogs.number_dialog import check_number
from gsmbridge.gui.views.wizard.base import Page, say, wrapped

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard.dialog import SetupWizard

SIM_NOTE = (
    "<b>Simulated modem: nothing will really be sent.</b> The test SMS will only appear "
    "in the simulator's outbox (Modem tab). Choose a real modem on the previous page to "
    "send one."
)
TEST_TEXT = "Hello from gsmbridge: your SMS gateway works."
JOB_TEXT = {
    "queued": "queued, waiting for the modem…",
    "sending": "sending…",
    "sent": "sent ✓",
    "delivered": "delivered ✓ (the phone confirmed it)",
    "failed": "failed",
    "cancelled": "cancelled",
}


class TestSmsPage(Page):
    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "Test SMS",
            "Send one SMS to your own phone through the whole path: queue, sender, modem. "
            "You can skip this step.",
        )
        self.sim_note = wrapped(SIM_NOTE, rich=True)
        self.sim_note.setStyleSheet(
            "background:#fff4e0; color:#6b4500; border:1px solid #d98c1f; border-radius:4px;"
            " padding:6px;"
        )
        self.number = QLineEdit()
        self.number.setPlaceholderText("Your own mobile number, e.g. +49 151 12345678")
        self.number.textChanged.connect(self._number_changed)
        self.send_button = QPushButton("Send test SMS")
        self.send_button.setEnabled(False)
        self.send_button.clicked.connect(self.send)
        self.job_state = wrapped()
        row = QHBoxLayout()
        row.addWidget(self.number, 1)
        row.addWidget(self.send_button)
        form = QFormLayout(self)
        form.addRow(self.sim_note)
        form.addRow("Number", row)
        form.addRow("", self.job_state)
        form.addRow(self.feedback)
        self.job_id: int | None = None
        self.last_state = ""
        self.ctx.events.jobs_updated.connect(self.on_jobs_updated)  # emitted on this thread

    def initializePage(self) -> None:
        self.sim_note.setVisible(self.ctx.simulated)

    @Slot(str)
    def _number_changed(self, text: str) -> None:
        number, reason = check_number(text, self.ctx.settings.sending.default_region)
        self.send_button.setEnabled(number is not None)
        # Why Send is off, once something is typed (an empty field explains itself).
        say(self.feedback, reason if number is None and text.strip() else "", False)

    @Slot()
    def send(self) -> None:
        number, reason = check_number(self.number.text(), self.ctx.settings.sending.default_region)
        if number is None:
            say(self.feedback, reason, False)
            return
        self.send_button.setEnabled(False)
        say(self.feedback, "", None)
        say(self.job_state, "queueing…", None)
        self.ctx.tasks.run(
            "Send test SMS",
            self.ctx.bridge.jobs.send_test,
            number,
            TEST_TEXT,
            on_done=self._queued,
            on_error=self._not_queued,
        )

    def _queued(self, job_id: int) -> None:
        self.job_id = job_id
        self.send_button.setEnabled(True)
        if not self.last_state:
            self._show("queued")

    def _not_queued(self, exc: BaseException) -> None:
        self.send_button.setEnabled(True)
        say(self.job_state, f"not queued: {exc}", False)

    @Slot(object)
    def on_jobs_updated(self, batch: dict[int, str]) -> None:
        if self.job_id is not None and self.job_id in batch:
            self._show(batch[self.job_id])

    def _show(self, state: str) -> None:
        self.last_state = state
        text = f"Job {self.job_id}: {JOB_TEXT.get(state, state)}"
        if state == "sent" and self.ctx.settings.sending.status_reports:
            text += " — waiting for the delivery report"
        if state == "failed":
            store = self.ctx.store
            job = store.get(self.job_id) if store is not None else None  # one row by key
            if job is not None and job.last_error:
                text += f": {job.last_error}"
        if self.ctx.simulated and state in ("sent", "delivered"):
            text += " (simulated: nothing was really sent)"
        ok = True if state in ("sent", "delivered") else False if state == "failed" else None
        say(self.job_state, text, ok)
