"""The main window's actions, toolbar and menus (kept apart: the window is long)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QToolBar

from gsmbridge.gui.views.user_guide import open_log_folder, show_user_guide

if TYPE_CHECKING:
    from gsmbridge.gui.views.main_window import MainWindow


def _keys(standard: QKeySequence.StandardKey, explicit: str) -> list[QKeySequence]:
    """Qt's standard Quit and Preferences keys are empty on Windows (no convention
    there): give the explicit ones, which Windows users also expect from other apps."""
    keys = QKeySequence.keyBindings(standard)
    if sys.platform == "win32" or not keys:
        return [QKeySequence(explicit)]
    return list(keys)


def add_actions(window: MainWindow) -> None:
    """Create ``window.act_*`` and put them in the toolbar and the menus."""
    window.act_pause = QAction("Pause sending", window)
    window.act_pause.setCheckable(True)
    window.act_pause.setToolTip("Stop sending SMS; webhooks are still accepted and queued")
    window.act_pause.toggled.connect(window.set_paused)
    window.act_settings = QAction("Settings…", window)
    window.act_settings.setShortcuts(_keys(QKeySequence.StandardKey.Preferences, "Ctrl+,"))
    window.act_settings.triggered.connect(window.open_settings)
    window.act_wizard = QAction("Setup wizard…", window)
    window.act_wizard.setToolTip("Credentials, modem, test SMS, tunnel and CometChat, step by step")
    window.act_wizard.triggered.connect(window.open_wizard)
    window.act_restart = QAction("Restart service", window)
    window.act_restart.triggered.connect(window.restart_service)
    window.act_quit = QAction("Quit", window)
    window.act_quit.setShortcuts(_keys(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
    window.act_quit.triggered.connect(window.request_quit)
    window.act_data = QAction("Open data folder", window)
    window.act_data.triggered.connect(
        lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(window.ctx.data_dir)))
    )
    toolbar = QToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)
    toolbar.addAction(window.act_pause)
    toolbar.addAction(window.queue.act_retry_failed)
    toolbar.addSeparator()
    toolbar.addAction(window.act_settings)
    window.addToolBar(toolbar)
    menu = window.menuBar().addMenu("&gsmbridge")
    menu.addAction(window.act_settings)
    menu.addAction(window.act_wizard)
    menu.addAction(window.act_restart)
    menu.addAction(window.act_data)
    menu.addSeparator()
    menu.addAction(window.act_quit)
    help_menu = window.menuBar().addMenu("&Help")
    window.act_guide = help_menu.addAction("User guide", lambda: show_user_guide(window))
    window.act_logs = help_menu.addAction(
        "Open log folder", lambda: open_log_folder(window, window.ctx.data_dir)
    )
    help_menu.addSeparator()
    help_menu.addAction("About gsmbridge", window.about)
