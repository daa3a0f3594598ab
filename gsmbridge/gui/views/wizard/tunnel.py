"""Wizard page 4: cloudflared, ngrok or no tunnel, and the public webhook URL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from gsmbridge.config import Settings
from gsmbridge.gui.bridge import connect_queued
from gsmbridge.gui.compat import emit
from gsmbridge.gui.texts import (
    TUNNEL_STATE_TEXT,
    linkify,
    path_placeholder,
)
from gsmbridge.gui.views.wizard.base import APPLIED, CopyRow, Page, say, wrapped
from gsmbridge.tunnel import ngrok_sdk
from gsmbridge.tunnel.status import TunnelStatus

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard.dialog import SetupWizard

PROGRAMS = (
    ("", "No tunnel (CometChat reaches this computer another way)"),
    ("cloudflared", "cloudflared: a free quick tunnel, no account needed"),
    ("ngrok", "ngrok: needs a free ngrok account"),
)


class TunnelPage(Page):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "Tunnel",
            "CometChat calls the webhook from the internet; a tunnel gives this computer "
            "a public https:// address.",
        )
        self.group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        box = QVBoxLayout()
        for value, label in PROGRAMS:
            radio = QRadioButton(label)
            self.group.addButton(radio)
            self.radios[value] = radio
            box.addWidget(radio)
        tunnel = wizard.draft.tunnel
        self.radios.get(tunnel.program, self.radios["cloudflared"]).setChecked(True)
        self.path = QLineEdit(tunnel.path)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.path_row = path_row
        self.token = QLineEdit(tunnel.token)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("from dashboard.ngrok.com (or “ngrok config add-authtoken”)")
        self.start_button = QPushButton("Start tunnel")
        self.start_button.clicked.connect(self.start)
        self.state = wrapped()
        self.error = wrapped(rich=True)
        self.url = CopyRow()
        form = QFormLayout(self)
        form.addRow(box)
        form.addRow("Program file", path_row)
        form.addRow("ngrok authtoken", self.token)
        start_row = QHBoxLayout()
        start_row.addWidget(self.state, 1)
        start_row.addWidget(self.start_button)
        form.addRow("State", start_row)
        form.addRow("", self.error)
        form.addRow("Webhook URL", self.url)
        form.addRow(self.feedback)
        self.form = form
        self.group.buttonToggled.connect(self._choice_changed)
        connect_queued(self.ctx.events.tunnel_changed, self.on_tunnel_changed)
        self._choice_changed()
        self.set_status(None)

    def initializePage(self) -> None:
        tunnel = getattr(self.ctx.bridge, "tunnel", None)
        self.set_status(tunnel.status if tunnel is not None else None)

    def program(self) -> str:
        return next((v for v, r in self.radios.items() if r.isChecked()), "")

    @Slot()
    def _choice_changed(self) -> None:
        program = self.program()
        # ngrok runs in-process where its SDK loads: no program file to ask for.
        builtin = program == "ngrok" and ngrok_sdk.available()
        self.form.setRowVisible(self.path_row, bool(program) and not builtin)
        self.form.setRowVisible(self.token, program == "ngrok")
        self.start_button.setText("Start tunnel" if program else "Apply")
        if program:
            self.path.setPlaceholderText(path_placeholder(program))

    @Slot()
    def browse(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "The tunnel program", self.path.text())
        if name:
            self.path.setText(name)

    def apply_key(self) -> object:
        return (self.program(), self.path.text().strip(), self.token.text().strip())

    def apply_change(self, new: Settings) -> str:
        program, path, token = self.apply_key()  # type: ignore[misc]
        new.tunnel.program = program
        # A set path alone starts a tunnel, so "no tunnel" clears it too.
        new.tunnel.path = path
        new.tunnel.token = token if program == "ngrok" else new.tunnel.token
        return ""

    @Slot()
    def start(self) -> None:
        key = self.apply_key()
        if key == self._applied_key and self.program():
            say(self.feedback, "Already applied; the state shows how it goes.", None)
            return
        self._apply_then(key, next_page=False)

    def applied(self) -> None:
        if not self.program():
            self.set_status(None)
        else:
            self._feedback_after_error()

    def _feedback_after_error(self) -> None:
        """The settings applied, but the tunnel's own error says it is not running."""
        if self.error.isVisibleTo(self) and self.feedback.text() == APPLIED:
            say(self.feedback, "Applied, but the tunnel is not running: see above.", False)

    @Slot(object)
    def on_tunnel_changed(self, status: TunnelStatus) -> None:
        self.set_status(status)

    def set_status(self, status: TunnelStatus) -> None:
        state = getattr(status, "state", "off") or "off"
        program = getattr(status, "program", "") or ""
        text = TUNNEL_STATE_TEXT.get(state, state)
        if state == "off":
            program = ""  # no tunnel now; an error of the one before no longer applies
        say(self.state, f"{program}: {text}" if program else text, True if state == "up" else None)
        error = (getattr(status, "last_error", "") or "") if state != "off" else ""
        self.error.setText(linkify(error))
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setVisible(bool(error))
        self._feedback_after_error()
        webhook = getattr(status, "webhook_url", "") or ""
        self.url.set_text(webhook)
        self.url.button.setEnabled(bool(webhook))
        emit(self.completeChanged)
