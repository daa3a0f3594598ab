"""The SIM PIN entry the Modem tab and the wizard share: the warning, the field, Unlock.

A PIN goes to the modem through the service on the task pool, once per press: three
wrong PINs lock the SIM, so nothing here ever retries one.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from gsmbridge.config import valid_pin
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.texts import pin_warning
from gsmbridge.gui.views.widgets import ERROR_STYLE
from gsmbridge.modem.status import ModemState, ModemStatus


class PinEntry(QGroupBox):
    """Asks for the PIN of the SIM in the modem ``port()`` names (None: every modem
    waiting for one); hidden until shown.

    Signals:
        said(str, bool): what happened, for the host's message line (ok or not).
    """

    said = Signal(str, bool)

    def __init__(self, ctx: AppContext, port: Callable[[], str | None]) -> None:
        super().__init__("SIM PIN")
        self.ctx = ctx
        self._port = port
        self.warning = QLabel(pin_warning(None))
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(ERROR_STYLE)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setValidator(QRegularExpressionValidator(r"\d{0,8}"))
        self.edit.setPlaceholderText("4 to 8 digits")
        self.edit.returnPressed.connect(self.submit)
        self.button = QPushButton("Unlock")
        self.button.clicked.connect(self.submit)
        row = QHBoxLayout()
        row.addWidget(self.edit, 1)
        row.addWidget(self.button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.warning)
        layout.addLayout(row)
        self.hide()

    def show_for(self, status: ModemStatus | None) -> None:
        """Shown while the modem waits for a PIN, with the tries left when it says."""
        waiting = status is not None and status.state == ModemState.PIN_REQUIRED
        self.warning.setText(pin_warning(status.pin_tries if status is not None else None))
        self.setVisible(waiting)

    @Slot()
    def submit(self) -> None:
        pin = self.edit.text()
        if not valid_pin(pin):
            emit(self.said, "A PIN is 4 to 8 digits", False)
            return
        self.edit.clear()
        self.button.setEnabled(False)  # one PIN at a time: a second could be the third
        self.ctx.tasks.run(
            "Enter PIN",
            self.ctx.bridge.modems.enter_pin,
            pin,
            self._port(),
            on_done=self._sent,
            on_error=self._failed,
        )

    def _sent(self, _result: object) -> None:
        self.button.setEnabled(True)
        emit(self.said, "PIN sent to the modem: its state says whether the SIM took it", True)

    def _failed(self, exc: BaseException) -> None:
        self.button.setEnabled(True)
        emit(self.said, f"PIN not sent: {exc}", False)
