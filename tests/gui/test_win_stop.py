"""The desktop app stops for ``gsmbridge-cli stop`` and at the end of a Windows session."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from gsmbridge.core.instance import StopRequest


def test_cli_stop_request_quits_without_asking(qtbot, gui) -> None:
    with qtbot.waitSignal(gui.window.quit_requested, timeout=5000):
        StopRequest(gui.data_dir).request()
    assert gui.window._quitting  # the next close is accepted without a question
    assert not StopRequest(gui.data_dir).pending()  # removed: the next run is not stopped


def test_a_leftover_request_is_cleared_at_start(qtbot, gui_factory, tmp_path) -> None:
    data_dir = tmp_path / "leftover"
    StopRequest(data_dir).request()
    app = gui_factory(data_dir=data_dir)
    assert not StopRequest(data_dir).pending()
    with qtbot.assertNotEmitted(app.window.quit_requested, wait=1200):
        pass


def test_about_to_quit_stops_the_service_before_windows_ends_the_process(qtbot, gui) -> None:
    """At WM_ENDSESSION Qt emits aboutToQuit and Windows ends the process once it
    returns: the event loop never comes back to run the usual shutdown."""
    bridge = gui.ctx.bridge
    assert bridge.started
    app = QApplication.instance()
    assert app is not None
    app.aboutToQuit.emit()
    assert not bridge.started  # stopped in order, inside the signal
    assert bridge.web is None and bridge.sender is None
