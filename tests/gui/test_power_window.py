"""The window says what Windows' power plan would do (issue 14.5), injected on Linux:
power.running_on_windows() is True, kernel32 records SetThreadExecutionState, and
powercfg reports a plan that sleeps after 30 idle minutes on mains power."""

from __future__ import annotations

import threading

import pytest

from gsmbridge.core import power

POWERCFG = """\
    Power Setting GUID: 29f6c1db-86da-48c5-9fdb-f2b67b1f44da  (Sleep after)
      Current AC Power Setting Index: 0x00000708
      Current DC Power Setting Index: 0x00000384
"""


class RecordingKernel32:
    def __init__(self) -> None:
        self.flags: list[int] = []
        self.lock = threading.Lock()

    def SetThreadExecutionState(self, flags: int) -> int:  # noqa: N802 - the API's name
        with self.lock:
            self.flags.append(flags)
        return 0x80000000


@pytest.fixture
def windows_power(monkeypatch: pytest.MonkeyPatch) -> RecordingKernel32:
    fake = RecordingKernel32()
    monkeypatch.setattr(power, "running_on_windows", lambda: True)
    monkeypatch.setattr(power, "_load_kernel32", lambda: fake)
    monkeypatch.setattr(power, "_powercfg_output", lambda: POWERCFG)
    return fake


def test_kept_awake_shows_in_the_status_bar_and_settings(gui_factory, windows_power) -> None:
    gui = gui_factory()
    window = gui.window
    assert window.awake_label.isVisibleTo(window)
    assert "Windows would sleep after 30 min idle" in window.awake_label.toolTip()
    assert not window.power_banner.isVisibleTo(window)
    dialog = window.open_settings()
    assert not dialog.desktop.power_note.isHidden()  # on the Desktop page
    assert "gsmbridge keeps it awake" in dialog.desktop.power_note.text()
    dialog.reject()


def test_turning_keep_awake_off_shows_the_warning_at_once(
    gui_factory, windows_power, qtbot
) -> None:
    gui = gui_factory()
    window = gui.window
    dialog = window.open_settings()
    dialog.desktop.keep_awake.setChecked(False)
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        dialog.save()
    qtbot.waitUntil(lambda: window.power_banner.isVisibleTo(window), timeout=5000)
    assert "may fall asleep" in window.power_banner.title.text()
    assert "webhooks fail while it sleeps" in window.power_banner.message.text()
    assert "settings" in window.power_banner.buttons()
    assert not window.awake_label.isVisibleTo(window)
    assert windows_power.flags[-1] == power.ES_CONTINUOUS  # cleared, not just hidden


def test_started_with_keep_awake_off_warns(gui_factory, gui_settings, windows_power) -> None:
    gui_settings.server.keep_awake = False
    gui = gui_factory()
    window = gui.window
    assert window.power_banner.isVisibleTo(window)
    assert windows_power.flags == []


def test_nothing_shown_on_linux(gui) -> None:
    window = gui.window
    assert not window.awake_label.isVisibleTo(window)
    assert not window.power_banner.isVisibleTo(window)
