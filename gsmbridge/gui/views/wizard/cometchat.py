"""Wizard page 5: register gsmbridge in CometChat with a REST API key, or the values to
copy into the dashboard.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

from gsmbridge.config import Settings
from gsmbridge.core.cometchat import REGIONS
from gsmbridge.gui.bridge import connect_queued
from gsmbridge.gui.texts import (
    registration_text,
)
from gsmbridge.gui.views.wizard.base import CopyRow, Page, say, wrapped
from gsmbridge.tunnel.status import TunnelStatus

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard.dialog import SetupWizard

DASHBOARD_STEPS = (
    "In the CometChat dashboard open Notifications → SMS → Custom provider: enable it, "
    "paste the webhook URL, turn on Basic Authentication, and paste the user name and "
    "password."
)
STORED_PHNO_ADVICE = (
    "“Trigger only if phone number is stored”: turn it on only if your users' numbers are "
    "stored in CometChat (through its contact-details API). Otherwise keep it off, and keep "
    "the numbers in gsmbridge's Contacts tab."
)
APP_ID = re.compile(r"^[A-Za-z0-9_-]+$")


class CometChatPage(Page):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "CometChat",
            "Tell CometChat where to send SMS notifications: let gsmbridge register itself "
            "with a REST API key, or paste the details into the dashboard yourself.",
        )
        cc = wizard.draft.cometchat
        self.self_register = QRadioButton("Register gsmbridge in CometChat automatically")
        self.dashboard = QRadioButton("I will paste the details into CometChat's dashboard")
        (self.self_register if cc.api_key else self.dashboard).setChecked(True)

        self.auto_box = QGroupBox("Self-registration (needs the tunnel from the previous page)")
        self.api_key = QLineEdit(cc.api_key)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText(
            "a REST API key with fullAccess (Dashboard → API & Auth Keys)"
        )
        self.app_id = QLineEdit(cc.app_id)
        self.region = QComboBox()
        self.region.addItems(list(REGIONS))
        self.region.setCurrentText(cc.region.lower() or "us")
        self.register_button = QPushButton("Register now")
        self.register_button.clicked.connect(self.register)
        self.result = wrapped()
        auto = QFormLayout(self.auto_box)
        auto.addRow("REST API key", self.api_key)
        auto.addRow("App ID", self.app_id)
        row = QHBoxLayout()
        row.addWidget(self.region)
        row.addStretch(1)
        row.addWidget(self.register_button)
        auto.addRow("Region", row)
        auto.addRow("Result", self.result)

        self.manual_box = QGroupBox("Paste these into the dashboard")
        self.webhook = CopyRow()
        self.username = CopyRow()
        self.password = CopyRow()
        self.url_note = wrapped()
        manual = QFormLayout(self.manual_box)
        manual.addRow(wrapped(DASHBOARD_STEPS))
        manual.addRow("Webhook URL", self.webhook)
        manual.addRow("", self.url_note)
        manual.addRow("User name", self.username)
        manual.addRow("Password", self.password)

        self.stored_phno = QCheckBox("Trigger only if phone number is stored")
        self.stored_phno.setChecked(cc.use_stored_phno)
        layout = QVBoxLayout(self)
        layout.addWidget(self.self_register)
        layout.addWidget(self.dashboard)
        layout.addWidget(self.auto_box)
        layout.addWidget(self.manual_box)
        layout.addWidget(self.stored_phno)
        layout.addWidget(wrapped(STORED_PHNO_ADVICE))
        layout.addWidget(self.feedback)
        layout.addStretch(1)
        self.self_register.toggled.connect(self._mode_changed)
        connect_queued(self.ctx.events.tunnel_changed, self.on_tunnel_changed)
        self._mode_changed()

    def initializePage(self) -> None:
        tunnel = getattr(self.ctx.bridge, "tunnel", None)
        status = tunnel.status if tunnel is not None else None
        self._show_details(status)
        if status is not None and status.registration is not None:
            say(self.result, *registration_text(status.registration))

    @Slot()
    def _mode_changed(self) -> None:
        automatic = self.self_register.isChecked()
        self.auto_box.setVisible(automatic)
        self.manual_box.setVisible(not automatic)

    def _show_details(self, status: TunnelStatus) -> None:
        public = getattr(status, "webhook_url", "") or ""
        local = f"{self.ctx.bridge.url}/webhook" if self.ctx.bridge.url else ""
        self.webhook.set_text(public or local)
        if public:
            say(self.url_note, "The tunnel's public address.", None)
        else:
            say(
                self.url_note,
                "Local only: CometChat cannot reach this address. Start a tunnel (previous "
                "page) or use an address that routes to this computer.",
                False,
            )
        self.username.set_text(self.wiz.draft.auth.username)
        password = self.wiz.known_password
        self.password.set_text(password or "(the password you set before; only its hash is kept)")
        self.password.button.setEnabled(bool(password))

    @Slot(object)
    def on_tunnel_changed(self, status: TunnelStatus) -> None:
        self._show_details(status)
        if getattr(status, "registration", None) is not None:
            say(self.result, *registration_text(status.registration))

    def validatePage(self) -> bool:
        """Finish: automatic registration needs its fields; say so instead of saving."""
        problem = self.check_fields() if self.self_register.isChecked() else ""
        if problem:
            say(self.result, problem, False)
            say(
                self.feedback,
                f"{problem} to register automatically, or choose “I will paste the "
                "details into CometChat's dashboard”.",
                False,
            )
            return False
        return super().validatePage()

    def check_fields(self) -> str:
        """Why self-registration cannot start, or ""."""
        if not self.api_key.text().strip():
            return "Enter the REST API key"
        if not APP_ID.match(self.app_id.text().strip()):
            return "Enter the app ID (letters, digits, - and _)"
        return ""

    def store_into(self, new: Settings) -> None:
        """The page's values into ``new`` (also at Finish)."""
        new.cometchat.use_stored_phno = self.stored_phno.isChecked()
        if self.self_register.isChecked() and not self.check_fields():
            new.cometchat.api_key = self.api_key.text().strip()
            new.cometchat.app_id = self.app_id.text().strip()
            new.cometchat.region = self.region.currentText()
            new.cometchat.register_provider = True

    def apply_change(self, new: Settings) -> str:
        self.store_into(new)
        return ""

    @Slot()
    def register(self) -> None:
        problem = self.check_fields()
        if problem:
            say(self.result, problem, False)
            return
        if getattr(self.ctx.bridge, "tunnel", None) is None:
            say(self.result, "No tunnel runs: start one on the previous page first.", False)
            return
        before = (self.wiz.draft.auth, self.wiz.draft.cometchat)
        new = Settings()
        new.auth, new.cometchat = before
        say(self.result, "registering…", None)

        def done() -> None:
            tunnel = getattr(self.ctx.bridge, "tunnel", None)
            # Changed CometChat settings make the Bridge register; unchanged ones do not.
            if tunnel is not None and (self.wiz.draft.auth, self.wiz.draft.cometchat) == before:
                tunnel.register_now()

        self.wiz.apply("Register in CometChat", self.apply_change, done, self._not_applied)

    def _not_applied(self, exc: BaseException) -> None:
        say(self.result, f"Not applied: {exc}", False)

    def say(self, text: str, ok: bool | None) -> None:
        say(self.feedback, text, ok)
