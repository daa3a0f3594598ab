"""Start-up and shut-down of the desktop app; ``run()`` is what ``gsmbridge`` calls.

Order at start: logging, the instance lock (a second launch activates the
first window and exits 0), the window (which opens even if the service does
not start: problems go in a banner), then the Bridge on the task pool.  At
exit: the event loop ends, tasks finish, the Bridge stops in order, the lock
is released.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox

from gsmbridge.config import ConfigError, Settings, default_config_path
from gsmbridge.core.instance import AlreadyRunning, DataDirUnusable, InstanceLock
from gsmbridge.gui.bridge import connect_queued
from gsmbridge.gui.context import AppContext
from gsmbridge.gui.icons import app_icon
from gsmbridge.gui.loghandler import QtLogHandler, install_qt_message_handler
from gsmbridge.gui.problems import explain_start_error
from gsmbridge.gui.single_instance import (
    SingleInstance,
    StopWatcher,
    activate_running,
    server_name,
)
from gsmbridge.gui.tray import Tray
from gsmbridge.gui.views.main_window import MainWindow
from gsmbridge.logs import attach, detach, setup_logging, stop_logging
from gsmbridge.service import Bridge

log = logging.getLogger(__name__)


class GuiApp(QObject):
    """Wires one window, the tray, the single-instance listener and the log handler
    to one AppContext.  Holds no logic of its own beyond start and stop.

    Signals: none.
    """

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        config_path: Path,
        bridge_factory: Callable[[Settings, Path], Bridge] | None = None,
        config_error: ConfigError | None = None,
        route_qt_messages: bool = True,
        use_tray: bool = True,
        first_run: bool = False,
    ) -> None:
        super().__init__()
        self.first_run = first_run  # no config file yet: the setup wizard opens
        self.data_dir = Path(data_dir)
        self.config_error = config_error
        self.log_handler = QtLogHandler()
        attach(self.log_handler)  # fed by the log thread: request threads never emit to Qt
        self._previous_qt_handler: Any = None
        self._routed_qt = route_qt_messages
        if route_qt_messages:
            self._previous_qt_handler = install_qt_message_handler()
        self.ctx = AppContext(
            settings, self.data_dir, config_path, bridge_factory=bridge_factory, parent=self
        )
        self.tray = Tray(self) if use_tray and Tray.available() else None
        self.window = MainWindow(self.ctx, self.log_handler, tray=self.tray)
        self.window.quit_requested.connect(self.quit)
        self.single = SingleInstance(server_name(self.data_dir), self)
        self.single.activated.connect(self.window.bring_to_front)
        self.stop_watcher = StopWatcher(self.data_dir, self)  # gsmbridge-cli stop
        self.stop_watcher.stop_requested.connect(self.window.request_quit)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            # With a tray, closing the window hides it; Quit is explicit.  Without one,
            # closing asks first (see MainWindow.closeEvent); a minimised window is open.
            app.setQuitOnLastWindowClosed(self.tray is None)
            # Logging out closes the windows after this signal: no question, no hiding.
            app.commitDataRequest.connect(self.session_ending)
            # On Windows the process is ended right after aboutToQuit at the end of the
            # session (WM_ENDSESSION): the event loop never returns, so stop here.
            app.aboutToQuit.connect(self.shutdown)
        self._shut_down = False

    def start(self, *, show: bool = True) -> None:
        self.single.listen()
        self.stop_watcher.start()
        if show:
            self.window.show()
        if self.tray is not None:
            self.tray.show()
        if self.config_error is not None:
            # In the log file and the Log tab too: stderr is nowhere a desktop user looks.
            for said in self.config_error.problems or (str(self.config_error),):
                log.warning("Configuration: %s", getattr(said, "message", said))
            problem = explain_start_error(
                self.config_error, self.ctx.settings, self.ctx.config_path
            )
            # The notice strip, not the start banner: a successful start must not hide it.
            self.window.notice.show_problem(problem)
            self.window.notice.action_triggered.connect(self.open_config_file)
            connect_queued(self.ctx.credentials_changed, self._config_credentials_applied)
            # The service still starts, on the file's valid values (never open while
            # its credentials cannot be read), so webhooks are not lost meanwhile.
        self.ctx.start_bridge()
        if self.first_run and show:
            QTimer.singleShot(0, self.window.open_wizard)  # once the window is on screen

    @Slot()
    def _config_credentials_applied(self) -> None:
        """The config watch took the fixed file's credentials: the notice must not go
        on saying that the webhook answers 401 to everyone."""
        if self.config_error is None or self.ctx.settings.auth.unreadable:
            return
        self.config_error = None
        self.window.notice.show_message(
            "The configuration file loads again",
            "Its webhook credentials are in use now.",
            "Quit gsmbridge and start it again to use the rest of the file too.",
            level="info",
        )

    @Slot(str)
    def open_config_file(self, action: str = "open-config") -> None:
        """The banner's Open the file: the config file in the user's editor."""
        if action != "open-config":
            return
        path = self.ctx.config_path
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            return
        # No program is registered for .toml (common on Windows): show its folder.
        folder = QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))
        log.warning(
            "No program opens %s%s; open it in a text editor such as Notepad",
            path,
            ": its folder is shown" if folder else "",
        )
        self.window.post(f"No program opens {path.name}; open it in a text editor")

    @Slot()
    def quit(self) -> None:
        QApplication.quit()

    @Slot(object)
    def session_ending(self, _manager: object = None) -> None:
        """The desktop session ends (logout, shutdown, an installer closing us): quit."""
        log.info("The desktop session is ending; quitting")
        self.window.request_quit()

    def shutdown(self) -> None:
        """Stop everything (after the event loop, or at the end of a test)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.window.hide()
        if self.tray is not None:
            self.tray.hide()
        self.single.close()
        self.stop_watcher.timer.stop()
        self.ctx.stop_now()
        detach(self.log_handler)
        if self._routed_qt:
            from PySide6.QtCore import qInstallMessageHandler

            qInstallMessageHandler(self._previous_qt_handler)
        self.window.deleteLater()


