"""The Tunnel tab: the public webhook URL, the tunnel's state, Start/Stop, self-check
and self-registration results.

Statuses arrive as ``TunnelStatus`` snapshots from ``CoreEvents.tunnel_changed``
(queued to ``on_tunnel_changed``); the only direct read of the manager is its
``status`` property (a snapshot under a lock) when the service (re)starts.
Start/Stop change ``tunnel.program`` through ``AppContext.save_and_apply`` on
the task pool, like the Settings dialog.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.texts import (
    TUNNEL_STATE_TEXT,
    check_text,
    linkify,
    registration_text,
)
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE
from gsmbridge.tunnel.status import TunnelStatus

PROGRAM_CHOICES = (("cloudflared", "cloudflared"), ("ngrok", "ngrok"))


def _styled(label: QLabel, text: str, ok: bool | None) -> None:
    label.setText(text)
    label.setStyleSheet("" if ok is None else OK_STYLE if ok else ERROR_STYLE)


class TunnelPanel(QWidget):
    """Shows and drives the tunnel.

    Signals:
        message_posted(str): a short result for the status bar.
    """

    message_posted = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.status: TunnelStatus | None = None

        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setPlaceholderText("no public URL: start a tunnel")
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the public webhook URL for CometChat")
        self.copy_button.clicked.connect(self.copy_url)
        self.state = QLabel("off")
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.RichText)
        self.error.setOpenExternalLinks(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.error.setStyleSheet(ERROR_STYLE)
        self.program = QComboBox()
        for label, value in PROGRAM_CHOICES:
            self.program.addItem(label, value)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.check = QLabel("—")
        self.check.setWordWrap(True)
        self.check_button = QPushButton("Check now")
        self.check_button.setToolTip("Ask <public URL>/health from the internet now")
        self.check_button.clicked.connect(self.check_now)
        self.registration = QLabel("—")
        self.registration.setWordWrap(True)
        self.register_button = QPushButton("Register now")
        self.register_button.setToolTip(
            "Write the public webhook URL into CometChat's custom SMS provider "
            "(needs the REST API key, app ID and region in Settings)"
        )
        self.register_button.clicked.connect(self.register_now)
        self.note = QLabel()
        self.note.setWordWrap(True)

        box = QGroupBox("Public tunnel")
        form = QFormLayout(box)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy_button)
        form.addRow("Webhook URL", url_row)
        run_row = QHBoxLayout()
        run_row.addWidget(self.state, 1)
        run_row.addWidget(self.program)
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.stop_button)
        form.addRow("State", run_row)
        form.addRow("", self.error)
        check_row = QHBoxLayout()
        check_row.addWidget(self.check, 1)
        check_row.addWidget(self.check_button)
        form.addRow("Self-check", check_row)
        reg_row = QHBoxLayout()
        reg_row.addWidget(self.registration, 1)
        reg_row.addWidget(self.register_button)
        form.addRow("CometChat", reg_row)
        form.addRow(self.note)
        help_text = QLabel(
            "A tunnel gives this computer a public https:// address so CometChat can reach "
            "the webhook. cloudflared's free quick tunnel gets a new address at every start: "
            "let gsmbridge register it in CometChat (Settings → Tunnel & CometChat), or use "
            "a named tunnel with a fixed address."
        )
        help_text.setWordWrap(True)
        help_text.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(box)
        layout.addWidget(help_text)
        layout.addStretch(1)
        self.set_status(None)

    # -- statuses -------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the running manager's status (a cheap snapshot), e.g. after a start."""
        tunnel = getattr(self.ctx.bridge, "tunnel", None)
        self.set_status(tunnel.status if tunnel is not None else None)

    @Slot(object)
    def on_tunnel_changed(self, status: TunnelStatus) -> None:
        self.set_status(status)

    def set_status(self, status: TunnelStatus) -> None:
        self.status = status
        state = getattr(status, "state", "off") or "off"
        program = getattr(status, "program", "") or ""
        configured = self.ctx.settings.tunnel.program
        if program or configured:
            index = self.program.findData(program or configured)
            if index >= 0:
                self.program.setCurrentIndex(index)
        webhook = getattr(status, "webhook_url", "") or ""
        self.url.setText(webhook)
        self.url.setCursorPosition(0)
        self.copy_button.setEnabled(bool(webhook))
        text = TUNNEL_STATE_TEXT.get(state, state)
        if state == "off":
            program = ""  # no tunnel now: "cloudflared: off" would say one is configured
        _styled(self.state, f"{program}: {text}" if program else text, True if webhook else None)
        # An off tunnel's last error belonged to the one before (e.g. "not installed"
        # after choosing No tunnel); it no longer applies.
        error = (getattr(status, "last_error", "") or "") if state != "off" else ""
        self.error.setText(linkify(error))
        self.error.setVisible(bool(error))
        running = state != "off"
        self.start_button.setEnabled(not running)
        self.program.setEnabled(not running)
        self.stop_button.setEnabled(running)
        up = state == "up"
        self.check_button.setEnabled(up)
        self.register_button.setEnabled(up)
        _styled(self.check, *check_text(getattr(status, "self_check", None)))
        _styled(self.registration, *registration_text(getattr(status, "registration", None)))

    # -- actions ----------------------------------------------------------------------------

    @Slot()
    def copy_url(self) -> None:
        if self.url.text():
            QGuiApplication.clipboard().setText(self.url.text())
            emit(self.message_posted, f"Copied {self.url.text()}")

    def _save_tunnel(self, program: str, path: str, what: str) -> None:
        new = copy.deepcopy(self.ctx.desired)
        new.tunnel.program = program
        new.tunnel.path = path
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(False)
        self.note.setText(f"{what}…")
        self.ctx.tasks.run(
            what,
            self.ctx.save_and_apply,
            new,
            ["tunnel.program", "tunnel.path"],
            on_done=lambda _restart: self._saved(what),
            on_error=self._failed,
        )

    def _saved(self, what: str) -> None:
        self.note.setText("")
        self.note.setStyleSheet("")
        self.refresh()
        emit(self.message_posted, f"{what}: saved")

    def _failed(self, exc: BaseException) -> None:
        self.note.setText(f"Not saved: {exc}")
        self.note.setStyleSheet(ERROR_STYLE)
        self.refresh()

    @Slot()
    def start(self) -> None:
        path = self.ctx.desired.tunnel.path
        self._save_tunnel(str(self.program.currentData()), path, "Start tunnel")

    @Slot()
    def stop(self) -> None:
        # tunnel.program = "" turns the tunnel off; its path is kept for the next Start.
        self._save_tunnel("", self.ctx.desired.tunnel.path, "Stop tunnel")

    @Slot()
    def check_now(self) -> None:
        tunnel = getattr(self.ctx.bridge, "tunnel", None)
        if tunnel is not None:
            tunnel.check_now()  # sets a flag and wakes the upkeep thread: does not block
            self.check.setText("checking…")
            self.check.setStyleSheet("")

    @Slot()
    def register_now(self) -> None:
        tunnel = getattr(self.ctx.bridge, "tunnel", None)
        if tunnel is not None:
            tunnel.register_now()
            self.registration.setText("registering…")
            self.registration.setStyleSheet("")
