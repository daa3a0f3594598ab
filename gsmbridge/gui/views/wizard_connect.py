"""The setup wizard's later pages: a test SMS, the tunnel, CometChat."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
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
from gsmbridge.gui.compat import emit
from gsmbridge.gui.texts import (
    TUNNEL_STATE_TEXT,
    linkify,
    path_placeholder,
    registration_text,
)
from gsmbridge.gui.views.number_dialog import check_number
from gsmbridge.gui.views.wizard_pages import APPLIED, CopyRow, Page, say, wrapped
from gsmbridge.tunnel import ngrok_sdk

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard import SetupWizard

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
PROGRAMS = (
    ("", "No tunnel (CometChat reaches this computer another way)"),
    ("cloudflared", "cloudflared: a free quick tunnel, no account needed"),
    ("ngrok", "ngrok: needs a free ngrok account"),
)
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


# -- c. test SMS ---------------------------------------------------------------------------


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
            self.ctx.bridge.send_test,
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


# -- d. tunnel --------------------------------------------------------------------------------


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
    def on_tunnel_changed(self, status: Any) -> None:
        self.set_status(status)

    def set_status(self, status: Any) -> None:
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


# -- e. CometChat -----------------------------------------------------------------------------


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

    def _show_details(self, status: Any) -> None:
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
    def on_tunnel_changed(self, status: Any) -> None:
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
