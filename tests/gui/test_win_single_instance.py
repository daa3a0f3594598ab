"""A second launch on Windows (mandatory lock, injected) brings the first window forward."""

from __future__ import annotations

import argparse
import ctypes
import logging
import types
from pathlib import Path

import pytest

from gsmbridge.config import Settings
from gsmbridge.core.instance import LOCK_OFFSET, InstanceLock
from gsmbridge.gui import app as gui_app
from gsmbridge.gui import single_instance
from gsmbridge.gui.single_instance import ASFW_ANY, SingleInstance, server_name
from tests.core.test_instance_win import _Windows
from tests.core.test_instance_win import windows as windows_lock

windows = windows_lock  # the fixture, under the name the test asks for


def test_second_launch_on_windows_raises_the_first_window(
    qtbot, tmp_path: Path, settings: Settings, windows: _Windows, monkeypatch: pytest.MonkeyPatch
) -> None:
    allowed: list[int] = []
    user32 = types.SimpleNamespace(AllowSetForegroundWindow=allowed.append)
    monkeypatch.setattr(ctypes, "windll", types.SimpleNamespace(user32=user32), raising=False)
    monkeypatch.setattr(single_instance.sys, "platform", "win32")
    data_dir = tmp_path / "data"
    lock = InstanceLock(data_dir)
    lock.acquire()  # the first instance, in the tray
    first = SingleInstance(server_name(data_dir))
    assert first.listen()
    args = argparse.Namespace(config=tmp_path / "config.toml")
    try:
        with qtbot.waitSignal(first.activated, timeout=5000):
            assert gui_app.run(settings, data_dir, args) == 0
    finally:
        first.close()
        lock.release()
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_gsmbridge", False)]:
            root.removeHandler(handler)
            handler.close()
    # The second launch hands its foreground right to the first before asking.
    assert allowed == [ASFW_ANY]
    # Both launches locked past the pid; the second read it (no PermissionError).
    assert windows.calls == [(windows.LK_NBLCK, 1, LOCK_OFFSET)] * 2
