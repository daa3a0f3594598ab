"""Edit the number of one or more jobs, validated as you type."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from gsmbridge.core.phones import InvalidNumber, normalise
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE


def check_number(text: str, region: str) -> tuple[str | None, str]:
    """(E.164, "") or (None, why not)."""
    if not text.strip():
        return None, "Type the recipient's mobile number."
    try:
        return normalise(text, region), ""
    except InvalidNumber as exc:
        return None, str(exc)


class NumberDialog(QDialog):
    """Asks for a number; OK only while it is valid.

    Signals: QDialog's own (accepted, rejected).
    """

    def __init__(
        self,
        region: str,
        *,
        recipients: str,
        count: int,
        current: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit number")
        self.region = region
        self.number = QLineEdit(current)
        self.number.setPlaceholderText(f"+49 151 … or a national number ({region})")
        self.feedback = QLabel()
        self.feedback.setWordWrap(True)
        self.save_contact = QCheckBox(f"Also save it as the contact of {recipients}")
        self.save_contact.setChecked(True)
        jobs = "this job" if count == 1 else f"these {count} jobs"
        intro = QLabel(f"Send {jobs} to this number (jobs waiting for a number are queued).")
        intro.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(intro)
        form.addRow("Number", self.number)
        form.addRow("", self.feedback)
        form.addRow(self.save_contact)
        form.addRow(self.buttons)
        self.number.textChanged.connect(self._check)
        self.e164: str | None = None
        self._check(self.number.text())
        self.resize(440, self.sizeHint().height())

    @Slot(str)
    def _check(self, text: str) -> None:
        self.e164, reason = check_number(text, self.region)
        if self.e164:
            self.feedback.setStyleSheet(OK_STYLE)
            self.feedback.setText(f"✓ {self.e164}")
        else:
            self.feedback.setStyleSheet(ERROR_STYLE)
            self.feedback.setText(reason)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.e164))
