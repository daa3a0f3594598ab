"""The setup wizard's pages (see ``wizard.py`` for how they apply and save).

Blocking work (hashing, probing ports, sending, applying settings) runs on the
task pool; core events reach the pages as queued signals to their slots.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QGuiApplication, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from gsmbridge.config import Settings, valid_pin
from gsmbridge.gui.bridge import connect_queued
from gsmbridge.gui.compat import emit
from gsmbridge.gui.texts import PIN_WARNING, modem_summary
from gsmbridge.gui.views.settings.fields import PasswordField, parse_username
from gsmbridge.gui.views.widgets import ERROR_STYLE, OK_STYLE

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard import SetupWizard

SIM_NOTE = (
    "<b>Simulated modem: nothing is really sent.</b> The test SMS only appears in the "
    "simulator's outbox (Modem tab)."
)
DASHBOARD_STEPS = (
    "In the CometChat dashboard: Notifications → SMS → Custom provider. Enable it, paste "
    "the webhook URL, turn on Basic Authentication and paste the user name and password."
)
STORED_PHNO_ADVICE = (
    "Turn this on only if your users' phone numbers are stored in CometChat (through the "
    "contact-details API): CometChat then notifies only users with a number. Otherwise "
    "keep it off and keep the numbers in gsmbridge's Contacts tab."
)
APP_ID = re.compile(r"^[A-Za-z0-9_-]+$")
APPLIED = "Applied."


def probe_ports(in_use: list[str]) -> list[tuple[str, str, bool]]:
    """(device, description, answers AT) for each serial port; runs on the pool."""
    from gsmbridge.modem.ports import list_ports, probe, same_device

    found = []
    for port in list_ports():
        described = port.label
        if any(same_device(port.device, used) for used in in_use):
            found.append((port.device, "in use by gsmbridge now", True))
            continue
        result = probe(port.device, timeout=1.5)
        if result.answers:
            about = " · ".join(x for x in (result.manufacturer, result.model) if x)
            imei = f"IMEI {result.imei}" if result.imei else ""
            text = " · ".join(x for x in (about or described, imei, "answers AT") if x)
            found.append((port.device, text, True))
        else:
            why = result.error or "no answer to AT"
            found.append((port.device, " · ".join(x for x in (described, why) if x), False))
    return found


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


# -- a. credentials -----------------------------------------------------------------------


class CredentialsPage(Page):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "Webhook credentials",
            "CometChat sends every notification with this user name and password "
            "(Basic Auth), so nobody else can send SMS through your SIM.",
        )
        auth = wizard.draft.auth
        self.username = QLineEdit(auth.username or "cometchat")
        self.keep = QCheckBox("Keep the current password")
        self.keep.setVisible(auth.enabled)
        self.keep.setChecked(auth.enabled)
        self.password = PasswordField("a new password")
        if not auth.enabled:
            self.password.generate()
        self.password.edit.textChanged.connect(self.completeChanged)
        self.username.textChanged.connect(self.completeChanged)
        self.keep.toggled.connect(self._keep_toggled)
        form = QFormLayout(self)
        form.addRow("User name", self.username)
        form.addRow("", self.keep)
        form.addRow("Password", self.password)
        form.addRow(
            wrapped(
                "Copy the password now if you will paste it into CometChat's dashboard. "
                "gsmbridge saves only a salted scrypt hash of it; the plain password is "
                "kept in memory while the app runs, so it can register itself in CometChat."
            )
        )
        form.addRow(self.feedback)
        self._keep_toggled(self.keep.isChecked())

    @Slot(bool)
    def _keep_toggled(self, keep: bool) -> None:
        self.password.setEnabled(not keep)
        emit(self.completeChanged)

    def new_password(self) -> str:
        return "" if self.keep.isChecked() else self.password.text()

    def isComplete(self) -> bool:
        try:
            user = parse_username(self.username.text())
        except ValueError:
            return False
        return bool(user) and (self.keep.isChecked() or len(self.password.text()) >= 8)

    def apply_key(self) -> object:
        return (self.username.text().strip(), self.new_password())

    def apply_change(self, new: Settings) -> str:
        new.auth.username = self.username.text().strip()
        return self.new_password()


# -- b. modem -------------------------------------------------------------------------------


class ModemPage(Page):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "Modem",
            "Choose the USB GSM modem, or the simulator to try gsmbridge without one.",
        )
        self.choices = QListWidget()
        self.choices.currentItemChanged.connect(self._selection_changed)
        self.detect_button = QPushButton("Detect again")
        self.detect_button.clicked.connect(self.detect)
        self.use_button = QPushButton("Use this modem")
        self.use_button.clicked.connect(self.use_selected)
        self.state = wrapped()
        self.pin_box = QGroupBox("SIM PIN")
        self.pin = QLineEdit()
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin.setValidator(QRegularExpressionValidator(r"\d{0,8}"))
        self.pin.setPlaceholderText("4 to 8 digits")
        self.pin_button = QPushButton("Unlock")
        self.pin_button.clicked.connect(self.submit_pin)
        warning = wrapped(PIN_WARNING)
        warning.setStyleSheet(ERROR_STYLE)
        pin_row = QHBoxLayout()
        pin_row.addWidget(self.pin, 1)
        pin_row.addWidget(self.pin_button)
        pin_layout = QVBoxLayout(self.pin_box)
        pin_layout.addWidget(warning)
        pin_layout.addLayout(pin_row)
        self.pin_box.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.feedback, 1)
        buttons.addWidget(self.detect_button)
        buttons.addWidget(self.use_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.choices, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.state)
        layout.addWidget(self.pin_box)
        self.statuses: dict[str, Any] = {}
        self._detected = False
        connect_queued(self.ctx.events.modem_status_changed, self.on_modem_status)
        self.ctx.started.connect(self._service_changed)
        self.ctx.busy_changed.connect(self._service_changed)
        self._fill([])

    def initializePage(self) -> None:
        for status in self.ctx.bridge.modem_statuses():  # in-memory snapshots: cheap
            self.statuses[status.port] = status
        self._show_state()
        if not self._detected:
            self.detect()

    def _fill(self, ports: list[tuple[str, str, bool]]) -> None:
        running = self.ctx.settings.modem.port
        current = self.selected() or (running[0] if running else "sim")
        self.choices.clear()
        entries = [("sim", "Use the simulated modem (no real SMS)", True), *ports]
        known = {device for device, _, _ in entries}
        entries += [(p, "configured", True) for p in running if p not in known]
        for device, text, answers in entries:
            label = text if device == "sim" else f"{device} — {text}"
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, device)
            if not answers:
                item.setForeground(self.palette().placeholderText())
            self.choices.addItem(item)
            if device == current:
                self.choices.setCurrentItem(item)

    def selected(self) -> str:
        item = self.choices.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    @Slot()
    def detect(self) -> None:
        self._detected = True
        self.detect_button.setEnabled(False)
        say(self.feedback, "Looking for modems (each port is asked AT)…", None)
        self.ctx.tasks.run(
            "Detect modems",
            probe_ports,
            list(self.ctx.settings.modem.port),
            on_done=self._detected_ports,
            on_error=self._detect_failed,
        )

    def _detected_ports(self, ports: list[tuple[str, str, bool]]) -> None:
        self.detect_button.setEnabled(True)
        self._fill(ports)
        modems = sum(1 for _, _, answers in ports if answers)
        if ports:
            say(self.feedback, f"{len(ports)} serial port(s), {modems} answer AT.", None)
        else:
            from gsmbridge.modem.errors import no_ports_text

            say(self.feedback, no_ports_text(), None)

    def _detect_failed(self, exc: BaseException) -> None:
        self.detect_button.setEnabled(True)
        say(self.feedback, f"Could not list ports: {exc}", False)

    @Slot()
    def _selection_changed(self) -> None:
        self._show_state()
        emit(self.completeChanged)

    @Slot()
    def _service_changed(self) -> None:
        self.statuses = {s.port: s for s in self.ctx.bridge.modem_statuses()}
        self._show_state()
        emit(self.completeChanged)

    def in_use(self) -> bool:
        return self.ctx.settings.modem.port == [self.selected()] and not self.ctx.starting

    def isComplete(self) -> bool:
        return self.in_use()

    @Slot()
    def use_selected(self) -> None:
        port = self.selected()
        if not port or self.in_use():
            return
        self.use_button.setEnabled(False)
        say(self.feedback, f"Switching to {port}…", None)

        def change(new: Settings) -> str:
            new.modem.port = [port]
            return ""

        self.wiz.apply("Use modem", change, self._switched, self._switch_failed)

    def _switched(self) -> None:
        self.use_button.setEnabled(True)
        say(self.feedback, "Restarting the service with this modem…", None)

    def _switch_failed(self, exc: BaseException) -> None:
        self.use_button.setEnabled(True)
        say(self.feedback, f"Not switched: {exc}", False)

    @Slot(object)
    def on_modem_status(self, status: Any) -> None:
        self.statuses[status.port] = status
        self._show_state()

    def _show_state(self) -> None:
        port = self.selected()
        status = self.statuses.get(port) if self.in_use() else None
        self.use_button.setEnabled(bool(port) and not self.in_use())
        if status is None:
            say(self.state, "Press “Use this modem” to connect to it." if port else "", None)
            self.pin_box.hide()
            return
        text = f"{'Simulated modem' if status.simulated else port}: {modem_summary(status)}"
        if status.state == "ready" and status.signal_dbm is not None:
            text += f" · signal {status.signal_dbm} dBm ({status.signal_bars}/5)"
        say(self.state, text, status.state == "ready")
        self.pin_box.setVisible(status.state == "pin-required")

    @Slot()
    def submit_pin(self) -> None:
        pin = self.pin.text()
        if not valid_pin(pin):
            say(self.feedback, "A PIN is 4 to 8 digits", False)
            return
        self.pin.clear()
        self.pin_button.setEnabled(False)
        self.ctx.tasks.run(
            "Enter PIN",
            self.ctx.bridge.enter_pin,
            pin,
            self.selected(),
            on_done=lambda _r: self._pin_done("PIN sent to the modem", True),
            on_error=lambda exc: self._pin_done(f"PIN not sent: {exc}", False),
        )

    def _pin_done(self, message: str, ok: bool) -> None:
        self.pin_button.setEnabled(True)
        say(self.feedback, message, ok)
