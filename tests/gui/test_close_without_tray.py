"""Closing the window where there is no system tray (GNOME without AppIndicator, Xvfb).

The offscreen platform has no tray, like those desktops.  The real question box is
answered by clicking its buttons; the app's real event loop (``QApplication.exec``)
runs where the question is whether the app quits.
"""

from __future__ import annotations

import http.client

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.gui.conftest import client_for, unique_payload

QUIT = "Quit gsmbridge (webhooks stop)"
KEEP = "Keep running (minimise)"
CANCEL = "cancel"


class DialogAnswerer:
    """Clicks a button of the next modal QMessageBox (polled: it opens inside closeEvent)."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.texts: list[str] = []
        self.timer = QTimer()
        self.timer.setInterval(20)
        self.timer.timeout.connect(self._poll)
        self.timer.start()

    def _poll(self) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        self.timer.stop()
        self.texts.append(f"{box.text()} {box.informativeText()}")
        if self.answer == CANCEL:
            button = box.button(QMessageBox.StandardButton.Cancel)
        else:
            button = next(b for b in box.buttons() if b.text() == self.answer)
        button.click()


@pytest.fixture
def no_tray_app(gui_factory, gui_settings):
    gui_settings.gui.close_to_tray = True  # the default: and yet there is no tray
    app = gui_factory(gui_settings)
    assert app.tray is None and app.ctx.running
    quits: list[bool] = []
    app.window.quit_requested.connect(lambda: quits.append(True))
    app.quits = quits
    return app


def webhook_status(app) -> int:
    status, _, body = client_for(app).post("/webhook", unique_payload())
    return status


def run_event_loop(steps, limit_ms: int = 20000) -> int:
    """QApplication.exec() with ``steps`` run inside it; 99 if it had to be ended."""
    QTimer.singleShot(0, steps)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(lambda: QApplication.instance().exit(99))
    guard.start(limit_ms)
    try:
        return QApplication.instance().exec()
    finally:
        guard.stop()


def test_keep_running_minimises_and_the_app_does_not_quit(no_tray_app):
    window = no_tray_app.window
    answerer = DialogAnswerer(KEEP)
    served: list[int] = []

    def steps() -> None:
        closed = window.close()
        # Still in the loop: no quit was posted; the webhook keeps taking notifications.
        served.append(int(closed))
        served.append(webhook_status(no_tray_app))
        QApplication.instance().exit(7)

    # exit() emits aboutToQuit, where the app stops for good (Windows' session end):
    # this loop is the test's harness, not a quit.
    QApplication.instance().aboutToQuit.disconnect(no_tray_app.shutdown)
    code = run_event_loop(steps)
    assert code == 7  # ended by the test, not by a quit (0)
    assert "no system tray" in answerer.texts[0] and "webhook stops" in answerer.texts[0]
    assert served[0] == 0  # close() refused
    assert served[1] in (200, 201, 202)
    assert window.isVisible() and window.isMinimized()
    assert not no_tray_app.quits and no_tray_app.ctx.running


def test_quit_stops_the_service(no_tray_app, monkeypatch):
    # Not inside exec(): a real quit (GuiApp.quit's, or Qt's own when the last window
    # closes) leaves this process's QApplication closing down for the later tests.
    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", staticmethod(lambda: quits.append(True)))
    answerer = DialogAnswerer(QUIT)
    port = no_tray_app.ctx.bridge.web.port
    assert no_tray_app.window.close() is True
    assert answerer.texts and quits  # GuiApp.quit ran: exec() returns, run() shuts down
    assert not no_tray_app.window.isVisible()
    no_tray_app.shutdown()  # what run() does once exec() returns
    assert not no_tray_app.ctx.running
    with pytest.raises(ConnectionRefusedError):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/health")


def test_cancel_leaves_the_window_as_it_was(no_tray_app):
    window = no_tray_app.window
    answerer = DialogAnswerer(CANCEL)
    assert window.close() is False
    assert answerer.texts
    assert window.isVisible() and not window.isMinimized()
    assert not no_tray_app.quits
    assert webhook_status(no_tray_app) in (200, 201, 202)


def test_close_to_tray_off_quits_without_asking(gui):
    assert not gui.ctx.settings.gui.close_to_tray
    answerer = DialogAnswerer(CANCEL)  # would keep the window if a question came
    quits: list[bool] = []
    gui.window.quit_requested.connect(lambda: quits.append(True))
    assert gui.window.close() is True
    answerer.timer.stop()
    assert quits and not answerer.texts


@pytest.mark.parametrize("how", ["signal", "session"])
def test_sigterm_and_logout_quit_without_asking(no_tray_app, how):
    """SIGTERM (run() installs request_quit as the handler) and the end of the session
    must never wait on a question nobody answers."""
    answerer = DialogAnswerer(CANCEL)
    if how == "signal":
        no_tray_app.window.request_quit()
    else:
        no_tray_app.session_ending()
    assert no_tray_app.window.close() is True
    answerer.timer.stop()
    assert not answerer.texts and no_tray_app.quits


def test_sigterm_handler_goes_through_the_window(no_tray_app, monkeypatch):
    import signal

    from gsmbridge.gui import app as app_module

    handlers: dict[int, object] = {}
    monkeypatch.setattr(
        signal, "signal", lambda signum, handler: handlers.update({signum: handler})
    )
    wakeup = app_module._SignalWakeup()
    wakeup.install(no_tray_app.window.request_quit)
    wakeup.timer.stop()
    handlers[signal.SIGTERM](signal.SIGTERM, None)
    assert no_tray_app.quits
    assert no_tray_app.window.close() is True  # accepted, no question
