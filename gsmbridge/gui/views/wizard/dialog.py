"""The setup wizard: credentials, modem, test SMS, tunnel, CometChat (first run, or
from the menu).

The pages work on a draft of the settings.  What a later page needs running
(the credentials before a tunnel may open, the modem before a test SMS, the
tunnel before self-registration) is applied to the running Bridge as the user
goes, on the task pool; nothing is written until Finish, which saves through
``AppContext.save_and_apply`` like the Settings dialog.  Cancel puts the
running Bridge back as it was.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget, QWizard

from gsmbridge.config import (
    AUTH_KEYS,
    Settings,
    apply_new_password,
    changed_keys,
    get_key,
    restart_keys,
    set_key,
)
from gsmbridge.gui.compat import emit
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.views.wizard.cometchat import CometChatPage
from gsmbridge.gui.views.wizard.credentials import CredentialsPage
from gsmbridge.gui.views.wizard.modem import ModemPage
from gsmbridge.gui.views.wizard.sms import TestSmsPage
from gsmbridge.gui.views.wizard.tunnel import TunnelPage


def apply_live(
    ctx: AppContext, new: Settings, password: str = "", keep: Sequence[str] = ()
) -> Settings:
    """On the pool: hash a new password, apply ``new`` to the running Bridge; return it.

    The plain password stays in the settings in memory (self-registration sends
    it); ``save_settings`` never writes it.  ``keep``: keys left as they run (see
    ``LiveSettings.apply``).
    """
    new = copy.deepcopy(new)
    if password:
        apply_new_password(new, password)
    new.validate()
    ctx.bridge.live.apply(new, keep=keep)  # ``new`` gets the kept keys' running values
    return new


class SetupWizard(QWizard):
    """Five pages; Finish saves and applies.

    Signals:
        saved(object): the settings were saved and applied (the keys that need a restart).
    """

    saved = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("gsmbridge setup")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.initial = copy.deepcopy(ctx.desired)
        self.draft = copy.deepcopy(ctx.desired)
        self.password = ""  # the new plain password (this session only)
        self.applied = False  # the running Bridge differs from ``initial``
        self.saving = False
        self.credentials = CredentialsPage(self)
        self.modem = ModemPage(self)
        self.test_sms = TestSmsPage(self)
        self.tunnel = TunnelPage(self)
        self.cometchat = CometChatPage(self)
        for page in (self.credentials, self.modem, self.test_sms, self.tunnel, self.cometchat):
            self.addPage(page)
        self.resize(720, 560)

    @property
    def known_password(self) -> str:
        """The plain password if this session knows it ("" when only a hash exists)."""
        return self.password or self.draft.auth.password

    # -- applying as we go ---------------------------------------------------------------

    def apply(
        self,
        what: str,
        change: Callable[[Settings], str],
        on_done: Callable[[], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        """Change the draft (``change`` returns a new password or "") and apply it to the
        running Bridge (on the pool)."""
        new = copy.deepcopy(self.draft)
        password = change(new)
        # Not changed here: the running ones (set-password may have changed them).  A new
        # password is hashed on the pool, so its keys still read as the initial ones here.
        touched = {"auth.password_hash", "auth.password"} if password else set()
        untouched = [
            k for k in AUTH_KEYS if k not in touched and get_key(new, k) == get_key(self.initial, k)
        ]

        def done(applied: Settings) -> None:
            self.draft = applied
            if password:
                self.password = password
            self.applied = True
            restart = [k for k in restart_keys() if get_key(applied, k) != get_key(self.initial, k)]
            moved = [k for k in restart if get_key(self.ctx.settings, k) != get_key(applied, k)]
            if moved:
                # A new modem port needs a new Bridge: restart with the draft's values.
                for key in moved:
                    set_key(self.ctx.desired, key, get_key(applied, key))
                self.ctx.restart_bridge()
            on_done()

        self.ctx.tasks.run(
            what, apply_live, self.ctx, new, password, untouched, on_done=done, on_error=on_error
        )

    # -- finishing ---------------------------------------------------------------------------

    def final_settings(self) -> tuple[Settings, list[str]]:
        final = copy.deepcopy(self.draft)
        self.cometchat.store_into(final)
        keys = changed_keys(self.initial, final)
        if self.password:
            keys += [k for k in AUTH_KEYS if k not in keys]
        return final, keys

    def accept(self) -> None:
        if self.saving:
            return
        if not self.validateCurrentPage():  # QWizard checks only in done(): after saving
            return
        final, keys = self.final_settings()
        self.saving = True
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        self.cometchat.say("Saving…", None)
        self.ctx.tasks.run(
            "Save setup",
            self.ctx.save_and_apply,
            final,
            keys,
            None,  # hashed already, and the plain one must stay in memory
            on_done=self._saved,
            on_error=self._save_failed,
        )

    def _saved(self, restart: list[str]) -> None:
        self.saving = False
        self.applied = False
        emit(self.saved, restart)
        super().accept()

    def _save_failed(self, exc: BaseException) -> None:
        self.saving = False
        self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        self.cometchat.say(f"Not saved: {exc}", False)

    def reject(self) -> None:
        if self.saving:
            return
        if self.applied:
            self._revert()
        super().reject()

    def _revert(self) -> None:
        """Cancel: the running Bridge goes back to the saved settings."""
        self.applied = False
        initial = copy.deepcopy(self.initial)
        kept = () if self.password else AUTH_KEYS  # none set here: the running credentials
        moved = [k for k in restart_keys() if get_key(self.ctx.desired, k) != get_key(initial, k)]

        def reverted(_result: Any) -> None:
            if moved:
                for key in moved:
                    set_key(self.ctx.desired, key, get_key(initial, key))
                self.ctx.restart_bridge()

        self.ctx.tasks.run(
            "Undo setup changes",
            functools.partial(self.ctx.bridge.live.apply, initial, keep=kept),
            on_done=reverted,
        )


__all__ = ["SetupWizard", "apply_live"]
