"""The Settings dialog: pages that check their own fields, then the settings' own
rules (``Settings.failed_checks``, the one home of the range rules, by key).

Saving runs on the pool (scrypt for a new password, the file, the Bridge)
through ``AppContext.save_and_apply``; the dialog closes when that is done.
"""

from __future__ import annotations

import copy

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gsmbridge.config import Settings, changed_keys
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.views.settings.desktop import DesktopPage
from gsmbridge.gui.views.settings.fields import Field
from gsmbridge.gui.views.settings.modem import ModemPage
from gsmbridge.gui.views.settings.page import SettingsPage
from gsmbridge.gui.views.settings.replies import RepliesPage
from gsmbridge.gui.views.settings.sending import LimitsPage, SendingPage
from gsmbridge.gui.views.settings.server import ServerPage
from gsmbridge.gui.views.settings.tunnel import TunnelPage
from gsmbridge.gui.views.widgets import ERROR_STYLE

NEW_PASSWORD = "auth.new_password"  # the dialog's own field: hashed on save, never stored


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
        self.server = ServerPage(s)
        self.modem = ModemPage(s)
        self.sending = SendingPage(s)
        self.limits = LimitsPage(s)
        self.tunnel = TunnelPage(s)
        self.replies = RepliesPage(s)
        self.desktop = DesktopPage(s, ctx.bridge.power.note)
        self.pages: tuple[SettingsPage, ...] = (
            self.server,
            self.modem,
            self.sending,
            self.limits,
            self.tunnel,
            self.replies,
            self.desktop,
        )
        self.tabs = QTabWidget()
        for page in self.pages:
            self.tabs.addTab(page, page.title)
        self.fields: dict[str, Field] = {k: f for p in self.pages for k, f in p.fields.items()}
        self.server.said.connect(self._say)

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
        layout.addWidget(self.tabs)
        layout.addWidget(self.general_error)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)
        self.resize(620, 520)

    @Slot(str)
    def _say(self, text: str) -> None:
        self.status.setText(text)

    def generate_password(self) -> None:
        self.server.generate_password()

    # -- validation ---------------------------------------------------------------------------

    def validate(self) -> dict[str, str]:
        """Check every field, then each page's rules, then the settings' own rules; show
        and return {key: message} for the bad ones."""
        errors = self._check()[1]
        self._show(errors)
        return errors

    def _show(self, errors: dict[str, str]) -> None:
        for key, f in self.fields.items():
            f.error.set_error(errors.get(key, ""))
        # A mark on every tab that holds a wrong field: it may not be the one on show.
        for index, page in enumerate(self.pages):
            wrong = any(key in page.fields for key in errors)
            self.tabs.setTabText(index, page.title + (" ⚠" if wrong else ""))
        general = [message for key, message in errors.items() if key not in self.fields]
        self.general_error.setText("\n".join(general))
        self.general_error.setVisible(bool(general))

    def _check(self) -> tuple[Settings | None, dict[str, str]]:
        errors: dict[str, str] = {}
        for f in self.fields.values():
            try:
                f.read()
            except ValueError as exc:
                errors[f.key] = str(exc)
        if errors:
            return None, errors
        for page in self.pages:
            errors.update(page.cross_checks())
        if errors:
            return None, errors
        new = copy.deepcopy(self.original)
        for key, f in self.fields.items():
            if key != NEW_PASSWORD:
                section, name = key.split(".", 1)
                setattr(getattr(new, section), name, f.read())
        if not new.auth.username:
            new.auth.password_hash = new.auth.password = ""  # no user: auth off entirely
        failed = new.failed_checks()
        if failed:
            return None, dict(failed)
        new.validate()  # passes now; normalises (the region in capitals)
        return new, {}

    def build(self) -> tuple[Settings | None, str, dict[str, str]]:
        """(settings, new password, errors); settings is None while anything is wrong."""
        new, errors = self._check()
        self._show(errors)
        if new is None:
            return None, "", errors
        return new, self.fields[NEW_PASSWORD].read(), {}

    # -- saving ---------------------------------------------------------------------------------

    @Slot()
    def save(self) -> None:
        new, password, errors = self.build()
        if new is None:
            pages = [p for p in self.pages if any(key in p.fields for key in errors)]
            names = ", ".join(p.title.replace("&&", "&") for p in pages)
            self.status.setText(
                f"{len(errors)} field(s) need attention" + (f" on {names}" if names else "")
            )
            if pages and self.tabs.currentWidget() not in pages:
                self.tabs.setCurrentWidget(pages[0])  # show the first of them
            return
        self.buttons.setEnabled(False)
        self.status.setText("Saving…")
        self.ctx.tasks.run(
            "Save settings",
            self.ctx.save_and_apply,
            new,
            changed_keys(self.original, new),  # what was changed here, nothing else
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
