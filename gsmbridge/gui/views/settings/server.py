"""Settings > Server: where the webhook listens, and its Basic Auth credentials."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QWidget

from gsmbridge.config import Settings
from gsmbridge.gui.compat import emit
from gsmbridge.gui.views.settings.fields import (
    PasswordField,
    parse_host,
    parse_password,
    parse_port,
    parse_username,
)
from gsmbridge.gui.views.settings.page import SettingsPage


class ServerPage(SettingsPage):
    """Host, port, user name and a new password (kept only as a hash).

    Signals:
        said(str): a short message for the dialog's status line.
    """

    title = "Server"
    said = Signal(str)

    def __init__(self, original: Settings, parent: QWidget | None = None) -> None:
        super().__init__(original, parent)
        s = original
        self.host = self.line("server.host", "Listen on", s.server.host, parse_host)
        self.port = self.line("server.port", "Port", str(s.server.port), parse_port)
        self.add_note(
            "127.0.0.1 accepts only this computer (use a tunnel); "
            "0.0.0.0 accepts the network and requires a password."
        )
        self.username = self.line("auth.username", "User name", s.auth.username, parse_username)
        self.password_field = PasswordField(
            "unchanged" if s.auth.enabled else "none set — the webhook is open"
        )
        self.password = self.password_field.edit
        self.password_field.generated.connect(self._password_generated)
        self.password_field.copied.connect(lambda: emit(self.said, "Password copied"))
        self.add_field(
            "auth.new_password",
            "New password",
            self.password_field,
            self.password,
            lambda: parse_password(self.password.text()),
        )
        self.add_note(
            "Stored as a salted scrypt hash, never as text. Paste the same "
            "user name and password into CometChat's webhook settings."
        )
        self.metrics_public = self.check(
            "server.metrics_public",
            "Let a Prometheus on this PC read /metrics without the password",
            s.server.metrics_public,
        )
        self.add_note(
            "Only while gsmbridge listens on 127.0.0.1 and no tunnel is set: a tunnel would "
            "make the figures public. Otherwise /metrics asks for the password above."
        )

    def generate_password(self) -> None:
        self.password_field.generate()

    @Slot()
    def _password_generated(self) -> None:
        if not self.username.text().strip():
            self.username.setText("cometchat")
        for key in ("auth.username", "auth.new_password"):  # what they said is fixed now
            self.fields[key].error.set_error("")
        emit(self.said, "A new password: copy it into CometChat before you save.")

    def cross_checks(self) -> dict[str, str]:
        errors = {}
        user, new_password = self.value("auth.username"), self.value("auth.new_password")
        auth = self.original.auth
        if user and not (new_password or auth.password_hash or auth.password):
            errors["auth.new_password"] = "Set a password for this user (or Generate one)"
        if new_password and not user:
            errors["auth.username"] = "Enter the user name CometChat will send"
        return errors
