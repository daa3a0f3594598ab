"""Settings > Desktop: start at login, keep-awake, the tray, masking, history, log."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QWidget

from gsmbridge.config import Settings
from gsmbridge.gui import autostart
from gsmbridge.gui.views.settings.fields import parse_int
from gsmbridge.gui.views.settings.page import SettingsPage


class DesktopPage(SettingsPage):
    """How the app behaves on this PC.  Signals: none of its own.

    ``power_note``: what Windows' power plan does now (empty elsewhere, or before the
    first start), shown under the keep-awake box.
    """

    title = "Desktop"

    def __init__(
        self, original: Settings, power_note: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(original, parent)
        s = original
        self.start_at_login = self.check(
            "gui.start_at_login",
            "Start gsmbridge at login",
            autostart.is_enabled(),  # the real entry: the installer may have made it
        )
        if autostart.disabled_by_windows():
            self.start_at_login.setToolTip(
                "Windows' Startup apps settings have gsmbridge turned off; ticking this "
                "turns it back on there."
            )
        self.keep_awake = self.check(
            "server.keep_awake",
            "Keep this PC awake while gsmbridge runs (Windows; the screen may still turn off)",
            s.server.keep_awake,
        )
        self.keep_awake.setToolTip(
            "A sleeping PC misses webhooks, and CometChat does not send them again."
        )
        self.power_note = self.add_note(power_note)
        self.power_note.setVisible(bool(power_note))
        self.close_to_tray = self.check(
            "gui.close_to_tray",
            "Closing the window keeps it running in the tray",
            s.gui.close_to_tray,
        )
        self.mask_numbers = self.check(
            "gui.mask_numbers", "Mask phone numbers in the queue and the log", s.gui.mask_numbers
        )
        self.keep_days = self.line(
            "history.keep_days",
            "Keep history (days)",
            str(s.history.keep_days),
            parse_int(0, what="a number of days (0 keeps everything)"),
        )
        self.add_note(
            "Sent, delivered, failed and cancelled jobs and replies older than this are "
            "removed. Jobs still to send are always kept."
        )
        self.log_level = QComboBox()
        self.log_level.addItems(["DEBUG", "INFO", "WARNING", "ERROR"])
        self.log_level.setCurrentText(s.logging.level.upper())
        self.add_field(
            "logging.level", "Log level", self.log_level, self.log_level, self.log_level.currentText
        )
