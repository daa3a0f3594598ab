"""The Settings dialog: every field checked on its own, then ``Settings.validate()``.

Saving runs on the pool (scrypt for a new password, the file, the Bridge)
through ``AppContext.save_and_apply``; the dialog closes when that is done.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.config import ConfigError, Settings
from gsmbridge.gui import autostart
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.views.settings_fields import (
    BAUD_RATES,
    Field,
    PasswordField,
    parse_host,
    parse_int,
    parse_modem_ports,
    parse_password,
    parse_pin,
    parse_port,
    parse_username,
)
from gsmbridge.gui.views.settings_sending import add_sending_pages
from gsmbridge.gui.views.settings_tunnel import add_tunnel_page, tunnel_cross_checks
from gsmbridge.gui.views.widgets import ERROR_STYLE, FieldError


class SettingsDialog(QDialog):
    """Edits a copy of the settings; ``save()`` validates, writes and applies them.

    Signals:
        saved(object): the settings were saved and applied (the keys that need a restart).
    """

    saved = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("gsmbridge settings")
        self.ctx = ctx
        self.original = copy.deepcopy(ctx.desired)
        s = self.original
        self.fields: dict[str, Field] = {}
        tabs = QTabWidget()

        # -- server and credentials
        page, form = self._page(tabs, "Server")
        self.host = self._line(form, "server.host", "Listen on", s.server.host, parse_host)
        self.port = self._line(form, "server.port", "Port", str(s.server.port), parse_port)
        form.addRow(
            self._note(
                "127.0.0.1 accepts only this computer (use a tunnel); "
                "0.0.0.0 accepts the network and requires a password."
            )
        )
        self.username = self._line(
            form, "auth.username", "User name", s.auth.username, parse_username
        )
        self.password_field = PasswordField(
            "unchanged" if s.auth.enabled else "none set — the webhook is open"
        )
        self.password = self.password_field.edit
        self.password_field.generated.connect(self._password_generated)
        self.password_field.copied.connect(lambda: self.status.setText("Password copied"))
        self._add_field(
            form,
            "auth.new_password",
            "New password",
            self.password_field,
            self.password,
            lambda: parse_password(self.password.text()),
        )
        form.addRow(
            self._note(
                "Stored as a salted scrypt hash, never as text. Paste the same "
                "user name and password into CometChat's webhook settings."
            )
        )

        # -- modem
        page, form = self._page(tabs, "Modem")
        self.modem_port = QComboBox()
        self.modem_port.setEditable(True)
        self.modem_port.addItems(["sim"])
        self.modem_port.setEditText(", ".join(s.modem.port))
        self._add_field(
            form,
            "modem.port",
            "Port(s)",
            self.modem_port,
            self.modem_port,
            lambda: parse_modem_ports(self.modem_port.currentText()),
        )
        form.addRow(
            self._note(
                "COM3, /dev/ttyUSB2, socket://host:port, rfc2217://…, or sim "
                "for the built-in simulator. Several: separate with commas."
            )
        )
        self.baud = QComboBox()
        self.baud.setEditable(True)
        self.baud.addItems(BAUD_RATES)
        self.baud.setEditText(str(s.modem.baudrate))
        self._add_field(
            form,
            "modem.baudrate",
            "Speed (baud)",
            self.baud,
            self.baud,
            lambda: parse_int(1, what="a speed such as 115200")(self.baud.currentText()),
        )
        self.pin = self._line(form, "modem.pin", "SIM PIN", s.modem.pin, parse_pin)
        self.pin.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(
            self._note(
                "Entered automatically at start. A wrong PIN is never retried: "
                "three wrong PINs lock the SIM."
            )
        )

        add_sending_pages(self, tabs)
        add_tunnel_page(self, tabs)

        # -- desktop
        page, form = self._page(tabs, "Desktop")
        self.start_at_login = self._check(
            form,
            "gui.start_at_login",
            "Start gsmbridge at login",
            autostart.is_enabled(),  # the real entry: the installer may have made it
        )
        if autostart.disabled_by_windows():
            self.start_at_login.setToolTip(
                "Windows' Startup apps settings have gsmbridge turned off; ticking this "
                "turns it back on there."
            )
        self.keep_awake = self._check(
            form,
            "server.keep_awake",
            "Keep this PC awake while gsmbridge runs (Windows; the screen may still turn off)",
            s.server.keep_awake,
        )
        self.keep_awake.setToolTip(
            "A sleeping PC misses webhooks, and CometChat does not send them again."
        )
        # What Windows' power plan does now (empty elsewhere, or before the first start).
        self.power_note = self._note(getattr(ctx.bridge, "power_note", ""))
        self.power_note.setVisible(bool(self.power_note.text()))
        form.addRow(self.power_note)
        self.close_to_tray = self._check(
            form,
            "gui.close_to_tray",
            "Closing the window keeps it running in the tray",
            s.gui.close_to_tray,
        )
        self.mask_numbers = self._check(
            form,
            "gui.mask_numbers",
            "Mask phone numbers in the queue and the log",
            s.gui.mask_numbers,
        )
        self.keep_days = self._line(
            form,
            "history.keep_days",
            "Keep history (days)",
            str(s.history.keep_days),
            parse_int(0, what="a number of days (0 keeps everything)"),
        )
        form.addRow(
            self._note(
                "Sent, delivered, failed and cancelled jobs and replies older than this are "
                "removed. Jobs still to send are always kept."
            )
        )
        self.log_level = QComboBox()
        self.log_level.addItems(["DEBUG", "INFO", "WARNING", "ERROR"])
        self.log_level.setCurrentText(s.logging.level.upper())
        self._add_field(
            form,
            "logging.level",
            "Log level",
            self.log_level,
            self.log_level,
            self.log_level.currentText,
        )

        self.general_error = QLabel()
        self.general_error.setStyleSheet(ERROR_STYLE)
        self.general_error.setWordWrap(True)
        self.general_error.hide()
        self.status = QLabel()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.general_error)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        self.tabs = tabs
        self.resize(620, 520)

    # -- building ----------------------------------------------------------------------------

    def _page(self, tabs: QTabWidget, title: str) -> tuple[QWidget, QFormLayout]:
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        tabs.addTab(page, title)
        return page, form

    @staticmethod
    def _note(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setStyleSheet("color: palette(placeholder-text);")
        return label

    def _add_field(
        self,
        form: QFormLayout,
        key: str,
        label: str,
        layout_item: Any,
        widget: QWidget,
        read: Callable[[], Any],
    ) -> None:
        error = FieldError()
        box = QVBoxLayout()
        box.setSpacing(2)
        if isinstance(layout_item, QWidget):
            box.addWidget(layout_item)
        else:
            box.addLayout(layout_item)
        box.addWidget(error)
        form.addRow(label, box)
        self.fields[key] = Field(key, widget, error, read)
        if isinstance(widget, QLineEdit):
            widget.editingFinished.connect(self._check_sender)
        elif isinstance(widget, QComboBox) and widget.isEditable():
            widget.lineEdit().editingFinished.connect(self._check_sender)

    def _line(
        self, form: QFormLayout, key: str, label: str, value: str, parse: Callable[[str], Any]
    ) -> QLineEdit:
        edit = QLineEdit(value)
        self._add_field(form, key, label, edit, edit, lambda: parse(edit.text()))
        return edit

    def _check(self, form: QFormLayout, key: str, text: str, value: bool) -> QCheckBox:
        box = QCheckBox(text)
        box.setChecked(value)
        form.addRow("", box)
        self.fields[key] = Field(key, box, FieldError(), box.isChecked)
        return box

    # -- password helpers ---------------------------------------------------------------------

    def generate_password(self) -> None:
        self.password_field.generate()

    @Slot()
    def _password_generated(self) -> None:
        if not self.username.text().strip():
            self.username.setText("cometchat")
        self.status.setText("A new password: copy it into CometChat before you save.")

    # -- validation ---------------------------------------------------------------------------

    @Slot()
    def _check_sender(self) -> None:
        sender = self.sender()
        for f in self.fields.values():
            owner = f.widget.lineEdit() if isinstance(f.widget, QComboBox) else f.widget
            if owner is sender:
                try:
                    f.read()
                    f.error.set_error("")
                except ValueError as exc:
                    f.error.set_error(str(exc))

    def validate(self) -> dict[str, str]:
        """Check every field; show and return {key: message} for the bad ones."""
        errors: dict[str, str] = {}
        for f in self.fields.values():
            try:
                f.read()
            except ValueError as exc:
                errors[f.key] = str(exc)
        if not errors:
            errors.update(self._cross_checks())
        for key, f in self.fields.items():
            f.error.set_error(errors.get(key, ""))
        return errors

    def _cross_checks(self) -> dict[str, str]:
        errors = {}
        user = self.fields["auth.username"].read()
        new_password = self.fields["auth.new_password"].read()
        has_secret = bool(
            new_password or self.original.auth.password_hash or self.original.auth.password
        )
        if user and not has_secret:
            errors["auth.new_password"] = "Set a password for this user (or Generate one)"
        if new_password and not user:
            errors["auth.username"] = "Enter the user name CometChat will send"
        base, longest = (
            self.fields["retry.base_delay_s"].read(),
            self.fields["retry.max_delay_s"].read(),
        )
        if longest < base:
            errors["retry.max_delay_s"] = "The longest wait cannot be shorter than the first"
        errors.update(tunnel_cross_checks(self))
        return errors

    def build(self) -> tuple[Settings | None, str, dict[str, str]]:
        """(settings, new password, errors); settings is None while anything is wrong."""
        self.general_error.hide()
        errors = self.validate()
        if errors:
            return None, "", errors
        new = copy.deepcopy(self.original)
        for key, f in self.fields.items():
            if key == "auth.new_password":
                continue
            section, name = key.split(".", 1)
            setattr(getattr(new, section), name, f.read())
        if not new.auth.username:
            new.auth.password_hash = new.auth.password = ""  # no user: auth off entirely
        password = self.fields["auth.new_password"].read()
        try:
            new.validate()  # the final word, naming the key
        except ConfigError as exc:
            message = str(exc)
            key = message.split(" ", 1)[0]
            if key in self.fields:
                self.fields[key].error.set_error(message)
            else:
                self.general_error.setText(message)
                self.general_error.show()
            return None, "", {key: message}
        return new, password, {}

    # -- saving ---------------------------------------------------------------------------------

    @Slot()
    def save(self) -> None:
        new, password, errors = self.build()
        if new is None:
            self.status.setText(f"{len(errors)} field(s) need attention")
            return
        self.buttons.setEnabled(False)
        self.status.setText("Saving…")
        self.ctx.tasks.run(
            "Save settings",
            self.ctx.save_and_apply,
            new,
            None,
            password or None,
            on_done=self._saved,
            on_error=self._save_failed,
        )

    def _saved(self, restart: list[str]) -> None:
        self.buttons.setEnabled(True)
        self.status.setText("Saved")
        emit(self.saved, restart)
        self.accept()

    def _save_failed(self, exc: BaseException) -> None:
        self.buttons.setEnabled(True)
        self.status.setText("")
        self.general_error.setText(f"Not saved: {exc}")
        self.general_error.show()
