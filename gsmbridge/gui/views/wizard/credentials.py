"""Wizard page 1: the webhook's user name and a generated password."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLineEdit,
)

from gsmbridge.config import Settings
from gsmbridge.gui.compat import emit
from gsmbridge.gui.views.settings.fields import PasswordField, parse_username
from gsmbridge.gui.views.wizard.base import Page, say, wrapped

if TYPE_CHECKING:
    from gsmbridge.gui.views.wizard.dialog import SetupWizard


class CredentialsPage(Page):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__(
            wizard,
            "Webhook credentials",
            "CometChat sends every notification with this user name and password "
            "(Basic Auth), so nobody else can send SMS through your SIM.",
        )
        auth = wizard.draft.auth
        self._said_why = False
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

    def missing(self) -> str:
        """What keeps Next greyed out, in words ("" when nothing)."""
        try:
            user = parse_username(self.username.text())
        except ValueError as exc:
            return str(exc)
        if not user:
            return "Enter the user name CometChat will send"
        if not self.keep.isChecked() and len(self.password.text()) < 8:
            return "Use a password of at least 8 characters (or Generate one)"
        return ""

    def isComplete(self) -> bool:
        why = self.missing()
        # Next is greyed out: say why, under the fields (never a silent grey button);
        # once fixed, take the reason away (and only it: not an "Applied.").
        if why or self._said_why:
            say(self.feedback, why, False if why else None)
        self._said_why = bool(why)
        return not why

    def apply_key(self) -> object:
        return (self.username.text().strip(), self.new_password())

    def apply_change(self, new: Settings) -> str:
        new.auth.username = self.username.text().strip()
        return self.new_password()
