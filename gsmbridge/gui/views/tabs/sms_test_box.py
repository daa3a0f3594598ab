"""The "Send a test SMS" box: number and text with a live part/encoding counter."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.views.dialogs.number_dialog import check_number
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE
from gsmbridge.modem.pdu import count_parts

ENCODING_NAMES = {"gsm7": "GSM-7", "ucs2": "UCS-2 (Unicode)"}


def counter_text(text: str, smart: bool, max_parts: int) -> tuple[str, bool]:
    """("161 characters · GSM-7 · 2 parts", over the limit?) for the live counter."""
    encoding, parts = count_parts(text, smart=smart)
    name = ENCODING_NAMES.get(encoding, encoding)
    counter = f"{len(text)} characters · {name} · {parts} part{'s' if parts != 1 else ''}"
    if parts > max_parts:
        return counter + f" — over the limit of {max_parts}: it will be cut", True
    return counter, False


class SmsTestBox(QGroupBox):
    """Queues a test SMS through the normal path (the Bridge's ``send_test``, on the pool).

    Signals:
        test_queued(int): the test SMS was queued as this job.
    """

    test_queued = Signal(int)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Send a test SMS", parent)
        self.ctx = ctx
        self.number = QLineEdit()
        self.number.setPlaceholderText("Your own mobile number")
        self.text = QPlainTextEdit("Hello from gsmbridge: this is a test message.")
        self.text.setMaximumHeight(70)
        self.counter = QLabel()
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.send_button = QPushButton("Send test SMS")
        self.send_button.clicked.connect(self.send)
        self.text.textChanged.connect(self.update_counter)
        self.number.textChanged.connect(self.update_counter)
        form = QFormLayout(self)
        form.addRow("Number", self.number)
        form.addRow("Text", self.text)
        row = QHBoxLayout()
        row.addWidget(self.counter, 1)
        row.addWidget(self.send_button)
        form.addRow(row)
        form.addRow(self.feedback)
        self.last_job: int | None = None
        self.update_counter()

    @Slot()
    def update_counter(self) -> None:
        text = self.text.toPlainText()
        sending = self.ctx.settings.sending
        counter, over = counter_text(text, sending.smart_encoding, sending.max_parts)
        self.counter.setText(counter)
        self.counter.setStyleSheet(ERROR_STYLE if over else "")
        number_ok = check_number(self.number.text(), sending.default_region)[0]
        self.send_button.setEnabled(bool(number_ok and text.strip()))

    @Slot()
    def send(self) -> None:
        number, reason = check_number(self.number.text(), self.ctx.settings.sending.default_region)
        if number is None:
            self._say(reason, ok=False)
            return
        self.send_button.setEnabled(False)
        self._say("Queueing…", ok=None)
        self.ctx.tasks.run(
            "Send test SMS",
            self.ctx.bridge.jobs.send_test,
            number,
            self.text.toPlainText(),
            on_done=self._queued,
            on_error=lambda exc: self._finished(str(exc), ok=False),
        )

    def _queued(self, job_id: int) -> None:
        self.last_job = job_id
        self._finished(f"Queued as job {job_id}; watch it in the Queue tab.", ok=True)
        emit(self.test_queued, job_id)

    def _finished(self, message: str, *, ok: bool) -> None:
        self.update_counter()
        self._say(message, ok=ok)

    def _say(self, message: str, *, ok: bool | None) -> None:
        self.feedback.setStyleSheet("" if ok is None else OK_STYLE if ok else ERROR_STYLE)
        self.feedback.setText(message)
