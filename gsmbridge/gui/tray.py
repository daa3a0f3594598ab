"""The tray icon: coloured by state, a small menu, and desktop notifications."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from gsmbridge.gui.compat import emit
from gsmbridge.gui.icons import tray_icon
from gsmbridge.modem.status import ModemState, ModemStatus

TOOLTIPS = {
    "ok": "gsmbridge: running",
    "sending": "gsmbridge: sending",
    "problem": "gsmbridge: needs attention",
}


def tray_state(
    counts: dict[str, int],
    statuses: list[ModemStatus],
    *,
    problem: bool = False,
    paused: bool = False,
) -> str:
    """ok, sending or problem: what the icon should say at a glance."""
    if problem or paused:
        return "problem"
    if statuses and not any(s.state == ModemState.READY for s in statuses):
        return "problem"
    if counts.get("sending", 0) or counts.get("queued", 0):
        return "sending"
    return "ok"


class Tray(QObject):
    """Owns the QSystemTrayIcon; create it only when a tray is available.

    Signals:
        show_requested(): the user wants the window.
        pause_toggled(bool): the user paused (True) or resumed sending.
        quit_requested(): the user chose Quit.
    """

    show_requested = Signal()
    pause_toggled = Signal(bool)
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = "ok"
        self.icon = QSystemTrayIcon(tray_icon("ok"), self)
        self.icon.setToolTip(TOOLTIPS["ok"])
        menu = QMenu()
        self.menu = menu
        show = QAction("Show gsmbridge", menu)
        show.triggered.connect(self.show_requested)
        self.pause = QAction("Pause sending", menu)
        self.pause.setCheckable(True)
        self.pause.toggled.connect(self.pause_toggled)
        quit_action = QAction("Quit", menu)
        quit_action.triggered.connect(self.quit_requested)
        menu.addAction(show)
        menu.addAction(self.pause)
        menu.addSeparator()
        menu.addAction(quit_action)
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(self._activated)

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_state(self, state: str, detail: str = "") -> None:
        if state != self.state:
            self.state = state
            self.icon.setIcon(tray_icon(state))
        self.icon.setToolTip(TOOLTIPS.get(state, "gsmbridge") + (f"\n{detail}" if detail else ""))

    def set_paused(self, paused: bool) -> None:
        self.pause.blockSignals(True)
        self.pause.setChecked(paused)
        self.pause.blockSignals(False)

    def notify(self, title: str, message: str, *, warning: bool = True) -> None:
        icon = (
            QSystemTrayIcon.MessageIcon.Warning
            if warning
            else QSystemTrayIcon.MessageIcon.Information
        )
        self.icon.showMessage(title, message, icon, 8000)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            emit(self.show_requested)
