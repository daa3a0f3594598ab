"""The main window's actions, and where they appear: the toolbar and the menus.

``WindowActions`` is a typed set of ``QAction``s wired to the window's slots; the
window owns one (``window.act``) and the tests and the tray reach the actions there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from gsmbridge.gui.views.dialogs.user_guide import open_log_folder, show_user_guide


class ActionTarget(Protocol):
    """What the actions drive: the main window's slots."""

    def set_paused(self, paused: bool) -> None: ...
    def open_settings(self) -> object: ...
    def open_wizard(self) -> object: ...
    def restart_service(self) -> None: ...
    def request_quit(self) -> None: ...
    def about(self) -> None: ...


def _keys(standard: QKeySequence.StandardKey, explicit: str) -> list[QKeySequence]:
    """Qt's standard Quit and Preferences keys are empty on Windows (no convention
    there): give the explicit ones, which Windows users also expect from other apps."""
    keys = QKeySequence.keyBindings(standard)
    if sys.platform == "win32" or not keys:
        return [QKeySequence(explicit)]
    return list(keys)


class WindowActions(QObject):
    """The window's actions: pause, settings, wizard, restart, quit, folders, help."""

    def __init__(self, window: QMainWindow, target: ActionTarget, data_dir: Path) -> None:
        super().__init__(window)
        self._window = window
        self._data_dir = data_dir
        self.pause = QAction("Pause sending", window)
        self.pause.setCheckable(True)
        self.pause.setToolTip("Stop sending SMS; webhooks are still accepted and queued")
        self.pause.toggled.connect(target.set_paused)
        self.settings = QAction("Settings…", window)
        self.settings.setShortcuts(_keys(QKeySequence.StandardKey.Preferences, "Ctrl+,"))
        self.settings.triggered.connect(target.open_settings)
        self.wizard = QAction("Setup wizard…", window)
        self.wizard.setToolTip("Credentials, modem, test SMS, tunnel and CometChat, step by step")
        self.wizard.triggered.connect(target.open_wizard)
        self.restart = QAction("Restart service", window)
        self.restart.triggered.connect(target.restart_service)
        self.quit = QAction("Quit", window)
        self.quit.setShortcuts(_keys(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.quit.triggered.connect(target.request_quit)
        self.data = QAction("Open data folder", window)
        self.data.triggered.connect(self.open_data_folder)
        self.guide = QAction("User guide", window)
        self.guide.triggered.connect(self.show_guide)
        self.logs = QAction("Open log folder", window)
        self.logs.triggered.connect(self.open_logs)
        self.about = QAction("About gsmbridge", window)
        self.about.triggered.connect(target.about)

    def install(self, *toolbar_extra: QAction) -> None:
        """Put the actions in the window's toolbar (with ``toolbar_extra`` after Pause)
        and menus."""
        window = self._window
        toolbar = QToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.addAction(self.pause)
        for action in toolbar_extra:
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.settings)
        window.addToolBar(toolbar)
        menu = window.menuBar().addMenu("&gsmbridge")
        for action in (self.settings, self.wizard, self.restart, self.data):
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.quit)
        help_menu = window.menuBar().addMenu("&Help")
        help_menu.addAction(self.guide)
        help_menu.addAction(self.logs)
        help_menu.addSeparator()
        help_menu.addAction(self.about)

    def open_data_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._data_dir)))

    def show_guide(self) -> None:
        show_user_guide(self._window)

    def open_logs(self) -> None:
        open_log_folder(self._window, self._data_dir)
