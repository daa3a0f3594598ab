"""What every page of the setup wizard is built from: the Page base class (it works on a
draft of the settings and applies on the task pool), result lines, wrapped labels and
copy rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
    QWizardPage,
)

from gsmbridge.config import Settings
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard.dialog import SetupWizard

APPLIED = "Applied."


def say(label: QLabel, text: str, ok: bool | None) -> None:
    label.setText(text)
    label.setStyleSheet("" if ok is None else OK_STYLE if ok else ERROR_STYLE)


def wrapped(text: str = "", *, rich: bool = False) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    if rich:
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setOpenExternalLinks(True)
    return label


class CopyRow(QWidget):
    """A read-only value with a Copy button.

    Signals: none of its own.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setReadOnly(True)
        self.button = QPushButton("Copy")
        self.button.clicked.connect(self.copy)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)

    def set_text(self, text: str) -> None:
        self.edit.setText(text)
        self.edit.setCursorPosition(0)

    def text(self) -> str:
        return self.edit.text()

    @Slot()
    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.edit.text())


class Page(QWizardPage):
    """A page that may apply its values before the next page (asynchronously).

    Signals: QWizardPage's own.
    """

    def __init__(self, wizard: SetupWizard, title: str, subtitle: str) -> None:
        super().__init__(wizard)
        self.wiz = wizard
        self.ctx = wizard.ctx
        self.setTitle(title)
        self.setSubTitle(subtitle)
        self.feedback = wrapped()
        self._applied_key: object = None
        self._applying = False

    def apply_key(self) -> object:
        """What the page would apply now; None: nothing to apply."""
        return None

    def apply_change(self, new: Settings) -> str:
        """Put the page's values into ``new``; return a new password ("" if none)."""
        return ""

    def validatePage(self) -> bool:
        key = self.apply_key()
        if key is None or key == self._applied_key:
            return True
        if not self._applying:
            self._apply_then(key, next_page=True)
        return False

    def _apply_then(self, key: object, *, next_page: bool) -> None:
        self._applying = True
        say(self.feedback, "Applying…", None)

        def done() -> None:
            self._applying = False
            self._applied_key = key
            say(self.feedback, APPLIED, True)
            self.applied()
            if next_page and self.wiz.currentPage() is self:
                self.wiz.next()

        def failed(exc: BaseException) -> None:
            self._applying = False
            say(self.feedback, f"Not applied: {exc}", False)

        self.wiz.apply(self.title(), self.apply_change, done, failed)

    def applied(self) -> None:
        """Called on the GUI thread once the page's values run."""