class _SignalWakeup(QObject):
    """Python runs signal handlers only between bytecodes; inside Qt's event loop
    that is when a Python slot runs.  A slow no-op timer gives SIGINT/SIGTERM
    their chance, so ``kill`` and Ctrl-C stop the app cleanly.

    Signals: none.
    """

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(250)
        self.timer.timeout.connect(self._tick)

    @Slot()
    def _tick(self) -> None:
        pass

    def install(self, quit_app: Callable[[], None] = QApplication.quit) -> None:
        """``quit_app`` must quit without asking (the window's request_quit)."""
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, _frame: object) -> None:
            log.info("Received %s, quitting", signal.Signals(signum).name)
            quit_app()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        self.timer.start()


def run(
    settings: Settings,
    data_dir: Path,
    args: argparse.Namespace | None = None,
    *,
    config_error: ConfigError | None = None,
) -> int:
    """Run the desktop app until Quit; return the process exit code."""
    data_dir = Path(data_dir)
    config_path = Path(getattr(args, "config", None) or default_config_path())
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName("gsmbridge")
    app.setApplicationDisplayName("gsmbridge")
    app.setDesktopFileName("gsmbridge")
    app.setWindowIcon(app_icon())

    # The lock before the log: a second launch must not open (and try to rotate) the
    # log file the first one writes.
    lock = InstanceLock(data_dir)
    try:
        lock.acquire()
    except DataDirUnusable as exc:
        print(f"gsmbridge: {exc}", file=sys.stderr)
        QMessageBox.critical(None, "gsmbridge cannot start", f"{exc}.")
        return 1
    except AlreadyRunning as exc:
        if activate_running(server_name(data_dir)):
            log.info("gsmbridge is already running; brought its window to the front")
            return 0
        # Locked, but no window answers: a headless gsmbridge holds this data directory.
        print(f"gsmbridge: {exc}", file=sys.stderr)
        QMessageBox.critical(
            None,
            "gsmbridge is already running",
            f"{exc}.\n\nIt may be running headless (as a service). Stop it first, or start "
            "this one with another --data-dir.",
        )
        return 1
    setup_logging(data_dir, settings.logging.level)
    gui = GuiApp(
        settings,
        data_dir,
        config_path=config_path,
        config_error=config_error,
        first_run=not config_path.exists(),
    )
    wakeup = _SignalWakeup()
    wakeup.install(gui.window.request_quit)  # a bare QApplication.quit() would ask first
    # --minimized (at login) starts in the tray; without a tray the window must show.
    hidden = bool(getattr(args, "minimized", False)) and gui.tray is not None
    try:
        gui.start(show=not hidden)
        code = app.exec()
    finally:
        gui.shutdown()
        lock.release()
        stop_logging()  # every line on disk before the process ends
    return int(code)
